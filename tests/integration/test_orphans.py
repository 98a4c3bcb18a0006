"""No orphans: every process a server started (Ray's GCS, raylet, agents, workers) ends with it.

A real ``python -m server`` with local Ray and a running 2-worker job. Its processes are
found precisely as the descendants of that server's PID while it runs (so nothing of the
other suites on this machine is ever touched), each remembered with its start time so a
reused PID is not mistaken for it.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from proto import descent_pb2 as pb


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state, start time) of ``pid``, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), fields[0], int(fields[19])


def _descendants(root: int) -> dict[int, int]:
    """{pid: start time} of every live descendant of ``root``."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            children.setdefault(stat[0], []).append(int(entry))
    found, todo = {}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            stat = _stat(child)
            if stat is not None and stat[1] != "Z":
                found[child] = stat[2]
                todo.append(child)
    return found


def _alive(processes: dict[int, int]) -> dict[int, int]:
    """The ones of ``processes`` still running (same PID, same start time, not a zombie)."""
    alive = {}
    for pid, started in processes.items():
        stat = _stat(pid)
        if stat is not None and stat[2] == started and stat[1] != "Z":
            alive[pid] = started
    return alive


def _argv(pid: int) -> list[str]:
    """The process's whole command line, one argument each ([] when it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [arg.decode(errors="replace") for arg in f.read().split(b"\0") if arg]
    except OSError:
        return []


def _name(pid: int) -> str:
    """What the process is: its program's file name (``/…/ray/gcs/gcs_server`` → ``gcs_server``), or the
    title Ray gives its Python processes (``ray::DashboardAgent``, ``ray::_RayTrainLoop.run``). Never a
    prefix of the command line: under a long checkout path the program name falls past any fixed width."""
    argv = _argv(pid)
    if not argv:
        return "?"
    return argv[0] if argv[0].startswith("ray::") else os.path.basename(argv[0])


def _is(name: str, what: str) -> bool:
    """``what`` is the program name, or a Ray title (an actor's title may go on with ``.method``)."""
    return name == what or (what.startswith("ray::") and name.startswith(what))


def _cmdline(pid: int) -> str:
    """For messages: the whole command line."""
    return " ".join(_argv(pid)) or "?"


def _wait_gone(processes: dict[int, int], within: float) -> dict[int, int]:
    deadline = time.monotonic() + within
    while (alive := _alive(processes)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive


@pytest.fixture
def running_server(server_factory):
    """A server with a 2-worker job RUNNING; yields (server, its processes)."""
    server = server_factory(num_cpus=2)
    processes: dict[int, int] = {}
    try:
        job = server.trainer.SubmitJob(
            pb.SubmitJobRequest(spec=pb.JobSpec(dataset="digits", workers=2, steps=10**8, lr=1e-6))
        )
        deadline = time.monotonic() + 120
        while job.state != pb.RUNNING and time.monotonic() < deadline:
            time.sleep(0.2)
            job = server.trainer.GetJob(pb.GetJobRequest(job_id=job.job_id))
        assert job.state == pb.RUNNING, job.message
        time.sleep(1)  # the raylet starts its agents beside the workers; let them all exist
        processes = _descendants(server.proc.pid)
        yield server, processes
    finally:
        server.stop()
        for pid in _alive(processes):  # only ever our own server's descendants
            os.kill(pid, signal.SIGKILL)


def test_nothing_a_killed_server_started_outlives_it_by_10_s(running_server):
    server, processes = running_server
    names = sorted(_name(pid) for pid in processes)
    # The tree really holds what must not be orphaned: Ray's daemons and the job's workers.
    for what in ("gcs_server", "raylet", "ray::DashboardAgent", "ray::RuntimeEnvAgent", "ray::_RayTrainLoop"):
        assert any(_is(name, what) for name in names), f"{what} not among the server's processes: {names}"

    server.proc.kill()  # SIGKILL the server alone, as a crash would
    server.proc.wait()
    left = _wait_gone(processes, within=10)
    assert not left, "alive 10 s after the server was killed: " + "; ".join(_cmdline(p) for p in left)


def test_sigterm_ends_the_server_and_everything_it_started_within_5_s(running_server):
    """Docker gives a container 10 s after SIGTERM; the server promises its whole tree in 5."""
    server, processes = running_server
    sent = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=60) == 0
    left = _wait_gone(processes, within=max(0.0, 5.0 - (time.monotonic() - sent)))
    assert not left, "alive 5 s after SIGTERM: " + "; ".join(_cmdline(p) for p in left)
