"""No orphans: every process a server started (Ray's GCS, raylet, agents, workers) ends with it.

A real ``python -m server`` with local Ray and a running 2-worker job. Its processes are
found precisely as the descendants of that server's PID while it runs (so nothing of the
other suites on this machine is ever touched), each remembered with its start time so a
reused PID is not mistaken for it.
"""

from __future__ import annotations

import signal
import time

import pytest

from proto import descent_pb2 as pb
from tests.process_tree import cmdline, descendants, kill_all, missing, wait_gone

#: What a server with a running job has started (its reaper included), and what must end with it.
CLUSTER = ("gcs_server", "raylet", "ray::DashboardAgent", "ray::RuntimeEnvAgent", "ray::_RayTrainLoop", "server.cluster.reaper")


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
        processes = descendants(server.proc.pid)
        yield server, processes
    finally:
        server.stop()
        kill_all(processes)  # only ever our own server's descendants


def test_nothing_a_killed_server_started_outlives_it_by_10_s(running_server):
    server, processes = running_server
    # The tree really holds what must not be orphaned: Ray's daemons and the job's workers.
    assert not missing(processes, CLUSTER), f"not among the server's processes: {missing(processes, CLUSTER)}"

    server.proc.kill()  # SIGKILL the server alone, as a crash would
    server.proc.wait()
    left = wait_gone(processes, within=10)
    assert not left, "alive 10 s after the server was killed: " + "; ".join(cmdline(p) for p in left)


def test_sigterm_ends_the_server_and_everything_it_started_within_5_s(running_server):
    """Docker gives a container 10 s after SIGTERM; the server promises its whole tree in 5."""
    server, processes = running_server
    sent = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=60) == 0
    left = wait_gone(processes, within=max(0.0, 5.0 - (time.monotonic() - sent)))
    assert not left, "alive 5 s after SIGTERM: " + "; ".join(cmdline(p) for p in left)
