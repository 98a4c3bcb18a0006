"""The notes' mini-batch argument, measured: how close a batch gradient is to the full one, and what it costs.

For each batch size B (1, 2, 4, ... and the whole training split), ``cosine_rows`` draws
batches of B examples the way training does (uniformly, with replacement; the full row
uses every example once) and reports the cosine similarity between the batch gradient
and the full-batch gradient at the same W: mean and standard deviation over the draws.
``time_rows`` times the vectorized ``svm_loss_grad`` at each size in the training dtype
(median of repeated calls) and divides by B: the time per example, which is large at
B = 1 (per-call overhead, matrix-vector work) and small once the GEMMs have rows to
amortise over. Non-powers of two near 256 test the notes' claim that powers of two are
faster. No I/O: the caller prints, plots or ships the rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from worker.data.rows import sample_batch
from worker.kernel import svm_loss_grad

#: Batch sizes measured by default below the full split: powers of two and a few around 256.
DEFAULT_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 192, 255, 256, 257, 320, 512, 1024)


@dataclass(frozen=True)
class MinibatchRow:
    """One batch size: cosine of batch vs full gradient (mean, std over draws) and µs per example."""

    batch_size: int
    cosine_mean: float
    cosine_std: float
    us_per_example: float
    full: bool = False


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two arrays seen as flat vectors (1.0 for equal directions); 0 if either is zero."""
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / norms) if norms > 0 else 0.0


def batch_sizes(num_examples: int, sizes=DEFAULT_SIZES) -> list[int]:
    """The sizes below ``num_examples``, sorted and unique, then ``num_examples`` itself (the full batch)."""
    if num_examples < 1:
        raise ValueError(f"need at least one example, got {num_examples}")
    return sorted({int(s) for s in sizes if 1 <= int(s) < num_examples}) + [num_examples]


def cosine_stats(W, X, y, reg: float, batch_size: int, draws: int, rng) -> tuple[float, float]:
    """Mean and std over ``draws`` batches of the cosine between batch and full gradient (float64).

    A batch of all len(y) examples is the full split itself (cosine 1, std 0).
    """
    W = np.asarray(W, dtype=np.float64)
    _, full = svm_loss_grad(W, X, y, reg)
    if batch_size >= len(y):
        return cosine(full, full), 0.0
    values = [cosine(svm_loss_grad(W, *sample_batch(X, y, batch_size, rng), reg)[1], full) for _ in range(draws)]
    return float(np.mean(values)), float(np.std(values))


def seconds_per_call(W, X, y, reg: float, batch_size: int, rng, repeats: int = 7, min_seconds: float = 0.02) -> float:
    """Median wall seconds of one ``svm_loss_grad`` on a batch of ``batch_size`` (in W's dtype)."""
    Xb, yb = sample_batch(X, y, batch_size, rng) if batch_size < len(y) else (X, y)
    Xb = np.ascontiguousarray(Xb, dtype=W.dtype)
    svm_loss_grad(W, Xb, yb, reg)  # warm up
    start, calls = time.perf_counter(), 0
    while calls < 3 or time.perf_counter() - start < min_seconds / repeats:
        svm_loss_grad(W, Xb, yb, reg)
        calls += 1
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(calls):
            svm_loss_grad(W, Xb, yb, reg)
        samples.append((time.perf_counter() - t) / calls)
    return float(np.median(samples))


def minibatch_rows(W, X, y, reg: float, sizes, draws: int, rng, dtype: str = "float32") -> list[MinibatchRow]:
    """One MinibatchRow per size in ``sizes`` (the last, len(y), is the full batch); time measured in ``dtype``."""
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    W64 = np.asarray(W, dtype=np.float64)
    X64 = np.asarray(X, dtype=np.float64)
    Wt, Xt = W64.astype(dtype), X64.astype(dtype)
    rows = []
    for size in sizes:
        mean, std = cosine_stats(W64, X64, y, reg, size, draws, rng)
        seconds = seconds_per_call(Wt, Xt, y, reg, size, rng)
        rows.append(MinibatchRow(int(size), mean, std, seconds / size * 1e6, full=size >= len(y)))
    return rows
