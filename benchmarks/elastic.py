"""How fast an elastic job (``--workers MIN:MAX``) changes size, through one real server.

On one ``python -m server --num-cpus C`` (default 4), each repeat:

1. a rigid job holds C-1 CPUs; an elastic ``1:C`` job starts on the one left (CIFAR-shaped
   synthetic data, W = 10 × 3073 float32);
2. **join**: the rigid job is cancelled, which frees C-1 CPUs (on one machine the stand-in
   for a node joining); for every worker the elastic job adds, the seconds from the cancel
   to that worker's first applied push (``join_to_first_push_s``);
3. **loss**: one of its workers' processes is killed (kill -9, what a lost node does to
   it); the seconds until the worker leaves the job's membership (``loss_to_shrink_s``, from
   the membership history), and until the slot's replacement pushed (``loss_to_replaced_s``);
4. **scale**: ``ScaleJob`` to 2 workers; the seconds until it has 2 (``scale_to_shrink_s``);
5. **fair sharing**: a rigid job of C-1 workers is submitted, which needs the CPU the elastic
   job holds above its MIN; the seconds from its submit to RUNNING (``queued_job_start_s``).

Around each change the job's updates/s over a window (``--window`` s): ``updates_per_s``
``before_join``, ``after_join``, ``after_loss``, ``after_scale``. On a 2-core machine
throughput cannot rise with more workers (docs/benchmarks.md); on a larger host it shows
what a join buys. p50 and p90 of every latency over ``--repeats`` runs; raw runs are kept.

    python benchmarks/elastic.py [--cpus 4] [--repeats 3] [--window 2]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.served import Server  # noqa: E402
from proto import descent_pb2 as pb  # noqa: E402

DATASET = "synthetic:20000,3072,10"
POLL = 0.02


def _get(server: Server, job_id: str) -> pb.JobStatus:
    return server.stub.GetJob(pb.GetJobRequest(job_id=job_id))


def _until(condition, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(POLL)
    raise TimeoutError(f"not within {timeout} s")


def _rate(server: Server, job_id: str, window: float) -> float:
    """Updates/s of the job over ``window`` seconds from now."""
    start, t0 = _get(server, job_id).version, time.monotonic()
    time.sleep(window)
    return round((_get(server, job_id).version - start) / (time.monotonic() - t0), 1)


def _worker_pids(server: Server) -> list[int]:
    """The server's Ray processes (its session) running a training loop now."""
    sid, pids = os.getsid(server.proc.pid), []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.getsid(int(entry)) == sid and b"_RayTrainLoop" in Path(f"/proc/{entry}/cmdline").read_bytes():
                pids.append(int(entry))
        except (ProcessLookupError, FileNotFoundError, PermissionError):
            continue
    return pids


def one_run(server: Server, cpus: int, window: float) -> dict:
    submit = lambda **spec: server.stub.SubmitJob(pb.SubmitJobRequest(spec=pb.JobSpec(**spec))).job_id  # noqa: E731
    blocker = submit(dataset="digits", workers=cpus - 1, steps=10**9, lr=1e-6)
    _until(lambda: _get(server, blocker).state == pb.RUNNING)
    job = submit(dataset=DATASET, min_workers=1, max_workers=cpus, steps=10**9, lr=1e-6)
    _until(lambda: _get(server, job).version > 0)
    run: dict = {"updates_per_s": {"before_join": _rate(server, job, window)}}

    joined_before = {w.worker_id for w in _get(server, job).per_worker if w.steps}
    server.stub.CancelJob(pb.CancelJobRequest(job_id=blocker))
    freed, first_push = time.monotonic(), {}
    while len(first_push) < cpus - 1 and time.monotonic() - freed < 120:
        for worker in _get(server, job).per_worker:
            if worker.steps and worker.worker_id not in joined_before and worker.worker_id not in first_push:
                first_push[worker.worker_id] = round(time.monotonic() - freed, 3)
        time.sleep(POLL)
    run["join_to_first_push_s"] = sorted(first_push.values())
    run["updates_per_s"]["after_join"] = _rate(server, job, window)

    os.kill(_until(lambda: _worker_pids(server))[0], signal.SIGKILL)
    killed = time.time()
    left = _until(lambda: next((c for c in _get(server, job).membership if not c.joined and c.time > killed), None))
    run["loss_to_shrink_s"] = round(left.time - killed, 3)
    steps_at = lambda: {w.worker_id: w.steps for w in _get(server, job).per_worker}.get(left.worker_id, 0)  # noqa: E731
    before = steps_at()
    _until(lambda: steps_at() > before)
    run["loss_to_replaced_s"] = round(time.time() - killed, 3)  # the replacement's first push
    run["updates_per_s"]["after_loss"] = _rate(server, job, window)

    server.stub.ScaleJob(pb.ScaleJobRequest(job_id=job, workers=2))
    asked = time.monotonic()
    _until(lambda: _get(server, job).current_workers == 2)
    run["scale_to_shrink_s"] = round(time.monotonic() - asked, 3)
    run["updates_per_s"]["after_scale"] = _rate(server, job, window)

    queued = submit(dataset="digits", workers=cpus - 1, steps=10**9, lr=1e-6)  # needs the CPU above the job's MIN
    submitted = time.monotonic()
    _until(lambda: _get(server, queued).state == pb.RUNNING)
    run["queued_job_start_s"] = round(time.monotonic() - submitted, 3)
    for job_id in (queued, job):
        server.stub.CancelJob(pb.CancelJobRequest(job_id=job_id))
    _until(lambda: _get(server, job).state == pb.CANCELLED)
    return run


def _percentiles(values: list[float]) -> dict:
    return {"p50": round(float(np.percentile(values, 50)), 3), "p90": round(float(np.percentile(values, 90)), 3),
            "n": len(values)} if values else {"p50": None, "p90": None, "n": 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cpus", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--window", type=float, default=2.0, help="seconds over which updates/s is measured")
    args = parser.parse_args()
    server = Server(tempfile.mkdtemp(prefix="elastic-bench-"), args.cpus)
    try:
        runs = [one_run(server, args.cpus, args.window) for _ in range(args.repeats)]
    finally:
        server.close()
    report = {
        "benchmark": "elastic", "cpus": args.cpus, "dataset": DATASET, "repeats": args.repeats,
        "host_cpus": os.cpu_count(),
        "join_to_first_push_s": _percentiles([s for run in runs for s in run["join_to_first_push_s"]]),
        "loss_to_shrink_s": _percentiles([run["loss_to_shrink_s"] for run in runs]),
        "loss_to_replaced_s": _percentiles([run["loss_to_replaced_s"] for run in runs]),
        "scale_to_shrink_s": _percentiles([run["scale_to_shrink_s"] for run in runs]),
        "queued_job_start_s": _percentiles([run["queued_job_start_s"] for run in runs]),
        "updates_per_s": {key: float(np.median([run["updates_per_s"][key] for run in runs]))
                          for key in runs[0]["updates_per_s"]},
        "raw": runs,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
