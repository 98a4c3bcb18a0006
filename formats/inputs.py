"""Inputs to classify, read from a path in any form descent reads: raw (N, D) rows, labels when the file has them.

- an ``.npz`` with ``X`` (N, ...) and optionally ``y`` (N,) (e.g. a job's exported test split);
- a ``.npy`` array X;
- an IDX images file (MNIST ``*-images-idx3-ubyte[.gz]``), or a directory of MNIST IDX files;
- a CIFAR-10 batch file, or a directory of them;
- a single image (PNG, ...) or a folder of images, each H x W pixels of the model's data set.

Files are recognised by their first bytes, not by their names. ``read_dataset`` reads a
data set spec (``mnist:DIR``, ``cifar10:DIR``, ``npz:FILE``, ``digits``): every example,
with labels.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from formats.cifar import read_cifar_batch
from formats.datasets import DatasetNotFound, _cifar_files, _mnist_files, load, parse_spec
from formats.idx import read_idx
from formats.images import PNG_SIGNATURE, image_folder, image_row

FORMS = "an .npz with X (and y), an .npy, MNIST IDX images, a CIFAR-10 batch, an image, or a folder of them"


@dataclass(frozen=True, eq=False)
class Inputs:
    """Raw examples X (N, D), their labels y (N,) int64 or None, and a name per example."""

    X: np.ndarray
    y: np.ndarray | None
    names: tuple[str, ...]


def _numbered(path: Path, n: int) -> tuple[str, ...]:
    return tuple(f"{path.name}[{i}]" for i in range(n))


def _flat(X: np.ndarray, path: Path) -> np.ndarray:
    if X.ndim < 2 or len(X) == 0:
        raise ValueError(f"{path}: expected a non-empty array of examples (N, D...), got shape {X.shape}")
    return X.reshape(len(X), -1)


def _read_npz(path: Path) -> Inputs:
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path}: not a readable .npz file ({err})") from None
    with archive:
        if "X" not in archive.files:
            what = "a model file" if "format_version" in archive.files else f"arrays {sorted(archive.files)}"
            raise ValueError(f"{path}: has no array 'X' of inputs ({what})")
        X = _flat(archive["X"], path)
        y = archive["y"] if "y" in archive.files else None
    if y is not None and (y.shape != (len(X),) or y.dtype.kind not in "iu"):
        raise ValueError(f"{path}: y has shape {y.shape} dtype {y.dtype}; expected ({len(X)},) integers")
    return Inputs(X, None if y is None else y.astype(np.int64), _numbered(path, len(X)))


def _read_directory(path: Path, image_shape, pixel_max) -> Inputs:
    images = image_folder(path)
    if images:
        rows = [image_row(p, image_shape, pixel_max) for p in images]
        return Inputs(np.stack(rows), None, tuple(p.name for p in images))
    for kind, finder in (("mnist", _mnist_files), ("cifar10", _cifar_files)):
        try:
            finder(path)
        except DatasetNotFound:
            continue
        X, y = read_dataset(f"{kind}:{path}")
        return Inputs(X, y, _numbered(path, len(X)))
    raise ValueError(f"{path}: a folder with no images, MNIST IDX files or CIFAR-10 batches in it")


def read_inputs(path, image_shape: tuple[int, ...] = (), pixel_max: float = 255.0) -> Inputs:
    """Read the inputs at ``path`` (see the module docstring); ValueError naming the path if they cannot be read.

    ``image_shape`` and ``pixel_max`` (the model's) turn images into feature rows.
    """
    path = Path(path)
    if path.is_dir():
        return _read_directory(path, image_shape, pixel_max)
    if not path.is_file():
        raise FileNotFoundError(f"no such file or folder: {path}")
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"PK\x03\x04"):
        return _read_npz(path)
    if head.startswith(b"\x93NUMPY"):
        try:
            X = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise ValueError(f"{path}: not a readable .npy file ({err})") from None
        X = _flat(X, path)
        return Inputs(X, None, _numbered(path, len(X)))
    if head[:2] == b"\x00\x00" or head[:2] == b"\x1f\x8b":
        X = _flat(read_idx(path), path)
        return Inputs(X, None, _numbered(path, len(X)))
    if head[:1] == b"\x80":
        X, y = read_cifar_batch(path)
        return Inputs(_flat(X, path), y, _numbered(path, len(X)))
    if head.startswith(PNG_SIGNATURE) or path.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".gif"):
        return Inputs(image_row(path, image_shape, pixel_max)[None, :], None, (path.name,))
    raise ValueError(f"{path}: not a recognised input (expected {FORMS})")


def read_dataset(spec: str) -> tuple[np.ndarray, np.ndarray]:
    """Every example of a data set spec, train and test parts together: (X (N, D), y (N,) int64).

    synthetic data is generated from a job's seed on the server: ValueError here.
    """
    kind, _ = parse_spec(spec)
    if kind == "synthetic":
        raise ValueError(f"{spec}: synthetic data exists only on the server; evaluate the job id instead")
    train, test, _ = load(spec, None)
    parts = [part for part in (train, test) if part is not None]
    X = np.concatenate([X for X, _ in parts]) if len(parts) > 1 else parts[0][0]
    y = np.concatenate([y for _, y in parts]) if len(parts) > 1 else parts[0][1]
    return X, y
