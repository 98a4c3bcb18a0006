"""What a linear multiclass SVM can reach on descent's own splits: the ceiling a tuned job is judged by.

On each data set's split exactly as a job sees it (worker.data.prepare with the job's seed:
the same train/val/test rows and preprocessing, the bias column included):

- scikit-learn's LinearSVC with the Crammer-Singer multiclass loss over a grid of C reaching far
  below 1e-3 (the bias column is a feature, so no separate intercept), the C chosen on validation;
- a long full-batch optimisation of descent's own loss (Weston-Watkins hinge + reg * |W|^2,
  worker.kernel) with Adam over a grid of reg, the reg chosen on validation;

and the standard error of a test accuracy, sqrt(p (1 - p) / n_test). Not a speed benchmark.

    python benchmarks/svm_ceiling.py [--datasets 'digits;mnist:DIR'] [--seed 0] [--steps 3000]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from worker.data.prepare import prepare  # noqa: E402
from worker.kernel import svm_loss_grad  # noqa: E402

C_GRID = (1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 1.0)
REG_GRID = (0.0, 1e-5, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
DEFAULT_DATASETS = f"digits;mnist:{ROOT.parent / 'shared' / 'data' / 'mnist'}"


def accuracy(W: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(X @ W.T, axis=1) == y))


def linear_svc(data) -> dict:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    rows = []
    for C in C_GRID:
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = LinearSVC(C=C, multi_class="crammer_singer", fit_intercept=False, max_iter=5000, random_state=0)
            model.fit(data.X_train, data.y_train)
        W = model.coef_
        rows.append({"C": C, "val": accuracy(W, data.X_val, data.y_val), "test": accuracy(W, data.X_test, data.y_test),
                     "seconds": round(time.perf_counter() - started, 2)})
    best = max(rows, key=lambda r: (r["val"], -r["C"]))
    return {"grid": rows, "best": best}


def full_batch(data, steps: int, lr: float) -> dict:
    """Adam on the full training split for ``steps`` steps per reg (float64)."""
    X, y = data.X_train.astype(np.float64), data.y_train
    rows = []
    for reg in REG_GRID:
        W = np.zeros((data.num_classes, X.shape[1]))
        m, v = np.zeros_like(W), np.zeros_like(W)
        for t in range(1, steps + 1):
            loss, dW = svm_loss_grad(W, X, y, reg)
            m = 0.9 * m + 0.1 * dW
            v = 0.999 * v + 0.001 * dW * dW
            step = lr * 0.5 * (1 + math.cos(math.pi * (t - 1) / steps))  # cosine to 0: the last steps settle
            W -= step * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        rows.append({"reg": reg, "loss": float(loss), "val": accuracy(W, data.X_val, data.y_val),
                     "test": accuracy(W, data.X_test, data.y_test)})
    best = max(rows, key=lambda r: (r["val"], r["reg"]))
    return {"steps": steps, "lr": lr, "optimizer": "adam, cosine", "grid": rows, "best": best}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=DEFAULT_DATASETS, help="';'-separated data set specs")
    parser.add_argument("--seed", type=int, default=0, help="the job seed whose split is measured")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--lr", type=float, default=0.01)
    args = parser.parse_args()
    report = {"seed": args.seed, "data": {}}
    for spec in [d for d in args.datasets.split(";") if d]:
        data = prepare(spec, args.seed, dtype="float64")
        n_test = len(data.y_test)
        svc = linear_svc(data)
        full = full_batch(data, args.steps, args.lr)
        p = svc["best"]["test"]
        report["data"][spec] = {
            "train": len(data.y_train), "val": len(data.y_val), "test": n_test,
            "test_standard_error": math.sqrt(p * (1 - p) / n_test),
            "linear_svc_crammer_singer": svc, "full_batch": full,
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
