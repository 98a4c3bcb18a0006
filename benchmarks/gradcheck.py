"""Full numerical gradient of a 10 x 3073 W on a 256-example batch: serial brute, distributed brute, incremental.

CIFAR-shaped synthetic data (3,072 features + bias, 10 classes, float64), a batch of
256 training examples, W = 1e-3 * randn (as in the notes), reg 1e-5, centered
differences with h = 1e-5, all 30,730 coordinates:

- serial brute: ``worker.fdiff.loss_changes(method="brute")`` in this process — the
  notes' eval_numerical_gradient, one whole-loss evaluation per coordinate and sign;
- distributed brute: the same coordinates in chunks as parallel Ray tasks on a local
  Ray cluster, through ``RayLauncher.imap_tasks`` exactly as the server runs a
  ``gradcheck --full --method brute`` (chunking from ``server.analyses.gradcheck.plan_tasks``);
- incremental: ``loss_changes(method="incremental")`` in this process (and, as an
  extra, distributed like the server runs it by default).

In-process runs use one BLAS thread, like each Ray task (Ray sets OMP_NUM_THREADS=1
for a 1-CPU task), so the speedups compare like with like. Rounds alternate the
methods; times are medians. The numbers are compared too: max |incremental - brute| /
max |brute| and the notes' relative error per coordinate.

    python benchmarks/gradcheck.py [--cpus 2] [--repeats 5] [--brute-repeats 1]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import blas_facts  # noqa: E402
from server.analyses.gradcheck import plan_tasks  # noqa: E402
from server.cluster.launcher import RayLauncher  # noqa: E402
from worker.data.prepare import prepare  # noqa: E402
from worker.data.rows import sample_batch  # noqa: E402
from worker.fdiff import loss_changes, numerical_from_changes  # noqa: E402
from worker.kernel import svm_loss_grad  # noqa: E402
from worker.numgrad import rel_error  # noqa: E402

DATASET = "synthetic:2560,3072,10"
BATCH, REG, H, SEED, INIT_SCALE = 256, 1e-5, 1e-5, 0, 1e-3


def serial(W, X, y, method: str) -> tuple[float, np.ndarray]:
    """Seconds and the centered numerical gradient, in this process with one BLAS thread."""
    flat = np.arange(W.size)
    with threadpool_limits(limits=1):
        start = time.perf_counter()
        changes = loss_changes(W, X, y, REG, flat, [H], method=method, minus=True)
        seconds = time.perf_counter() - start
    return seconds, numerical_from_changes(changes[0], H, "centered").reshape(W.shape)


def distributed(launcher: RayLauncher, W, X, y, method: str) -> tuple[float, np.ndarray, int]:
    """Seconds, the gradient and the task count, chunked over the Ray cluster as the server does it."""
    flat = np.arange(W.size)
    tasks = plan_tasks(len(flat), method, launcher.total_cpus())
    parts = np.array_split(flat, tasks)
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in parts])])
    changes = np.empty((1, 2, len(flat)))
    start = time.perf_counter()
    for i, part in launcher.imap_tasks(loss_changes, (W, X, y, REG), parts, hs=[H], method=method, minus=True):
        changes[:, :, offsets[i] : offsets[i + 1]] = part
    seconds = time.perf_counter() - start
    return seconds, numerical_from_changes(changes[0], H, "centered").reshape(W.shape), tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray cluster")
    parser.add_argument("--repeats", type=int, default=5, help="incremental runs per round")
    parser.add_argument("--brute-repeats", type=int, default=1, help="rounds (each runs both brute forces once)")
    args = parser.parse_args()

    data = prepare(DATASET, seed=SEED, dtype="float64")
    rng = np.random.default_rng(SEED)
    W = INIT_SCALE * rng.standard_normal((data.num_classes, data.num_features))
    X, y = sample_batch(data.X_train, data.y_train, BATCH, rng)
    X = np.ascontiguousarray(X)
    _, analytic = svm_loss_grad(W, X, y, REG)

    launcher = RayLauncher(num_cpus=args.cpus)
    runs: dict[str, list[float]] = {k: [] for k in ("serial_brute", "distributed_brute", "incremental", "distributed_incremental")}
    try:
        distributed(launcher, W, X, y, "incremental")  # warm-up: start Ray's worker processes
        for _ in range(args.brute_repeats):
            for _ in range(args.repeats):
                seconds, incremental = serial(W, X, y, "incremental")
                runs["incremental"].append(seconds)
            seconds, brute = serial(W, X, y, "brute")
            runs["serial_brute"].append(seconds)
            seconds, brute_ray, brute_tasks = distributed(launcher, W, X, y, "brute")
            runs["distributed_brute"].append(seconds)
            for _ in range(args.repeats):
                seconds, incremental_ray, incremental_tasks = distributed(launcher, W, X, y, "incremental")
                runs["distributed_incremental"].append(seconds)
        cpus = launcher.total_cpus()
    finally:
        launcher.shutdown()

    med = {k: statistics.median(v) for k, v in runs.items()}
    errors = rel_error(incremental, brute)
    print(
        json.dumps(
            {
                "serial_brute_s": round(med["serial_brute"], 3),
                "distributed_brute_s": round(med["distributed_brute"], 3),
                "incremental_s": round(med["incremental"], 4),
                "distributed_incremental_s": round(med["distributed_incremental"], 4),
                "speedup_incremental_vs_serial_brute": round(med["serial_brute"] / med["incremental"], 1),
                "speedup_distributed_vs_serial_brute": round(med["serial_brute"] / med["distributed_brute"], 2),
                "speedup_incremental_vs_distributed_brute": round(med["distributed_brute"] / med["incremental"], 1),
                "normwise_diff_incremental_vs_brute": float(np.abs(incremental - brute).max() / np.abs(brute).max()),
                "max_rel_error_incremental_vs_brute": float(errors.max()),
                "max_abs_diff_distributed_vs_serial_brute": float(np.abs(brute_ray - brute).max()),
                "max_abs_diff_distributed_vs_serial_incremental": float(np.abs(incremental_ray - incremental).max()),
                "max_rel_error_incremental_vs_analytic": float(rel_error(incremental, analytic).max()),
                "coordinates": int(W.size),
                "W_shape": list(W.shape),
                "batch_size": BATCH,
                "dataset": DATASET,
                "h": H,
                "reg": REG,
                "ray_cpus": cpus,
                "tasks": {"brute": brute_tasks, "incremental": incremental_tasks},
                "runs": runs,
                **blas_facts(),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
