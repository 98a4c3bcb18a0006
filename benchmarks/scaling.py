"""How training scales with workers and consistency mode, through one real parameter server.

For each consistency mode and workers = 1, 2, … up to ``--max-workers`` (default: this
machine's CPUs) it runs, on one ``python -m server`` with that many Ray CPUs:

- a throughput job on CIFAR-shaped synthetic data (W = 10 × 3073 float32, batch 256):
  aggregate ``updates_per_s`` (the job's steps ÷ its RUNNING seconds, which include
  placing the workers: 0.2–0.6 s here) and ``updates_per_s_steady`` (between the job's
  second curve point and its last: training alone), the server
  process's CPU µs per applied update (CPU-time slope while training, see
  benchmarks/served.py) and the staleness p50/p99 the job reports;
- a time-to-accuracy job on a learnable data set (the MNIST split by default): W is
  fetched every 0.2 s while it trains and scored on the validation split here;
  ``seconds_to_target`` is the time from RUNNING to the first W at ``--target``
  validation accuracy (null if never reached).

Each figure is the median of ``--repeats`` runs (raw runs are kept). Keys scripts can rely
on: ``runs``, a list of objects with ``consistency``, ``workers``, ``updates_per_s``,
``server_cpu_us_per_update``, ``staleness_p50``, ``staleness_p99``, ``seconds_to_target``.
``speedup`` (and ``speedup_steady``) is updates/s at each width ÷ at 1 worker, per mode. ``raw.submit_to_running_s``
shows the prepared-data cache at work: every throughput job after the first reuses the data
set (server.cluster.data_cache). docs/training.md ("Workers, consistency and scaling") says
how to read it; docs/benchmarks.md has today's figures.

    python benchmarks/scaling.py [--max-workers N] [--modes async,sync,ssp:1] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import blas_facts  # noqa: E402
from benchmarks.served import Server, steady_rate  # noqa: E402
from proto import descent_pb2  # noqa: E402
from worker.data.prepare import prepare  # noqa: E402
from worker.svm import accuracy  # noqa: E402

THROUGHPUT_DATASET = "synthetic:20000,3072,10"
MNIST = ROOT.parent / "shared" / "data" / "mnist"


def _median(values):
    values = [v for v in values if v is not None and not np.isnan(v)]
    return round(statistics.median(values), 3) if values else None


def _steps_for(mode: str, workers: int, steps: int) -> int:
    """``steps`` rounded up to a whole number of sync steps."""
    unit = workers if mode == "sync" else 1
    return -(-steps // unit) * unit


def measure(server: Server, mode: str, workers: int, args, val) -> dict:
    """One (mode, workers) cell: medians over repeats of the throughput and time-to-target jobs."""
    X_val, y_val = val
    rates, steady, cpus, p50s, p99s, times, starts = [], [], [], [], [], [], []
    for _ in range(args.repeats):
        spec = descent_pb2.JobSpec(
            dataset=THROUGHPUT_DATASET, workers=workers, steps=_steps_for(mode, workers, args.steps), lr=1e-3, reg=1e-3,
            batch_size=256, seed=0, consistency=mode,
        )
        result = server.run_job(spec)
        status = result["status"]
        rates.append(status.steps / status.seconds)
        steady.append(steady_rate(status))
        starts.append(result["submit_to_running_s"])
        cpus.append(result["server_cpu_s_per_update"] * 1e6)
        p50s.append(status.staleness_p50)
        p99s.append(status.staleness_p99)
        target = descent_pb2.JobSpec(
            dataset=args.target_dataset, workers=workers, steps=_steps_for(mode, workers, args.target_steps),
            lr=args.target_lr, reg=1e-4, batch_size=256, seed=0, consistency=mode,
        )
        result = server.run_job(target, on_weights=lambda W: accuracy(W, X_val, y_val) >= args.target)
        times.append(result["seconds_to_target"])
    return {
        "consistency": mode,
        "workers": workers,
        "updates_per_s": _median(rates),
        "updates_per_s_steady": _median(steady),
        "server_cpu_us_per_update": _median(cpus),
        "staleness_p50": _median(p50s),
        "staleness_p99": _median(p99s),
        "seconds_to_target": _median(times) if all(t is not None for t in times) else None,
        "raw": {
            "updates_per_s": [round(r, 1) for r in rates],
            "updates_per_s_steady": [round(r, 1) for r in steady],
            "server_cpu_us_per_update": [round(c, 1) for c in cpus],
            "seconds_to_target": [None if t is None else round(t, 2) for t in times],
            "submit_to_running_s": [round(t, 2) for t in starts],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-workers", type=int, default=os.cpu_count(), help="widest run (default: this machine's CPUs)")
    parser.add_argument("--modes", default="async,sync,ssp:1", help="comma-separated consistency modes")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10000, help="updates of each throughput job")
    parser.add_argument("--target-dataset", default=f"mnist:{MNIST}" if MNIST.is_dir() else "synthetic:20000,784,10")
    parser.add_argument("--target", type=float, default=0.85, help="validation accuracy to reach")
    parser.add_argument("--target-steps", type=int, default=4000)
    parser.add_argument("--target-lr", type=float, default=5e-3)
    args = parser.parse_args()

    data = prepare(args.target_dataset, seed=0, dtype="float32")
    val = (data.X_val, data.y_val)
    load_before = list(os.getloadavg())
    runs = []
    with tempfile.TemporaryDirectory() as state:
        server = Server(state, num_cpus=args.max_workers)
        try:
            server.run_job(descent_pb2.JobSpec(dataset=THROUGHPUT_DATASET, workers=1, steps=200))  # warm-up
            for mode in args.modes.split(","):
                for workers in range(1, args.max_workers + 1):
                    runs.append(measure(server, mode, workers, args, val))
        finally:
            server.close()
    speedup, speedup_steady = {}, {}
    for mode in args.modes.split(","):
        for key, out in (("updates_per_s", speedup), ("updates_per_s_steady", speedup_steady)):
            cells = {r["workers"]: r[key] for r in runs if r["consistency"] == mode}
            out[mode] = {str(w): round(rate / cells[1], 3) for w, rate in cells.items() if cells.get(1) and rate}
    print(json.dumps({
        "runs": runs,
        "speedup": speedup,
        "speedup_steady": speedup_steady,
        "throughput_dataset": THROUGHPUT_DATASET,
        "target_dataset": args.target_dataset,
        "target_val_accuracy": args.target,
        "repeats": args.repeats,
        "max_workers": args.max_workers,
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": list(os.getloadavg()),
        **blas_facts(),
    }, indent=1))


if __name__ == "__main__":
    main()
