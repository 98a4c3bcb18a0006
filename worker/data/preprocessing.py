"""Train/val/test splits and preprocessing, on arrays in memory (pure numpy, no I/O).

Splits are stratified by class and deterministic from the generator they are given.
Preprocessing is fitted on the training split only and applied in the training dtype
(``standardize``). worker.data.prepare.prepare fits it block by block (``fit_rows`` over gathered
rows, ``Moments`` over a stream), whether it then holds the split whole or in blocks, so
both hold the same values; ``fit_preprocessing`` is the same fit on one array in memory
(equal up to rounding).
"""

import numpy as np

THREE_WAY = (0.70, 0.15, 0.15)  # train / val / test fractions of a single pool
VAL_FRACTION, VAL_MAX = 0.10, 5000  # val carved from train when a test set exists
CHUNK_ROWS = 1024  # rows per block when copying or standardizing big arrays


def _class_grouped(y, rng):
    """Return a permutation of range(len(y)) sorted by class, random within each class."""
    perm = rng.permutation(len(y))
    return perm[np.argsort(y[perm], kind="stable")]


def _take_evenly(order, k, rng):
    """Pick k entries of order at evenly spaced positions (random phase): (picked, rest).

    On a class-grouped order this is stratified sampling: each class gets its share +-1.
    """
    positions = ((np.arange(k) + rng.random()) * (len(order) / k)).astype(np.int64)
    picked = np.zeros(len(order), dtype=bool)
    picked[positions] = True
    return order[picked], order[~picked]


def split_three_way(y, rng):
    """Return (train, val, test) index arrays: a stratified random 70/15/15 split of y."""
    n = len(y)
    if n < 3:
        raise ValueError(f"need at least 3 examples for a train/val/test split, got {n}")
    n_val, n_test = max(1, round(THREE_WAY[1] * n)), max(1, round(THREE_WAY[2] * n))
    val, rest = _take_evenly(_class_grouped(y, rng), n_val, rng)
    test, train = _take_evenly(rest, n_test, rng)
    return rng.permutation(train), rng.permutation(val), rng.permutation(test)


def split_train_val(y, rng):
    """Return (train, val) index arrays: a stratified random split, val 10% (<= 5,000)."""
    n = len(y)
    if n < 2:
        raise ValueError(f"need at least 2 examples for a train/val split, got {n}")
    n_val = max(1, min(VAL_MAX, round(VAL_FRACTION * n)))
    val, train = _take_evenly(_class_grouped(y, rng), n_val, rng)
    return rng.permutation(train), rng.permutation(val)


def gather(X, rows, dtype):
    """Return X[rows] cast to dtype with a bias column of ones appended, block by block."""
    out = np.empty((len(rows), X.shape[1] + 1), dtype=dtype)
    for start in range(0, len(rows), CHUNK_ROWS):
        block = rows[start:start + CHUNK_ROWS]
        out[start:start + len(block), :-1] = X[block]
    out[:, -1] = 1
    return out


def fit_preprocessing(X):
    """Return (mean (D,) float64, scale float) of raw training features X (N, D).

    scale is the std over all features after centering (1.0 if that is 0). Accumulates in
    float64 block by block, without a float64 copy of X.
    """
    mean = X.mean(axis=0, dtype=np.float64)
    total = 0.0
    for start in range(0, len(X), CHUNK_ROWS):
        block = X[start:start + CHUNK_ROWS].astype(np.float64) - mean
        total += float(np.vdot(block, block))
    std = float(np.sqrt(total / X.size))
    return mean, (std if std > 0 else 1.0)


def standardize(out, mean, scale):
    """In place: out[:, :-1] = (out[:, :-1] - mean) / scale, block by block."""
    mean = mean.astype(out.dtype)
    inv = out.dtype.type(1.0 / scale)
    for start in range(0, len(out), CHUNK_ROWS):
        block = out[start:start + CHUNK_ROWS, :-1]
        block -= mean
        block *= inv


def preprocess(X, mean, scale, dtype="float32"):
    """Return (X - mean) / scale in dtype with the bias column of ones appended: (N, D+1)."""
    out = gather(X, np.arange(len(X)), dtype)
    standardize(out, mean, scale)
    return out


def float_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def fit_rows(X, rows, dtype):
    """fit_preprocessing of X[rows] cast to dtype, fitted block by block (Moments) without gathering them all."""
    moments = Moments(X.shape[1])
    for start in range(0, len(rows), CHUNK_ROWS):
        moments.add(X[rows[start:start + CHUNK_ROWS]].astype(dtype))
    return moments.result()


class Moments:
    """``fit_preprocessing`` of rows that arrive block by block: the per-feature mean and the global std.

    Blocks are merged with Chan et al.'s pairwise update (mean and per-feature sum of
    squared deviations, in float64), so no block is centered on a mean not yet known.
    The result matches ``fit_preprocessing`` on the rows joined up to rounding, and is the
    same bit for bit for the same blocks in the same order.
    """

    def __init__(self, num_features):
        self.count = 0
        self.mean = np.zeros(num_features)
        self._squares = np.zeros(num_features)

    def add(self, rows):
        """Take in raw rows (m, D)."""
        m = len(rows)
        if m == 0:
            return
        block = rows.astype(np.float64)
        block_mean = block.mean(axis=0)
        block -= block_mean
        squares = np.einsum("ij,ij->j", block, block)
        delta = block_mean - self.mean
        total = self.count + m
        self.mean += delta * (m / total)
        self._squares += squares + delta * delta * (self.count * m / total)
        self.count = total

    def result(self):
        """(mean (D,) float64, scale float) as fit_preprocessing returns them; scale 1.0 when there is no spread."""
        if self.count == 0:
            raise ValueError("no rows to fit the preprocessing on")
        std = float(np.sqrt(self._squares.sum() / (self.count * len(self.mean))))
        return self.mean.copy(), (std if std > 0 else 1.0)
