"""Strategies #1 and #2 of the notes: candidate W drawn at random, judged by their loss. Pure math, no I/O.

Random search (#1) draws every candidate afresh, W = scale · randn; random local search
(#2) draws W + scale · randn around the current W. A candidate is named by its seed, so
a worker task can evaluate many candidates and the server rebuilds only the one it
keeps. ``accepts`` is the one rule both strategies keep W by: a candidate replaces the
current W only when its loss, on the same examples, is strictly lower.
"""

from __future__ import annotations

import numpy as np

from worker.svm import svm_loss

STRATEGIES = ("gradient", "random-search", "random-local-search")


def candidate_seed(job_seed: int, index: int) -> int:
    """The seed of the job's ``index``-th candidate (deterministic, independent streams)."""
    return int(np.random.SeedSequence([int(job_seed), int(index)]).generate_state(1, dtype=np.uint64)[0])


def candidate(base: np.ndarray | None, shape: tuple[int, ...], scale: float, seed: int, dtype: str = "float64") -> np.ndarray:
    """scale · randn(shape) (random search, ``base`` None) or base + scale · randn (local search), in ``dtype``."""
    step = scale * np.random.default_rng(seed).standard_normal(shape)
    out = step if base is None else np.asarray(base, dtype=np.float64) + step
    return out.astype(dtype)


def batch_loss(W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float, rows: np.ndarray | None) -> float:
    """The SVM loss of W on X[rows] (every example when rows is None), as float64."""
    if rows is not None:
        X, y = X[rows], y[rows]
    return float(svm_loss(W, X, y, reg))


def candidate_losses(
    X: np.ndarray, y: np.ndarray, seeds, *, base: np.ndarray | None, shape: tuple[int, ...], scale: float, reg: float,
    rows: np.ndarray | None, dtype: str = "float64",
) -> list[float]:
    """The loss on X[rows] of the candidate of each seed (one worker task's share of a round)."""
    if rows is not None:
        X, y = X[rows], y[rows]
    return [float(svm_loss(candidate(base, shape, scale, int(s), dtype), X, y, reg)) for s in seeds]


def accepts(current_loss: float, candidate_loss: float) -> bool:
    """Whether a candidate replaces the current W: only when its loss is strictly lower (never a rise)."""
    return bool(np.isfinite(candidate_loss) and candidate_loss < current_loss)
