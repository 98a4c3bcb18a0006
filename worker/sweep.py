"""The step-size sweep of the notes: the loss after one step along the negative gradient, per step size."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from worker.svm import svm_loss, svm_loss_grad


@dataclass(frozen=True)
class SweepResult:
    """``loss_original`` at W, then (step size, loss at W - step * dW) rows, and the best step size."""

    loss_original: float
    rows: tuple[tuple[float, float], ...]
    best_step_size: float


def step_size_sweep(
    W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float, first_exponent: int = -10, last_exponent: int = 3
) -> SweepResult:
    """Try step sizes 10**first_exponent, 10**(first_exponent+1), ... along -dW.

    Continues by decades until the loss has risen above the original loss (the
    step size has overshot), and stops at 10**last_exponent at the latest.
    W is not modified.
    """
    if first_exponent > last_exponent:
        raise ValueError(f"first exponent {first_exponent} is after last exponent {last_exponent}")
    loss_original, dW = svm_loss_grad(W, X, y, reg)
    rows = []
    for exponent in range(first_exponent, last_exponent + 1):
        step_size = 10.0**exponent
        loss = svm_loss(W - step_size * dW, X, y, reg)
        rows.append((step_size, float(loss)))
        if loss > loss_original:
            break
    best_step_size = min(rows, key=lambda row: row[1])[0]
    return SweepResult(float(loss_original), tuple(rows), best_step_size)
