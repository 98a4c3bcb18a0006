"""Placing a job's workers: a later job's workers run in Ray worker processes that already exist.

A worker is a Ray task (server.cluster.launcher): Ray hands it an idle, warm worker process —
one that ran an earlier job's worker — instead of starting a process for it, as it must
for an actor. A real server on a real local Ray cluster; the processes are read from /proc.
"""

from __future__ import annotations

from proto import descent_pb2 as pb
from tests.integration.test_durability import finish, get, ray_worker_pids, submit, wait_for

State = pb.JobState


def test_a_later_job_trains_in_worker_processes_that_already_existed(server_factory):
    server = server_factory(num_cpus=2)
    try:
        first = finish(server, submit(server, dataset="digits", workers=2, steps=300))
        assert State.Name(first.state) == "SUCCEEDED", first.message
        warm = set(ray_worker_pids(server, "ray::"))  # the session's Ray worker processes, idle now
        second = submit(server, dataset="digits", workers=2, steps=10_000_000, lr=1e-5)
        wait_for(lambda: get(server, second).version > 10 and len(ray_worker_pids(server)) == 2, timeout=120)
        training = ray_worker_pids(server)
        assert set(training) <= warm, f"workers {training} were started for the job; idle before it: {sorted(warm)}"
        server.trainer.CancelJob(pb.CancelJobRequest(job_id=second))
        assert State.Name(finish(server, second).state) == "CANCELLED"
    finally:
        assert server.stop() == 0
