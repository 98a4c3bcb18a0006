"""The gradient check as a guard: before a job trains, check its gradient on its first batch.

With ``check_gradient`` a job first compares the analytic gradient the workers will use
with the centered numerical one at GUARD_CHECKS random coordinates of the initial W, on
exactly the batch worker 0 draws first (the same seed, the same draw), in float64
whatever the job's dtype. It is a few dozen coordinates (incremental: milliseconds
even at CIFAR scale), so it runs in the job's own thread rather than as a Ray task. If
the check fails the job ends FAILED before any worker starts.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from worker.checks import CheckProblem, CheckReport, check
from worker.data.rows import sample_batch
from worker.kernel import svm_loss_grad

GUARD_CHECKS = 20


def first_batch_check(
    W: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int,
    reg: float,
    batch_seed: int,
    check_seed: int,
    grad_fn: Callable = svm_loss_grad,
) -> CheckReport:
    """Check ``grad_fn`` at W on the first batch drawn with ``batch_seed`` (W is not changed)."""
    Xb, yb = sample_batch(X, y, batch_size, np.random.default_rng(batch_seed))
    W64 = np.array(W, dtype=np.float64, copy=True)
    flat = np.random.default_rng(check_seed).choice(W64.size, size=min(GUARD_CHECKS, W64.size), replace=False)
    problem = CheckProblem(W=W64, X=np.asarray(Xb, dtype=np.float64), y=yb, reg=float(reg), flat=flat.astype(np.int64))
    return check(problem, grad_fn=grad_fn)


def refusal(report: CheckReport) -> str:
    """The job's FAILED message for a check that did not pass."""
    summary = report.summary
    return (
        f"gradient check on the first batch failed ({report.verdict.level}: max relative error "
        f"{summary.max_rel_error_smooth:.1e} over {summary.num_smooth} smooth coordinates, threshold "
        f"{summary.threshold:g}); not training. " + "; ".join(report.verdict.notes[1:-1])
    ).strip()
