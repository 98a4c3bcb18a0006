"""Train/val/test splits, preprocessing and batch sampling of the data sets formats.datasets loads.

Data sets are named by spec strings (``digits``, ``mnist:DIR``, ``cifar10:DIR``,
``npz:FILE``, ``synthetic:N,D,C``); formats.datasets reads them raw, and the names it
defines are re-exported here (``parse_spec``, ``check_spec``, ``load``, ``read_idx``, ...).

Splits are stratified by class and deterministic from the seed. A data set with a
separate test set (MNIST train + t10k, CIFAR data_batch_* + test_batch) keeps it as the
test split and carves the validation split from the training pool: 10% of it, at most
5,000 examples. A single pool (digits, npz, synthetic, MNIST or CIFAR with only one of
the two parts) is split 70/15/15.

Preprocessing is fitted on the training split only: subtract the per-feature train mean,
divide by one global scalar (the train std over all features after centering, so one
learning rate suits every data set), then append the bias column of ones. Exactly, in the
training dtype: ``out = X.astype(dtype); out -= mean.astype(dtype); out *= dtype(1 / scale)``
(formats.model applies an exported model the same way, bit for bit).
"""

from dataclasses import dataclass

import numpy as np

from formats.datasets import (  # noqa: F401  (re-exported: the data layer's public names)
    _MNIST_PARTS,
    MAX_CLASSES,
    SPEC_FORMS,
    DatasetNotFound,
    check_spec,
    load,
    parse_spec,
    synthetic_stream,
)
from formats.idx import read_idx  # noqa: F401  (re-exported)

THREE_WAY = (0.70, 0.15, 0.15)  # train / val / test fractions of a single pool
VAL_FRACTION, VAL_MAX = 0.10, 5000  # val carved from train when a test set exists
_CHUNK_ROWS = 1024  # rows per block when copying or standardizing big arrays


@dataclass(frozen=True, eq=False)
class Prepared:
    """A preprocessed data set: (N, D+1) feature arrays with the bias column, int64 labels.

    mean (D,) float64 and scale (float) are the preprocessing fitted on X_train.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    name: str
    mean: np.ndarray
    scale: float
    #: The test split's raw features (N, D) as loaded, only from prepare(..., keep_raw_test=True).
    X_test_raw: np.ndarray | None = None

    @property
    def num_features(self):
        """D + 1, the number of columns of X (and of W)."""
        return self.X_train.shape[1]


# ---------------------------------------------------------------- splits and preprocessing


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


def _gather(X, rows, dtype):
    """Return X[rows] cast to dtype with a bias column of ones appended, block by block."""
    out = np.empty((len(rows), X.shape[1] + 1), dtype=dtype)
    for start in range(0, len(rows), _CHUNK_ROWS):
        block = rows[start:start + _CHUNK_ROWS]
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
    for start in range(0, len(X), _CHUNK_ROWS):
        block = X[start:start + _CHUNK_ROWS].astype(np.float64) - mean
        total += float(np.vdot(block, block))
    std = float(np.sqrt(total / X.size))
    return mean, (std if std > 0 else 1.0)


def _standardize(out, mean, scale):
    """In place: out[:, :-1] = (out[:, :-1] - mean) / scale, block by block."""
    mean = mean.astype(out.dtype)
    inv = out.dtype.type(1.0 / scale)
    for start in range(0, len(out), _CHUNK_ROWS):
        block = out[start:start + _CHUNK_ROWS, :-1]
        block -= mean
        block *= inv


def preprocess(X, mean, scale, dtype="float32"):
    """Return (X - mean) / scale in dtype with the bias column of ones appended: (N, D+1)."""
    out = _gather(X, np.arange(len(X)), dtype)
    _standardize(out, mean, scale)
    return out


def _float_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def prepare(spec, seed, dtype="float32", keep_raw_test=False):
    """Load, split (deterministically from seed) and preprocess a data set: a Prepared.

    With keep_raw_test the Prepared also holds the test split's raw features (X_test_raw),
    the rows X_test was computed from, for exporting a model with its own test split.
    """
    dtype = _float_dtype(dtype)
    load_rng, split_rng = np.random.default_rng(seed).spawn(2)
    kind, arg = parse_spec(spec)
    if kind == "synthetic":
        return _prepare_stream(spec, arg, load_rng, split_rng, dtype, keep_raw_test)
    (X_pool, y_pool), test_pool, num_classes = load(spec, load_rng)
    if num_classes > MAX_CLASSES:
        raise ValueError(f"{spec.strip()[:200]}: labels go up to {num_classes - 1}; at most {MAX_CLASSES} classes")
    if test_pool is None:
        train, val, test = split_three_way(y_pool, split_rng)
        X_test_raw, y_test = X_pool, y_pool[test]
    else:
        train, val = split_train_val(y_pool, split_rng)
        X_test_raw, y_test = test_pool
        test = np.arange(len(y_test))

    X_train = _gather(X_pool, train, dtype)
    mean, scale = fit_preprocessing(X_train[:, :-1])
    _standardize(X_train, mean, scale)
    X_val = _gather(X_pool, val, dtype)
    _standardize(X_val, mean, scale)
    X_test = _gather(X_test_raw, test, dtype)
    _standardize(X_test, mean, scale)
    return Prepared(
        X_train=X_train, y_train=y_pool[train], X_val=X_val, y_val=y_pool[val],
        X_test=X_test, y_test=y_test, num_classes=int(num_classes), name=spec.strip(),
        mean=mean, scale=scale, X_test_raw=X_test_raw[test] if keep_raw_test else None,
    )


def _prepare_stream(spec, shape, load_rng, split_rng, dtype, keep_raw_test):
    """prepare() for synthetic data, value for value, without the raw pool in memory.

    The labels come first, so the split is known before any features exist; each block of
    raw rows then goes straight to its rows in the splits. Peak memory: the prepared
    splits and one block, where loading the pool first would hold the pool beside them.
    """
    y_pool, num_classes, blocks = synthetic_stream(shape, load_rng)
    if num_classes > MAX_CLASSES:
        raise ValueError(f"{spec.strip()[:200]}: labels go up to {num_classes - 1}; at most {MAX_CLASSES} classes")
    splits = split_three_way(y_pool, split_rng)
    d = shape[1]
    outs = [np.empty((len(rows), d + 1), dtype=dtype) for rows in splits]
    raw_test = np.empty((len(splits[2]), d), dtype=np.float32) if keep_raw_test else None
    where = np.empty(len(y_pool), dtype=np.int8)  # which split each pool row goes to
    position = np.empty(len(y_pool), dtype=np.int64)  # and its row there
    for index, rows in enumerate(splits):
        where[rows] = index
        position[rows] = np.arange(len(rows))
    for start, block in blocks:
        here, at = where[start:start + len(block)], position[start:start + len(block)]
        for index, out in enumerate(outs):
            mine = here == index
            out[at[mine], :-1] = block[mine]
            if index == 2 and raw_test is not None:
                raw_test[at[mine]] = block[mine]
    X_train, X_val, X_test = outs
    mean, scale = fit_preprocessing(X_train[:, :-1])
    for out in outs:
        out[:, -1] = 1
        _standardize(out, mean, scale)
    train, val, test = splits
    return Prepared(
        X_train=X_train, y_train=y_pool[train], X_val=X_val, y_val=y_pool[val],
        X_test=X_test, y_test=y_pool[test], num_classes=int(num_classes), name=spec.strip(),
        mean=mean, scale=scale, X_test_raw=raw_test,
    )


def sample_batch(X, y, batch_size, rng):
    """Return (X[idx], y[idx]) for batch_size indices drawn uniformly WITH replacement.

    With replacement every step is an independent draw (no epoch state to share between
    asynchronous workers); rng is a np.random.Generator.
    """
    if batch_size < 1 or len(X) == 0 or len(X) != len(y):
        raise ValueError(f"need batch_size >= 1 and matching non-empty X {np.shape(X)}, y {np.shape(y)}; "
                         f"got batch_size {batch_size}")
    idx = rng.integers(0, len(X), size=batch_size)
    return X[idx], y[idx]


def load_all(spec, seed):
    """Every example of a data set, train and test pools together: (X (N, D) raw, y (N,) int64).

    Synthetic data is drawn with the same generator prepare(spec, seed) would use.
    """
    load_rng, _ = np.random.default_rng(seed).spawn(2)
    (X, y), test_pool, _ = load(spec, load_rng)
    if test_pool is not None:
        X, y = np.concatenate([X, test_pool[0]]), np.concatenate([y, test_pool[1]])
    return X, y
