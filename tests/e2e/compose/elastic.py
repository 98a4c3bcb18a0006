"""Compose scenario of an elastic job: worker containers join and leave while it trains. Used by run.py.

A ``--workers 1:6`` job starts on the default two worker nodes; ``DESCENT_WORKERS=4 docker
compose up -d --wait`` mid-job adds two nodes and the job's workers reach 4 within 15 s;
``docker kill`` of one of its worker containers makes it shrink (the worker leaves its
membership) and it goes on; it ends SUCCEEDED with exactly its steps. The cluster is left
with 4 worker nodes, as the scenario after it expects.
"""

from __future__ import annotations

import time

from tests.e2e.compose.engine import log, run

STEPS = 150_000
#: Seconds from `up --wait` returning to the job's 4th worker (the issue's bound).
GROW_WITHIN = 15.0


def check(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def _until(cluster, job_id: str, what, timeout: float, why: str) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = cluster.descent("status", job_id)
        check(status["state"] in ("PENDING", "QUEUED", "RUNNING"), f"job ended early: {status['state']} {status['message']}")
        if what(status):
            return status
        check(time.monotonic() < deadline, f"{why} not within {timeout} s: {status.get('current_workers')} workers")
        time.sleep(0.5)


def scenario(cluster, container_of_node) -> None:
    cluster.up(2)
    job = cluster.descent("train", "--dataset", "digits", "--workers", "1:6", "--steps", str(STEPS), "--lr", "1e-4",
                          "--detach")
    job_id = job["job_id"]
    _until(cluster, job_id, lambda s: s["current_workers"] == 2, 120, "2 workers on the default cluster")
    cluster.up(4)
    joined = time.monotonic()
    grown = _until(cluster, job_id, lambda s: s["current_workers"] == 4, 120, "4 workers after DESCENT_WORKERS=4")
    took = time.monotonic() - joined
    log(f"elastic job {job_id}: 4 workers {took:.1f} s after `up --wait` returned")
    check(took <= GROW_WITHIN, f"the job reached 4 workers {took:.1f} s after the nodes joined (bound {GROW_WITHIN} s)")

    victim = next(w for w in grown["per_worker"] if w["node_id"] and w["steps"] > 0)
    container = container_of_node(cluster, victim["node_id"])
    killed = time.time()
    log(f"docker kill {container[:12]} (node {victim['node_id'][:12]} of {victim['worker_id']})")
    run(["docker", "kill", container], env=cluster.env)
    _until(cluster, job_id, lambda s: any(c["change"] == "leave" and c["worker_id"] == victim["worker_id"]
                                          for c in s["membership"]), 60, "the killed worker's leave")
    after = cluster.descent("status", job_id)
    log(f"after the kill: {after['current_workers']} workers at {after['steps']} steps ({time.time() - killed:.1f} s)")

    final = cluster.descent("watch", job_id, timeout=900)
    log(f"elastic job {final['state']} at {final['steps']} steps; membership: "
        + "; ".join(f"{c['change']} {c['worker_id'][-3:]} ({c['reason'][:40]})" for c in final["membership"]))
    check(final["state"] == "SUCCEEDED", f"elastic job ended {final['state']}: {final['message']}")
    check(final["steps"] == STEPS and sum(w["steps"] for w in final["per_worker"]) == STEPS, "steps are not exact")
    cluster.up(4)  # the killed node's container back, for what follows
