"""Compose scenarios of durable jobs: the server crashes, restarts, or the whole cluster goes down and up.

Each scenario starts a job, interrupts the server mid-job, and checks that the job
comes back by itself (same id, ``restarts`` ≥ 1, resumed from a checkpoint) and ends
SUCCEEDED with exactly its step count. Used by run.py.
"""

from __future__ import annotations

import os
import signal
import time

from tests.e2e.compose.engine import log, run

STEPS = 40_000


def check(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def patient(cluster, *args: str, timeout: float = 180) -> dict | list:
    """A CLI call that waits out a server that is restarting (UNAVAILABLE meanwhile)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return cluster.descent(*args)
        except RuntimeError as error:
            if time.monotonic() > deadline:
                raise
            if "UNAVAILABLE" not in str(error) and "DEADLINE" not in str(error):
                raise
            time.sleep(2)


def start_job(cluster, steps: int = STEPS) -> str:
    job = cluster.descent("train", "--dataset", "digits", "--workers", "2", "--steps", str(steps), "--lr", "1e-3",
                          "--detach")
    return job["job_id"]


def wait_steps(cluster, job_id: str, steps: int, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while (status := patient(cluster, "status", job_id))["steps"] < steps:
        check(status["state"] in ("PENDING", "QUEUED", "RUNNING"), f"job ended early: {status['state']} {status['message']}")
        check(time.monotonic() < deadline, f"job {job_id} did not reach {steps} steps")
        time.sleep(1)
    return status


def finished_exactly(cluster, job_id: str, what: str) -> dict:
    deadline = time.monotonic() + 900
    while (final := patient(cluster, "status", job_id))["state"] not in ("SUCCEEDED", "FAILED", "CANCELLED"):
        check(time.monotonic() < deadline, f"{what}: job {job_id} still {final['state']} after 900 s")
        time.sleep(2)
    log(f"{what}: job {job_id} {final['state']}, {final['steps']} steps, restarts {final.get('restarts', 0)}, "
        f"resumed from {final.get('resumed_from', 0)}; {final['message']}")
    check(final["state"] == "SUCCEEDED", f"{what}: job ended {final['state']}: {final['message']}")
    check(final["steps"] == STEPS, f"{what}: {final['steps']} steps, expected exactly {STEPS}")
    check(sum(w["steps"] for w in final["per_worker"]) == STEPS, f"{what}: per-worker steps do not add up")
    check(final.get("restarts", 0) >= 1 and final.get("resumed_from", 0) > 0, f"{what}: the job was not resumed")
    return final


def server_pid(cluster) -> int:
    container = cluster.compose("ps", "-q", "server").stdout.split()[0]
    return int(run(["docker", "inspect", "-f", "{{.State.Pid}}", container], env=cluster.env).stdout.strip())


def sigkill_server(cluster) -> None:
    """SIGKILL the server process mid-job: the container comes back by itself and the job resumes."""
    job_id = start_job(cluster)
    status = wait_steps(cluster, job_id, 8_000)
    pid = server_pid(cluster)
    log(f"job {job_id} at {status['steps']} steps: kill -9 of the server process (host PID {pid})")
    os.kill(pid, signal.SIGKILL)
    finished_exactly(cluster, job_id, "after kill -9 of the server")


def restart_server(cluster) -> None:
    """`docker compose restart server` mid-job: SIGTERM checkpoints the job; the new server resumes it."""
    job_id = start_job(cluster)
    status = wait_steps(cluster, job_id, 8_000)
    log(f"job {job_id} at {status['steps']} steps: docker compose restart server")
    started = time.monotonic()
    cluster.compose("restart", "server", timeout=120)
    log(f"restart took {time.monotonic() - started:.1f} s")
    finished_exactly(cluster, job_id, "after docker compose restart server")


def down_then_up(cluster, workers: int) -> None:
    """`down` (volumes kept) then `up -d` with one finished and one running job: both listed, the running one resumed."""
    done = cluster.descent("train", "--dataset", "digits", "--workers", "1", "--steps", "300")
    check(done["state"] == "SUCCEEDED", "the short job failed")
    job_id = start_job(cluster)
    status = wait_steps(cluster, job_id, 8_000)
    log(f"job {job_id} at {status['steps']} steps: docker compose down (volumes kept), then up -d")
    cluster.compose("down", "--timeout", "20", timeout=300)
    cluster.up(workers)
    listed = {j["job_id"]: j for j in patient(cluster, "jobs")}
    check(done["job_id"] in listed and listed[done["job_id"]]["state"] == "SUCCEEDED", "the finished job is not listed")
    check(job_id in listed, "the running job is not listed after down/up")
    finished_exactly(cluster, job_id, "after down and up")


def scenario(cluster, workers: int) -> None:
    """All three, in order."""
    sigkill_server(cluster)
    restart_server(cluster)
    down_then_up(cluster, workers)

