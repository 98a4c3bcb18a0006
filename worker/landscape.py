"""Loss landscapes of the notes: the SVM loss along a random line and over a random plane through W.

With random directions W1, W2 of W's shape, the line is L(W + a·W1) for a on an even grid
from -span to span, and the plane L(W + a·W1 + b·W2) on the grid of (a, b). For one
example the data loss is a sum of hinges max(0, m_j(a)) whose margins are linear in a,
so the line is piecewise linear with kinks where a margin crosses zero; averaged over
many examples it becomes a bowl. Grid rows are independent, so ``plane_rows`` evaluates
any subset of the a values (one Ray task per chunk). Pure math: no I/O.
"""

from __future__ import annotations

import numpy as np

from worker.svm import svm_loss

MAX_POINTS = 401


def grid(points: int, span: float) -> np.ndarray:
    """``points`` evenly spaced values from -span to span (float64); ValueError if bad."""
    if not 2 <= points <= MAX_POINTS:
        raise ValueError(f"points must be in [2, {MAX_POINTS}], got {points}")
    if not (np.isfinite(span) and span > 0):
        raise ValueError(f"span must be a positive finite number, got {span}")
    return np.linspace(-span, span, int(points))


def directions(W: np.ndarray, rng: np.random.Generator, norm: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Two standard normal directions of W's shape (float64), each scaled to Frobenius ``norm`` if given."""
    W1, W2 = rng.standard_normal(W.shape), rng.standard_normal(W.shape)
    if norm is not None:
        W1 *= norm / np.linalg.norm(W1)
        W2 *= norm / np.linalg.norm(W2)
    return W1, W2


def loss_at(W, X, y, reg: float) -> float:
    """The SVM loss at W (as float64)."""
    return float(svm_loss(W, X, y, reg))


def line_losses(W, W1, X, y, reg: float, a_values) -> np.ndarray:
    """L(W + a·W1) for each a (float64 array); W is not modified."""
    return np.array([loss_at(W + a * W1, X, y, reg) for a in np.asarray(a_values, dtype=np.float64)])


def plane_rows(W, W1, W2, X, y, reg: float, b_values, a_values) -> np.ndarray:
    """(len(a_values), len(b_values)) array of L(W + a·W1 + b·W2); W is not modified."""
    b_values = np.asarray(b_values, dtype=np.float64)
    out = np.empty((len(a_values), len(b_values)))
    for i, a in enumerate(np.asarray(a_values, dtype=np.float64)):
        moved = W + a * W1
        out[i] = [loss_at(moved + b * W2, X, y, reg) for b in b_values]
    return out
