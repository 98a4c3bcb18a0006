"""What a data set will cost, read from its headers without loading it.

``data_size(kind, arg)`` returns the number of examples N, raw features D, classes C and
the bytes the raw arrays take once loaded, for the parsed spec of ``formats.datasets``:
synthetic from its spec, npz from the ``.npy`` headers of its zip members, MNIST from the
IDX headers, CIFAR-10 from the size of its batch files, digits as bundled. For npz and
MNIST, C is only known from the labels themselves: ``data_size(..., labels=False)``
leaves it at 2 (the least a data set has) without reading them, so a caller can check
the rest first; ``labels=True`` then reads just the label arrays. It raises ValueError
for a file whose headers or labels are malformed.
"""

from __future__ import annotations

import gzip
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from formats.datasets import _cifar_files, _mnist_files
from formats.idx import _IDX_DTYPES, read_idx

#: Bytes per CIFAR-10 example in a python batch (3,072 pixel bytes and a label).
_CIFAR_EXAMPLE_BYTES = 3073
#: Largest label array read to learn C (bytes); larger ones are refused as unreasonable.
MAX_LABEL_BYTES = 1 << 30


@dataclass(frozen=True)
class DataSize:
    """Sizes of a raw data set: examples, features (without the bias), classes, bytes once loaded."""

    num_examples: int
    num_features: int
    num_classes: int
    raw_bytes: int


def _npy_header(archive: zipfile.ZipFile, member: str) -> tuple[tuple[int, ...], np.dtype]:
    with archive.open(member) as f:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(f)
    return tuple(int(n) for n in shape), np.dtype(dtype)


def _labels_classes(y: np.ndarray, where: str) -> int:
    if y.dtype.kind not in "iu":
        raise ValueError(f"{where}: labels must be integers, got {y.dtype}")
    if len(y) == 0:
        raise ValueError(f"{where}: no labels")
    if int(y.min()) < 0:
        raise ValueError(f"{where}: labels must be >= 0, got {int(y.min())}")
    return int(y.max()) + 1


def _npz_size(path: Path, labels: bool) -> DataSize:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "X.npy" not in names or "y.npy" not in names:
                raise ValueError(f"npz: {path} must hold arrays 'X' and 'y'")
            x_shape, x_dtype = _npy_header(archive, "X.npy")
            y_shape, y_dtype = _npy_header(archive, "y.npy")
            if len(x_shape) < 2 or y_shape != x_shape[:1] or y_dtype.kind not in "iu":
                raise ValueError(f"npz: {path} has X {x_shape} and y {y_shape} {y_dtype}; expected X (N, D) and y (N,) integers")
            if y_shape[0] * y_dtype.itemsize > MAX_LABEL_BYTES:
                raise ValueError(f"npz: {path} has {y_shape[0]} labels; too many to read")
            classes = 2
            if labels:
                with archive.open("y.npy") as f:
                    classes = _labels_classes(np.lib.format.read_array(f, allow_pickle=False), f"npz: {path}")
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as error:
        raise ValueError(f"npz: {path} is not a readable .npz file ({error})") from None
    n, d = x_shape[0], int(np.prod(x_shape[1:], dtype=np.int64))
    raw = n * d * x_dtype.itemsize + n * 8
    return DataSize(n, d, classes, raw)


def _idx_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    try:
        with open(path, "rb") as raw:
            gz = raw.read(2) == b"\x1f\x8b"
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as f:
            head = f.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_DTYPES or head[3] == 0:
                raise ValueError(f"{path}: bad IDX header {head.hex()!r}")
            dims = f.read(4 * head[3])
    except (OSError, EOFError) as error:
        raise ValueError(f"{path}: not a readable IDX file ({error})") from None
    if len(dims) < 4 * head[3]:
        raise ValueError(f"{path}: truncated IDX header")
    return struct.unpack(f">{head[3]}I", dims), np.dtype(_IDX_DTYPES[head[2]])


def _mnist_size(directory: Path, labels: bool) -> DataSize:
    n_total, features, classes, raw = 0, None, 2, 0
    for images_path, labels_path in _mnist_files(directory).values():
        dims, dtype = _idx_header(images_path)
        label_dims, label_dtype = _idx_header(labels_path)
        if len(dims) < 2 or len(label_dims) != 1 or label_dims[0] != dims[0]:
            raise ValueError(f"mnist: {images_path} has dims {dims}, {labels_path} has dims {label_dims}")
        if label_dims[0] * label_dtype.itemsize > MAX_LABEL_BYTES:
            raise ValueError(f"mnist: {labels_path} has {label_dims[0]} labels; too many to read")
        n, d = dims[0], int(np.prod(dims[1:], dtype=np.int64))
        n_total += n
        features = d if features is None else features
        if labels:
            classes = max(classes, _labels_classes(read_idx(labels_path), f"mnist: {labels_path}"))
        raw += n * d * max(dtype.itemsize, 1) * 2 + n * 8  # the file's bytes and the decoded array
    return DataSize(n_total, features or 0, classes, raw)


def _cifar_size(directory: Path) -> DataSize:
    batches, test = _cifar_files(directory)
    total = sum(p.stat().st_size for p in [*batches, *([test] if test else [])])
    n = total // _CIFAR_EXAMPLE_BYTES
    return DataSize(n, 3072, 10, 2 * total)  # the pickle's bytes and the arrays built from them


def data_size(kind: str, arg, labels: bool = True) -> DataSize:
    """Sizes of the data set ``formats.datasets.parse_spec`` returned as ``(kind, arg)``, from headers
    (and, with ``labels``, the label arrays: see the module docstring)."""
    if kind == "digits":
        return DataSize(1797, 64, 10, 1797 * 64 * 8)
    if kind == "synthetic":
        n, d, c = arg
        return DataSize(n, d, c, n * d * 4 + n * 8)
    if kind == "npz":
        return _npz_size(Path(arg), labels)
    if kind == "mnist":
        return _mnist_size(Path(arg), labels)
    if kind == "cifar10":
        return _cifar_size(Path(arg))
    raise ValueError(f"unknown data set kind {kind!r}")
