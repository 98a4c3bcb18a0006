"""The SVM kernel against its two GEMMs alone: how much ``svm_loss_grad`` adds to the matrix products.

One worker step's math is ``svm_loss_grad(W, Xb, yb, reg)``: scores = Xb @ W.T, the hinge
and its coefficients, dW = coef.T @ Xb / N + 2 reg W. Its floor is the two GEMMs. The kernel
does them in blocks of rows small enough for OpenBLAS's small-GEMM path (worker.svm
``_block_rows``), which is faster than numpy's two whole-batch GEMMs. This times,
interleaved (kernel, GEMMs, the same GEMMs in the kernel's blocks, kernel, ...), one BLAS
thread as a 1-CPU Ray worker
runs (and with glibc keeping freed memory, as a worker does), the median µs of each over ``--repeats`` rounds
of ``--calls`` calls, for float32
W = 10 × 3073 and batch 256 (and float64 beside it), on a fresh random batch per round.
``ratio`` = kernel ÷ numpy's two whole-batch GEMMs; ``ratio_blocked_gemms`` = kernel ÷ the
same GEMMs in the kernel's blocks, i.e. what the hinge and the call overhead add (1.0: nothing).

    python benchmarks/kernel.py [--repeats 15] [--calls 200]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import blas_facts  # noqa: E402
from worker.kernel import _block_rows, _scores, _weighted_rows, svm_loss_grad  # noqa: E402
from worker.task.malloc import keep_freed_memory  # noqa: E402


def _per_call_us(fn, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6


def measure(dtype: str, batch: int, classes: int, dim: int, repeats: int, calls: int) -> dict:
    rng = np.random.default_rng(0)
    W = (1e-3 * rng.standard_normal((classes, dim))).astype(dtype)
    X_all = rng.standard_normal((batch * 8, dim)).astype(dtype)
    y_all = rng.integers(0, classes, batch * 8)
    rows = _block_rows(batch, classes, dim)
    kernel, gemms, blocked = [], [], []
    for r in range(repeats):
        idx = rng.integers(0, len(X_all), batch)
        X, y = X_all[idx], y_all[idx]
        coef = np.ones((batch, classes), dtype=dtype) / batch

        def two_gemms():
            X @ W.T
            coef.T @ X

        def two_blocked_gemms():
            _scores(X, W, rows)
            _weighted_rows(coef, X, rows)

        kernel.append(_per_call_us(lambda: svm_loss_grad(W, X, y, 1e-3), calls))
        gemms.append(_per_call_us(two_gemms, calls))
        blocked.append(_per_call_us(two_blocked_gemms, calls))
    k, g, b = statistics.median(kernel), statistics.median(gemms), statistics.median(blocked)
    return {
        "dtype": dtype, "batch": batch, "shape": [classes, dim], "block_rows": rows,
        "kernel_us": round(k, 1), "gemms_us": round(g, 1), "blocked_gemms_us": round(b, 1),
        "ratio": round(k / g, 3), "ratio_blocked_gemms": round(k / b, 3),
        "runs_kernel_us": [round(v, 1) for v in kernel], "runs_gemms_us": [round(v, 1) for v in gemms],
        "runs_blocked_gemms_us": [round(v, 1) for v in blocked],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    keep_freed_memory()  # as a worker process does
    with threadpool_limits(limits=1):
        results = [measure(dtype, 256, 10, 3073, args.repeats, args.calls) for dtype in ("float32", "float64")]
    print(json.dumps({
        "ratio": results[0]["ratio"], "ratio_blocked_gemms": results[0]["ratio_blocked_gemms"],
        "results": results, "repeats": args.repeats, "calls": args.calls,
        "load_average": list(os.getloadavg()), **blas_facts(),
    }, indent=1))


if __name__ == "__main__":
    main()
