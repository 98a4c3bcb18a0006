"""The tuned kernel of the training hot path: the SVM's loss and gradient in W's dtype, whose cost is
essentially its two GEMMs. It computes exactly the notes' formula (worker.svm.svm_loss_grad_notes
writes it as the notes do); the unit tests hold the two, and the naive loop, equal.

svm_loss_grad computes in W's dtype: float32 training stays float32. If X has another dtype it
is cast once to W's dtype (keep them equal on hot paths to avoid that copy).
"""

from functools import lru_cache

import numpy as np

from worker.svm import check_reg, validate


def svm_loss_grad(W, X, y, reg):
    """Return (loss, dW) of the multiclass SVM, fully vectorized, in W's dtype.

    The cost is essentially the two GEMMs: scores = X @ W.T and dW = coef.T @ X / N, each
    done in blocks of rows small enough to be "small" GEMMs (see _block_rows). X is cast
    once to W's dtype if it differs. Between the GEMMs each numpy call costs microseconds
    (the GEMMs have just streamed the batch through the cache), so the hinge takes as few
    calls as it can: it works on d = margin - 1 = s_j - s_{y_i}, which is exactly 0 at the
    correct class, so no entry needs zeroing before the sums.
    """
    validate(W, X, y)
    check_reg(reg)
    W, X, y = np.asarray(W), np.asarray(X), np.asarray(y)
    if X.dtype != W.dtype:
        X = X.astype(W.dtype)
    if y.dtype != np.intp:
        y = y.astype(np.intp)  # validated in [0, C): a uint64 label fits
    n, classes = X.shape[0], W.shape[0]
    at = _row_starts(n, classes) + y  # flat index of each example's correct-class score
    decay = W * (2 * reg) if reg else None  # while W is still in cache
    loss = reg * float(np.vdot(W, W))
    rows = _block_rows(n, classes, X.shape[1])
    d = _scores(X, W, rows)
    np.subtract(d, d.take(at)[:, None], out=d)
    np.maximum(d, -1, out=d)  # hinge - 1 where j != y_i, 0 at y_i: sum of hinges = sum(d) + n (C - 1)
    loss += (float(d.sum(dtype=np.float64)) + n * (classes - 1)) / n
    coef = np.greater(d, -1, out=d, casting="unsafe")  # 1 where the hinge is active (and at y_i)
    coef *= 1.0 / n
    correct = coef @ _ones(classes, coef.dtype)  # (active + 1) / n per example
    np.subtract(1.0 / n, correct, out=correct)  # -active / n
    coef.put(at, correct)
    dW = _weighted_rows(coef, X, rows)
    if decay is not None:
        dW += decay
    return loss, dW


#: The most multiply-adds of a GEMM that OpenBLAS (numpy's BLAS) runs with its small-matrix
#: kernel, which skips packing: on x86-64 (SkylakeX kernels) a 256 x 3073 by 3073 x 10 product
#: takes ~570 µs whole and ~400 µs as eight 32-row blocks, each block of X staying in L2.
SMALL_GEMM = 1_000_000


@lru_cache(maxsize=64)
def _block_rows(n, classes, columns):
    """Rows per block for the kernel's GEMMs: the largest power of two whose GEMM is small.

    n (one block, no blocking) where that is under 16 rows (blocks would be mostly call
    overhead, and a W that large gains nothing) or covers the whole batch. A function of the
    shapes only, so every process blocks a given step identically.
    """
    rows = 1 << max(0, (SMALL_GEMM // (classes * columns)).bit_length() - 1)
    return rows if 16 <= rows < n else n


def _scores(X, W, rows):
    """X @ W.T, computed `rows` rows of X at a time."""
    if rows >= X.shape[0]:
        return X @ W.T
    scores = np.empty((X.shape[0], W.shape[0]), dtype=W.dtype)
    WT = W.T
    for start in range(0, X.shape[0], rows):
        np.matmul(X[start : start + rows], WT, out=scores[start : start + rows])
    return scores


def _weighted_rows(coef, X, rows):
    """coef.T @ X, summed over blocks of `rows` rows."""
    if rows >= X.shape[0]:
        return coef.T @ X
    total = coef[:rows].T @ X[:rows]
    for start in range(rows, X.shape[0], rows):
        total += coef[start : start + rows].T @ X[start : start + rows]
    return total


@lru_cache(maxsize=16)
def _row_starts(n, classes):
    """0, C, 2C, ...: the flat offset of each row of an (n, C) array (read-only, cached)."""
    starts = np.arange(0, n * classes, classes)
    starts.flags.writeable = False
    return starts


@lru_cache(maxsize=16)
def _ones(classes, dtype):
    ones = np.ones(classes, dtype=dtype)
    ones.flags.writeable = False
    return ones
