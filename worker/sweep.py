"""The step-size sweep of the notes: the loss after one step along the negative gradient, per step size.

From the same W, with the gradient dW of the loss at W, the loss at W - s·dW is
evaluated for each step size s. Two ways to choose the step sizes:

- a range: ``points`` log-spaced values from ``step_min`` to ``step_max`` (all evaluated);
- open-ended (the notes' table): 1e-10, 1e-9, ... until the loss has risen above the
  original loss — the step size has overshot — and 1e3 at the latest.

The points are independent, so ``sweep_losses`` evaluates any subset of them (one Ray
task per chunk); ``finish`` puts the rows in order and names the best step size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from worker.kernel import svm_loss_grad
from worker.svm import svm_loss

#: The open-ended sweep's candidates: 1e-10, 1e-9, ..., 1e3.
DECADES = tuple(10.0**e for e in range(-10, 4))
MAX_POINTS = 1000


@dataclass(frozen=True)
class SweepResult:
    """``loss_original`` at W, then (step size, loss at W - step * dW) rows, and the best step size."""

    loss_original: float
    rows: tuple[tuple[float, float], ...]
    best_step_size: float


def step_sizes(step_min: float, step_max: float, points: int) -> np.ndarray:
    """``points`` log-spaced step sizes from step_min to step_max (both included); ValueError if bad."""
    for name, value in (("step_min", step_min), ("step_max", step_max)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive finite number, got {value}")
    if step_min >= step_max:
        raise ValueError(f"step_min ({step_min:g}) must be below step_max ({step_max:g})")
    if not 2 <= points <= MAX_POINTS:
        raise ValueError(f"points must be in [2, {MAX_POINTS}], got {points}")
    sizes = np.logspace(math.log10(step_min), math.log10(step_max), int(points))
    sizes = np.array([float(f"{s:.12g}") for s in sizes])  # 1e-05, not 9.999999999999999e-06
    sizes[0], sizes[-1] = step_min, step_max  # exactly the ends asked for
    return sizes


def sweep_direction(W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float) -> tuple[float, np.ndarray]:
    """The loss at W (as svm_loss computes it, like every row) and the gradient dW to step along."""
    _, dW = svm_loss_grad(W, X, y, reg)
    return float(svm_loss(W, X, y, reg)), dW


def sweep_losses(W: np.ndarray, dW: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float, sizes) -> np.ndarray:
    """The loss at W - s·dW for each step size s in ``sizes`` (float64 array). W is not modified."""
    return np.array([float(svm_loss(W - s * dW, X, y, reg)) for s in np.asarray(sizes, dtype=np.float64)])


def finish(loss_original: float, sizes, losses, open_ended: bool) -> SweepResult:
    """Rows in step-size order; open-ended sweeps end at the first loss above the original."""
    rows = []
    for s, loss in zip(np.asarray(sizes, dtype=np.float64).tolist(), np.asarray(losses, dtype=np.float64).tolist()):
        rows.append((s, loss))
        if open_ended and not loss <= loss_original:  # risen (or not finite): the step overshot
            break
    finite = [row for row in rows if math.isfinite(row[1])]
    best = min(finite, key=lambda row: row[1])[0] if finite else float("nan")
    return SweepResult(float(loss_original), tuple(rows), best)


def step_size_sweep(
    W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float, first_exponent: int = -10, last_exponent: int = 3
) -> SweepResult:
    """The open-ended sweep in this process: 10**first_exponent, ... until the loss rises (10**last_exponent at most).

    W is not modified.
    """
    if first_exponent > last_exponent:
        raise ValueError(f"first exponent {first_exponent} is after last exponent {last_exponent}")
    loss_original, dW = sweep_direction(W, X, y, reg)
    sizes = [10.0**e for e in range(first_exponent, last_exponent + 1)]
    return finish(loss_original, sizes, sweep_losses(W, dW, X, y, reg, sizes), open_ended=True)
