"""SIGTERM to a whole process group — what GNU ``timeout``, ``kill -TERM -- -PGID`` and a supervisor
send — ends everything of the cluster within 5 s: the server, Ray's GCS, raylet and agents, the
job's workers and the reaper.

Ray's daemons are in the server's group and get the signal too; the GCS, caught mid-way, used to
hang in "Stopping GCS server" for good once the reaper (also in the group) had died of the same
signal. Each command here starts in a session of its own, so the group signalled is this test's
alone; its processes are the descendants of that command, listed while the job runs.
"""

from __future__ import annotations

import os
import secrets
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from client.rpc.channel import open_channel
from proto import descent_pb2 as pb
from proto import descent_pb2_grpc
from tests.process_tree import cmdline, descendants, kill_all, missing, wait_gone
from tests.server_process import ROOT
from tests.stored import stored_states

#: What must be among the group's processes before the signal (and gone 5 s after it).
CLUSTER = ("gcs_server", "raylet", "ray::DashboardAgent", "ray::RuntimeEnvAgent", "ray::_RayTrainLoop", "server.cluster.reaper")

LONG_JOB = ("--dataset", "digits", "--workers", "2", "--steps", "100000000", "--lr", "1e-6")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DESCENT_SERVER", "DESCENT_TOKEN_FILE")}
    return {**env, **extra}


def _wait(condition, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {within:g} s"
        time.sleep(0.2)


def _assert_all_gone_5_s_after(send, processes: dict[int, int]) -> None:
    assert not missing(processes, CLUSTER), f"not among the group's processes: {missing(processes, CLUSTER)}"
    sent = time.monotonic()
    send()
    left = wait_gone(processes, within=5.0 - (time.monotonic() - sent))
    assert not left, "alive 5 s after SIGTERM to the group: " + "; ".join(cmdline(p)[:160] for p in left)


def test_sigterm_from_gnu_timeout_to_descent_serves_group_ends_the_whole_cluster(tmp_path: Path):
    token = secrets.token_urlsafe(24)
    command = subprocess.Popen(
        ["timeout", "600", sys.executable, "-m", "client.cli", "serve", "--port", "0", "--num-cpus", "2",
         "--state-dir", str(tmp_path / "state"), "--data-root", str(ROOT), "--announce"],
        cwd=ROOT, env=_env(DESCENT_TOKEN=token), stdout=subprocess.PIPE, stderr=open(tmp_path / "serve.log", "w"),
        text=True, start_new_session=True,
    )
    processes: dict[int, int] = {}
    try:
        ready, _, _ = select.select([command.stdout], [], [], 180)
        line = command.stdout.readline() if ready else ""
        assert "listening on" in line, f"descent serve did not start: {line!r}"
        channel = open_channel(line.rsplit(" ", 1)[1].strip(), token, None)
        trainer = descent_pb2_grpc.TrainerStub(channel)
        job = trainer.SubmitJob(pb.SubmitJobRequest(spec=pb.JobSpec(dataset="digits", workers=2, steps=10**8, lr=1e-6)))
        _wait(lambda: trainer.GetJob(pb.GetJobRequest(job_id=job.job_id)).state == pb.RUNNING, 120, "the job ran")
        channel.close()
        time.sleep(1)  # the raylet starts its agents beside the workers; let them all exist
        processes = descendants(command.pid)
        # GNU timeout passes SIGTERM to its command, then sends it to its whole group.
        _assert_all_gone_5_s_after(lambda: command.send_signal(signal.SIGTERM), processes)
        assert command.wait(timeout=10) == 0  # timeout, signalled before its time, exits as its command did: cleanly
    finally:
        if command.poll() is None:
            os.killpg(command.pid, signal.SIGKILL)
            command.wait()
        kill_all(processes)


def test_sigterm_to_an_embedded_trains_group_ends_the_whole_cluster(tmp_path: Path):
    state = tmp_path / "state"
    command = subprocess.Popen(
        [sys.executable, "-m", "client.cli", "train", *LONG_JOB, "--state-dir", str(state)],
        cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    processes: dict[int, int] = {}
    try:
        _wait(lambda: "RUNNING" in stored_states(state).values(), 120, "the job ran")
        time.sleep(1)
        processes = descendants(command.pid)
        _assert_all_gone_5_s_after(lambda: os.killpg(command.pid, signal.SIGTERM), processes)
        _, stderr = command.communicate(timeout=10)
        assert command.returncode == 128 + signal.SIGTERM, stderr
        assert "Traceback" not in stderr
    finally:
        if command.poll() is None:
            command.kill()
            command.wait()
        kill_all(processes)
