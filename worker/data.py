"""Data sets by spec string, train/val/test splits, preprocessing and batch sampling.

Specs (see SPEC_FORMS):

- ``digits``: scikit-learn's bundled 8x8 digits (1,797 images, 10 classes), offline.
- ``mnist:DIR``: IDX files ``{train,t10k}-{images-idx3,labels-idx1}-ubyte`` (optionally
  ``.gz``; the ``train-images.idx3-ubyte`` dot spelling is accepted too).
- ``cifar10:DIR``: CIFAR-10 "python version" batches ``data_batch_N`` and ``test_batch``.
- ``npz:FILE``: arrays ``X`` (N, D...) and ``y`` (N,) integer labels.
- ``synthetic:N,D,C``: class-dependent Gaussian means plus unit Gaussian noise, float32,
  deterministic from the seed.

Splits are stratified by class and deterministic from the seed. A data set with a
separate test set (MNIST train + t10k, CIFAR data_batch_* + test_batch) keeps it as the
test split and carves the validation split from the training pool: 10% of it, at most
5,000 examples. A single pool (digits, npz, synthetic, MNIST or CIFAR with only one of
the two parts) is split 70/15/15.

Preprocessing is fitted on the training split only: subtract the per-feature train mean,
divide by one global scalar (the train std over all features after centering, so one
learning rate suits every data set), then append the bias column of ones.
"""

import gzip
import pickle
import re
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SPEC_FORMS = ("digits", "mnist:DIR", "cifar10:DIR", "npz:FILE", "synthetic:N,D,C")
THREE_WAY = (0.70, 0.15, 0.15)  # train / val / test fractions of a single pool
VAL_FRACTION, VAL_MAX = 0.10, 5000  # val carved from train when a test set exists
SYNTHETIC_SEPARATION = 3.0  # class means ~ N(0, (3 / sqrt(D))^2 I): distance ~4.2 noise sds
SYNTHETIC_MAX_VALUES = 600_000_000  # N * D cap (~4x CIFAR-10, 2.4 GB of float32)
_CHUNK_ROWS = 1024  # rows per block when copying or standardizing big arrays

_MNIST_PARTS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# IDX type codes: https://yann.lecun.com/exdb/mnist/ (multi-byte types are big-endian).
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class DatasetNotFound(FileNotFoundError):
    """A data set's directory or file does not exist (the message names the path)."""


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

    @property
    def num_features(self):
        """D + 1, the number of columns of X (and of W)."""
        return self.X_train.shape[1]


def _bad_spec(spec, why):
    forms = ", ".join(SPEC_FORMS)
    return ValueError(f"bad data set spec {spec!r}: {why}; accepted forms: {forms}")


def parse_spec(spec):
    """Return (kind, arg) for a spec without touching the disk; ValueError if malformed.

    arg is None for digits, a Path for mnist/cifar10/npz, a tuple (N, D, C) for synthetic.
    """
    if not isinstance(spec, str):
        raise _bad_spec(spec, "not a string")
    kind, sep, arg = spec.strip().partition(":")
    kind, arg = kind.strip().lower(), arg.strip()
    if kind == "digits":
        if sep:
            raise _bad_spec(spec, "digits takes no argument")
        return kind, None
    if kind in ("mnist", "cifar10", "npz"):
        if not arg:
            raise _bad_spec(spec, f"{kind} needs a path")
        return kind, Path(arg).expanduser()
    if kind == "synthetic":
        parts = arg.split(",")
        try:
            n, d, c = (int(p) for p in parts)
        except ValueError:
            raise _bad_spec(spec, "synthetic needs three integers N,D,C") from None
        if n < 3 or d < 1 or c < 2:
            raise _bad_spec(spec, f"synthetic needs N >= 3, D >= 1, C >= 2, got N={n} D={d} C={c}")
        if n * d > SYNTHETIC_MAX_VALUES:
            raise _bad_spec(spec, f"synthetic N*D = {n * d} exceeds {SYNTHETIC_MAX_VALUES}")
        return kind, (n, d, c)
    raise _bad_spec(spec, f"unknown data set {kind!r}")


def check_spec(spec):
    """Validate a spec and that its path exists, without loading; return (kind, arg).

    Raises ValueError for a malformed spec, DatasetNotFound for a missing path or files.
    """
    kind, arg = parse_spec(spec)
    if kind == "mnist":
        _mnist_files(arg)
    elif kind == "cifar10":
        _cifar_files(arg)
    elif kind == "npz" and not arg.is_file():
        raise DatasetNotFound(f"npz file not found: {arg}")
    return kind, arg


def preload() -> None:
    """Import what the bundled ``digits`` loader needs (scikit-learn, ~1 s) ahead of the first job."""
    import sklearn.datasets  # noqa: F401


# ---------------------------------------------------------------- loaders
# Each returns (train_pool, test_pool or None, num_classes); a pool is (X (N, D), y (N,)).


def _load_digits(_arg, _rng):
    from sklearn.datasets import load_digits  # lazy: importing sklearn takes ~1 s

    digits = load_digits()
    return (digits.data, digits.target.astype(np.int64)), None, 10


def _require_dir(directory, what):
    if not directory.is_dir():
        raise DatasetNotFound(f"{what} directory not found: {directory}")


def _find_file(directory, name):
    for stem in (name, name.replace("-idx", ".idx")):
        for suffix in ("", ".gz"):
            path = directory / (stem + suffix)
            if path.is_file():
                return path
    return None


def _mnist_files(directory):
    """Return {"train"|"test": (images_path, labels_path)} for the parts present."""
    _require_dir(directory, "mnist")
    found = {}
    for part, names in _MNIST_PARTS.items():
        paths = [_find_file(directory, name) for name in names]
        if any(paths) and not all(paths):
            missing = names[paths.index(None)]
            raise DatasetNotFound(f"mnist: {missing}[.gz] missing in {directory}")
        if all(paths):
            found[part] = tuple(paths)
    if not found:
        expected = ", ".join(n for names in _MNIST_PARTS.values() for n in names)
        raise DatasetNotFound(f"mnist: no IDX files in {directory} (expected {expected}, optionally .gz)")
    return found


def read_idx(path):
    """Read an IDX file (plain or gzip) into an array of its declared dtype and dims.

    Raises ValueError naming the file for a bad magic number, unknown type code, or a
    payload whose size does not match the header.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as err:
        raise ValueError(f"{path}: not a readable IDX file ({err})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: bad IDX magic number {raw[:4].hex()!r}")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES or ndim == 0:
        raise ValueError(f"{path}: bad IDX header (type code 0x{code:02x}, {ndim} dims)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(f"{path}: IDX dims {dims} need {expected} data bytes, file has {len(raw) - header}")
    array = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=False)


def _read_mnist_part(images_path, labels_path):
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim < 2 or labels.ndim != 1:
        raise ValueError(f"mnist: {images_path} has dims {images.shape}, {labels_path} has dims "
                         f"{labels.shape}; expected images (N, ...) and labels (N,)")
    if len(images) != len(labels):
        raise ValueError(f"mnist: {len(images)} images in {images_path} but {len(labels)} labels in {labels_path}")
    if labels.dtype.kind not in "iu" or (len(labels) and labels.min() < 0):
        raise ValueError(f"mnist: labels in {labels_path} must be integers >= 0, got {labels.dtype}")
    return images.reshape(len(images), -1), labels.astype(np.int64)


def _load_mnist(directory, _rng):
    files = _mnist_files(directory)
    parts = {part: _read_mnist_part(*paths) for part, paths in files.items()}
    pools = [parts.get("train"), parts.get("test")]
    if pools[0] is None:
        pools = [pools[1], None]
    if pools[1] is not None and pools[0][0].shape[1] != pools[1][0].shape[1]:
        raise ValueError(f"mnist: train images have {pools[0][0].shape[1]} features, t10k {pools[1][0].shape[1]}")
    num_classes = 1 + max(int(y.max(initial=0)) for _, y in filter(None, pools))
    return pools[0], pools[1], num_classes


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that only rebuilds numpy arrays: CIFAR batches need nothing else, and a
    pickle from an arbitrary directory must not be able to run arbitrary code."""

    _ALLOWED = {
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
        *((mod, name) for mod in ("numpy.core.multiarray", "numpy._core.multiarray")
          for name in ("_reconstruct", "scalar")),
        *((mod, "_frombuffer") for mod in ("numpy.core.numeric", "numpy._core.numeric")),
    }

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR batch")
        return super().find_class(module, name)


def _cifar_files(directory):
    """Return (sorted data_batch_N paths, test_batch path or None); at least one exists."""
    _require_dir(directory, "cifar10")
    batches = sorted(
        (p for p in directory.iterdir() if re.fullmatch(r"data_batch_\d+", p.name) and p.is_file()),
        key=lambda p: int(p.name.rsplit("_", 1)[1]),
    )
    test = directory / "test_batch"
    test = test if test.is_file() else None
    if not batches and test is None:
        raise DatasetNotFound(f"cifar10: no data_batch_N or test_batch in {directory}")
    return batches, test


def _read_cifar_batch(path):
    try:
        with open(path, "rb") as f:
            batch = _ArrayUnpickler(f, encoding="bytes").load()
        data, labels = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"])
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as err:
        raise ValueError(f"cifar10: {path} is not a CIFAR-10 python batch ({err!r})") from None
    if data.ndim != 2 or labels.shape != (len(data),) or labels.dtype.kind not in "iu":
        raise ValueError(f"cifar10: {path} has data {data.shape} and labels {labels.shape} {labels.dtype}; "
                         f"expected data (N, 3072) and N integer labels")
    if len(labels) and (labels.min() < 0 or labels.max() >= 10):
        raise ValueError(f"cifar10: labels in {path} outside [0, 10)")
    return data, labels.astype(np.int64)


def _load_cifar10(directory, _rng):
    batches, test = _cifar_files(directory)
    train = [_read_cifar_batch(p) for p in batches]
    train = (np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train])) if train else None
    test = _read_cifar_batch(test) if test is not None else None
    if train is None:
        train, test = test, None
    if test is not None and train[0].shape[1] != test[0].shape[1]:
        raise ValueError(f"cifar10: data batches have {train[0].shape[1]} features, test_batch {test[0].shape[1]}")
    return train, test, 10


def _load_npz(path, _rng):
    if not path.is_file():
        raise DatasetNotFound(f"npz file not found: {path}")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as err:
        raise ValueError(f"npz: {path} is not a readable .npz file ({err})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"npz: {path} holds a single array, expected an .npz archive with 'X' and 'y'")
    with archive:
        if "X" not in archive or "y" not in archive:
            raise ValueError(f"npz: {path} must hold arrays 'X' and 'y', has {sorted(archive.files)}")
        X, y = archive["X"], archive["y"]
    if X.ndim < 2 or y.shape != (len(X),) or y.dtype.kind not in "iu":
        raise ValueError(f"npz: {path} has X {X.shape} and y {y.shape} {y.dtype}; "
                         f"expected X (N, D) and y (N,) integers")
    if len(y) == 0 or y.min() < 0:
        raise ValueError(f"npz: {path} labels must be non-empty and >= 0")
    return (X.reshape(len(X), -1), y.astype(np.int64)), None, int(y.max()) + 1


def _load_synthetic(shape, rng):
    n, d, c = shape
    means = rng.standard_normal((c, d), dtype=np.float32)
    means *= SYNTHETIC_SEPARATION / np.sqrt(d)
    y = rng.integers(0, c, size=n)
    X = rng.standard_normal((n, d), dtype=np.float32)
    for start in range(0, n, _CHUNK_ROWS):
        rows = slice(start, start + _CHUNK_ROWS)
        X[rows] += means[y[rows]]
    return (X, y), None, c


_LOADERS = {
    "digits": _load_digits, "mnist": _load_mnist, "cifar10": _load_cifar10,
    "npz": _load_npz, "synthetic": _load_synthetic,
}


def load(spec, rng):
    """Load raw data: (train_pool, test_pool or None, num_classes), pools are (X (N, D), y (N,)).

    rng is only used by synthetic data.
    """
    kind, arg = parse_spec(spec)
    return _LOADERS[kind](arg, rng)


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


def prepare(spec, seed, dtype="float32"):
    """Load, split (deterministically from seed) and preprocess a data set: a Prepared."""
    dtype = _float_dtype(dtype)
    load_rng, split_rng = np.random.default_rng(seed).spawn(2)
    (X_pool, y_pool), test_pool, num_classes = load(spec, load_rng)
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
        mean=mean, scale=scale,
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
