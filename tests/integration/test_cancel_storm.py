"""A storm of cancels leaves no CPU taken: ten 2-worker jobs on a 6-CPU server, each cancelled at a
seeded random moment — at once, while it waits for or is placing its CPUs, mid-run, after its end —
and within 5 s of the last job's end every CPU is free, in the server's ClusterInfo and in Ray's own
view (a second driver joining the server's cluster: its free CPUs and its placement group table).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time

import grpc

from proto import descent_pb2 as pb
from tests.integration.test_durability import finish, get, submit
from tests.server_process import ROOT

State = pb.JobState
SEED = int(os.environ.get("DESCENT_STORM_SEED", "24"))  # another seed: DESCENT_STORM_SEED=N
CPUS, JOBS, WORKERS = 6, 10, 2
MOMENTS = ("at_once", "placing", "mid_run", "after_end")

# A second driver on the server's cluster: Ray's own free CPUs and its placement groups not yet removed.
RAY_VIEW = """
import json, logging, sys, ray
ray.init(address=sys.argv[1], logging_level=logging.ERROR, log_to_driver=False)
groups = [g for g in ray.util.placement_group_table().values() if g["state"] != "REMOVED"]
print(json.dumps({"free": ray.available_resources().get("CPU", 0.0), "total": ray.cluster_resources().get("CPU", 0.0),
                  "groups": [{"state": g["state"], "bundles": len(g["bundles"])} for g in groups]}))
"""


def _ray_view(address: str) -> dict:
    env = {**os.environ, "RAY_AUTH_MODE": "token"}  # the server's cluster wants the token Ray keeps for this user
    done = subprocess.run(
        [sys.executable, "-c", RAY_VIEW, address], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cancel(server, job_id: str) -> None:
    try:
        server.trainer.CancelJob(pb.CancelJobRequest(job_id=job_id))
    except grpc.RpcError as error:  # it ended first: nothing to cancel
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION, error.details()


def _storm_one(server, moment: str, delay: float, ids: list[str]) -> None:
    """Submit one job and cancel it at ``moment`` (``delay`` seconds into that moment)."""
    job_id = submit(server, dataset="digits", workers=WORKERS, lr=1e-6, steps=300 if moment == "after_end" else 10**8)
    ids.append(job_id)
    if moment == "placing":
        time.sleep(delay / 4)  # PENDING, QUEUED or reserving: at most a fraction of a second in
    elif moment == "mid_run":
        deadline = time.monotonic() + 120
        while get(server, job_id).state in (State.PENDING, State.QUEUED) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(delay)
    elif moment == "after_end":
        finish(server, job_id)
    _cancel(server, job_id)


def test_ten_cancels_at_random_moments_leave_every_cpu_free_within_5_s(server_factory):
    rng = random.Random(SEED)
    plan = [(MOMENTS[i % len(MOMENTS)], rng.uniform(0.0, 2.0), rng.uniform(0.0, 1.0)) for i in range(JOBS)]
    rng.shuffle(plan)
    server = server_factory(num_cpus=CPUS)
    ids: list[str] = []
    threads = []
    for moment, delay, start_after in plan:
        thread = threading.Thread(target=_storm_one, args=(server, moment, delay, ids))
        threads.append(thread)
        time.sleep(start_after)
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert len(ids) == JOBS, f"seed {SEED}: only {len(ids)} jobs submitted"
    finals = {job_id: finish(server, job_id) for job_id in ids}
    states = sorted(State.Name(status.state) for status in finals.values())
    assert set(states) <= {"CANCELLED", "SUCCEEDED"}, f"seed {SEED}: {states}"

    ended = time.monotonic()
    info = server.trainer.ClusterInfo(pb.ClusterInfoRequest())
    while info.available_cpus < CPUS and time.monotonic() - ended < 5.0:
        time.sleep(0.2)
        info = server.trainer.ClusterInfo(pb.ClusterInfoRequest())
    ray_view = _ray_view(info.ray_address)
    assert info.total_cpus == CPUS and info.available_cpus == CPUS, (
        f"seed {SEED}: {info.available_cpus:g} of {info.total_cpus:g} CPUs free 5 s after the storm; Ray: {ray_view}"
    )
    assert not info.workers, f"seed {SEED}: workers listed with no job running: {info.workers}"
    assert ray_view == {"free": CPUS, "total": CPUS, "groups": []}, f"seed {SEED}: Ray's own view {ray_view}"
