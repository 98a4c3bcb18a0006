"""Data sets by spec string, loaded raw: (train pool, test pool or None, number of classes).

Specs (see SPEC_FORMS):

- ``digits``: scikit-learn's 8x8 digits (1,797 images, 10 classes, pixel values 0..16), shipped in
  the package as formats/digits.npz (formats.digits), offline.
- ``mnist:DIR``: IDX files ``{train,t10k}-{images-idx3,labels-idx1}-ubyte`` (optionally
  ``.gz``; the ``train-images.idx3-ubyte`` dot spelling is accepted too).
- ``cifar10:DIR``: CIFAR-10 "python version" batches ``data_batch_N`` and ``test_batch``.
- ``npz:FILE``: arrays ``X`` (N, D...) and ``y`` (N,) integer labels.
- ``synthetic:N,D,C``: class-dependent Gaussian means plus unit Gaussian noise, float32,
  deterministic from the seed.

Pure numpy readers: worker.data.prepare splits and preprocesses
what these return, and the client reads the same specs locally.
"""

import re
import zipfile
from pathlib import Path

import numpy as np

from formats.cifar import CLASS_NAMES as CIFAR10_CLASSES
from formats.cifar import read_cifar_batch
from formats.digits import NUM_CLASSES as DIGITS_CLASSES
from formats.digits import load_digits
from formats.idx import read_idx

SPEC_FORMS = ("digits", "mnist:DIR", "cifar10:DIR", "npz:FILE", "synthetic:N,D,C")
SYNTHETIC_SEPARATION = 3.0  # class means ~ N(0, (3 / sqrt(D))^2 I): distance ~4.2 noise sds
SYNTHETIC_MAX_VALUES = 600_000_000  # N * D cap (~4x CIFAR-10, 2.4 GB of float32)
MAX_CLASSES = 10_000  # labels must lie in [0, MAX_CLASSES): W has one row per class
_CHUNK_ROWS = 1024  # rows per block when generating synthetic data

_MNIST_PARTS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class DatasetNotFound(FileNotFoundError):
    """A data set's directory or file does not exist (the message names the path)."""



def _bad_spec(spec, why):
    forms = ", ".join(SPEC_FORMS)
    shown = repr(spec) if len(repr(spec)) <= 200 else f"{repr(spec)[:200]}…"
    return ValueError(f"bad data set spec {shown}: {why}; accepted forms: {forms}")


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
        if c > MAX_CLASSES:
            raise _bad_spec(spec, f"synthetic C = {c} exceeds {MAX_CLASSES} classes")
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


# ---------------------------------------------------------------- loaders
# Each returns (train_pool, test_pool or None, num_classes); a pool is (X (N, D), y (N,)).


def _load_digits(_arg, _rng):
    X, y = load_digits()
    return (X, y), None, DIGITS_CLASSES


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



def _load_cifar10(directory, _rng):
    batches, test = _cifar_files(directory)
    train = [read_cifar_batch(p) for p in batches]
    train = (np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train])) if train else None
    test = read_cifar_batch(test) if test is not None else None
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


def synthetic_stream(shape, rng):
    """Synthetic data drawn block by block: (y (N,), num_classes, iterator of (start row, X block)).

    The blocks are the rows ``load("synthetic:N,D,C", rng)`` returns, value for value (the
    generator fills an array in order, so drawing it in blocks gives the same numbers),
    without the whole (N, D) array in memory at once. Consume the iterator before using
    ``rng`` for anything else.
    """
    n, d, c = shape
    means = rng.standard_normal((c, d), dtype=np.float32)
    means *= SYNTHETIC_SEPARATION / np.sqrt(d)
    y = rng.integers(0, c, size=n)

    def blocks():
        for start in range(0, n, _CHUNK_ROWS):
            block = rng.standard_normal((min(_CHUNK_ROWS, n - start), d), dtype=np.float32)
            block += means[y[start:start + len(block)]]
            yield start, block

    return y, c, blocks()


def _load_synthetic(shape, rng):
    n, d, _ = shape
    y, c, blocks = synthetic_stream(shape, rng)
    X = np.empty((n, d), dtype=np.float32)
    for start, block in blocks:
        X[start:start + len(block)] = block
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



def class_names(spec, num_classes):
    """Names of a data set's classes in label order: CIFAR-10's words, else the labels as text."""
    if parse_spec(spec)[0] == "cifar10" and num_classes == len(CIFAR10_CLASSES):
        return CIFAR10_CLASSES
    return tuple(str(label) for label in range(num_classes))


def image_layout(spec, num_features):
    """(image_shape, pixel_max) of a data set's raw rows of num_features values.

    digits: 8 x 8 grayscale, values 0..16; mnist: square grayscale images, 0..255;
    cifar10: 3 x 32 x 32 channel-major, 0..255; anything else: ((), 255.0), not images.
    """
    kind = parse_spec(spec)[0]
    side = int(round(num_features ** 0.5))
    if kind == "digits" and num_features == 64:
        return (8, 8), 16.0
    if kind == "mnist" and side * side == num_features:
        return (side, side), 255.0
    if kind == "cifar10" and num_features == 3 * 32 * 32:
        return (3, 32, 32), 255.0
    return (), 255.0
