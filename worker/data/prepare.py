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

Synthetic data is prepared from its stream of raw blocks (worker.data.stream): its
training split keeps the pool's order, its preprocessing is fitted block by block, and a
large training split can be built and held in blocks of rows (worker.data.rows.Rows).
"""

from collections.abc import Callable
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
from worker.data.preprocessing import (  # noqa: F401  (re-exported)
    THREE_WAY,
    VAL_FRACTION,
    VAL_MAX,
    fit_preprocessing,
    fit_rows,
    float_dtype,
    gather,
    preprocess,
    split_three_way,
    split_train_val,
    standardize,
)
from worker.data.rows import Rows, sample_batch  # noqa: F401  (sample_batch re-exported)
from worker.data.stream import prepare_stream


@dataclass(frozen=True, eq=False)
class Prepared:
    """A preprocessed data set: (N, D+1) feature arrays with the bias column, int64 labels.

    mean (D,) float64 and scale (float) are the preprocessing fitted on X_train. X_train is
    a worker.data.rows.Rows (blocks of rows read as one matrix) when it was built in blocks.
    """

    X_train: np.ndarray | Rows
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


class PreparationStopped(Exception):
    """``should_stop()`` turned true while a data set was being prepared (checked between blocks)."""


def between_blocks(should_stop: Callable[[], bool] | None) -> Callable[[], None]:
    """A check to call between two blocks of work: raises PreparationStopped once ``should_stop()`` is true."""

    def check() -> None:
        if should_stop is not None and should_stop():
            raise PreparationStopped("stopped while preparing the data set")

    return check


def _unchanged(name, array):
    return array


def _block_rows(rows, features, dtype, block_bytes):
    """Rows per block of a training split of ``rows`` x (features + 1) in dtype: all of them without a bound."""
    return rows if block_bytes is None else max(1, int(block_bytes) // ((features + 1) * dtype.itemsize))


def _standardized(X_pool, rows, dtype, mean, scale):
    out = gather(X_pool, rows, dtype)
    standardize(out, mean, scale)
    return out


def prepare(spec, seed, dtype="float32", keep_raw_test=False, *, block_bytes=None, keep=None, should_stop=None):
    """Load, split (deterministically from seed) and preprocess a data set: a Prepared.

    With keep_raw_test the Prepared also holds the test split's raw features (X_test_raw),
    the rows X_test was computed from, for exporting a model with its own test split.

    ``keep(name, array) -> array`` is handed each array as soon as it is final (name one of
    X_train, y_train, X_val, y_val, X_test, y_test; X_train once per block) and what it
    returns is held instead: server.cluster.data_cache stores each in the object store and holds
    the shared view, and the private array is gone before the next is built.
    ``block_bytes``: a training split larger than this is built, kept and held in blocks of
    at most this many bytes (for synthetic data, worker.data.stream); None: one array.
    The preprocessing is fitted block by block either way (``fit_rows``, ``Moments``), so
    the bound changes how the split is held, not one value in it.
    ``should_stop() -> bool`` is asked between blocks (of the raw stream, and before each array or
    block is kept): once true, PreparationStopped is raised (a cancelled job, a server stopping).
    """
    dtype = float_dtype(dtype)
    check = between_blocks(should_stop)
    keep_array = keep or _unchanged

    def keep(name, array):
        check()
        return keep_array(name, array)

    if block_bytes is not None and block_bytes < 1:
        raise ValueError(f"block_bytes must be at least 1, got {block_bytes}")
    load_rng, split_rng = np.random.default_rng(seed).spawn(2)
    kind, arg = parse_spec(spec)
    if kind == "synthetic":
        step = _block_rows(arg[0], arg[1], dtype, block_bytes)
        fields = prepare_stream(spec, arg, load_rng, split_rng, dtype, keep_raw_test, step, keep, check)
        return Prepared(name=spec.strip(), **fields)
    check()
    (X_pool, y_pool), test_pool, num_classes = load(spec, load_rng)
    check()
    if num_classes > MAX_CLASSES:
        raise ValueError(f"{spec.strip()[:200]}: labels go up to {num_classes - 1}; at most {MAX_CLASSES} classes")
    if test_pool is None:
        train, val, test = split_three_way(y_pool, split_rng)
        X_test_raw, y_test = X_pool, y_pool[test]
    else:
        train, val = split_train_val(y_pool, split_rng)
        X_test_raw, y_test = test_pool
        test = np.arange(len(y_test))

    mean, scale = fit_rows(X_pool, train, dtype)
    step = _block_rows(len(train), X_pool.shape[1], dtype, block_bytes)
    X_train = [keep("X_train", _standardized(X_pool, train[start:start + step], dtype, mean, scale))
               for start in range(0, len(train), step)]
    X_train = X_train[0] if len(X_train) == 1 else Rows(X_train)
    X_val = gather(X_pool, val, dtype)
    standardize(X_val, mean, scale)
    X_val = keep("X_val", X_val)
    X_test = gather(X_test_raw, test, dtype)
    standardize(X_test, mean, scale)
    X_test = keep("X_test", X_test)
    return Prepared(
        X_train=X_train, y_train=keep("y_train", y_pool[train]), X_val=X_val, y_val=keep("y_val", y_pool[val]),
        X_test=X_test, y_test=keep("y_test", y_test), num_classes=int(num_classes), name=spec.strip(),
        mean=mean, scale=scale, X_test_raw=X_test_raw[test] if keep_raw_test else None,
    )


def load_all(spec, seed):
    """Every example of a data set, train and test pools together: (X (N, D) raw, y (N,) int64).

    Synthetic data is drawn with the same generator prepare(spec, seed) would use.
    """
    load_rng, _ = np.random.default_rng(seed).spawn(2)
    (X, y), test_pool, _ = load(spec, load_rng)
    if test_pool is not None:
        X, y = np.concatenate([X, test_pool[0]]), np.concatenate([y, test_pool[1]])
    return X, y
