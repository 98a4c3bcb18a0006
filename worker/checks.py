"""Gradient check of the SVM loss at a random small W on one batch: the task a Ray worker runs."""

from __future__ import annotations

import numpy as np

from worker.data import sample_batch
from worker.numgrad import GradCheckResult, grad_check_sparse
from worker.svm import kink_mask, svm_loss, svm_loss_grad


def svm_gradient_check(
    X: np.ndarray,
    y: np.ndarray,
    num_classes: int,
    *,
    reg: float,
    checks: int,
    h: float,
    formula: str,
    seed: int,
    init_scale: float,
    batch_size: int,
) -> GradCheckResult:
    """Compare the analytic gradient with the numerical one on ``checks`` random coordinates.

    Runs in float64: W = init_scale * randn(C, D+1), a batch of ``batch_size``
    examples drawn from (X, y) with the seed.
    """
    rng = np.random.default_rng(seed)
    X = np.asarray(X, dtype=np.float64)
    W = init_scale * rng.standard_normal((num_classes, X.shape[1]))
    Xb, yb = sample_batch(X, y, min(batch_size, len(y)), rng)
    _, analytic = svm_loss_grad(W, Xb, yb, reg)
    return grad_check_sparse(
        lambda W_: svm_loss(W_, Xb, yb, reg),
        W,
        analytic,
        checks,
        rng,
        h=h,
        formula=formula,
        kink_fn=lambda coords, h_: kink_mask(W, Xb, yb, coords, h_),
    )
