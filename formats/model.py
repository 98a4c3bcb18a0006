"""The model file: a trained linear SVM with everything needed to classify raw inputs.

An ``.npz`` of plain arrays and strings (loads with ``allow_pickle=False``):

- ``format`` = "descent-linear-svm", ``format_version`` (int): what this file is;
- ``W`` (C, D+1) in the training dtype: class scores are ``features @ W.T``;
- ``mean`` (D,) float64 and ``scale`` (float64): the preprocessing fitted on the job's
  training split; ``bias_column`` = D: W's last column multiplies a constant 1 appended
  after the D standardized features (the bias trick);
- ``dtype``: the training dtype, in which the features are computed;
- ``class_names`` (C,), ``dataset`` (the spec), ``image_shape`` ((H, W) grayscale,
  (3, H, W) colour, () for non-image data), ``pixel_max`` (the raw value of a full-intensity
  pixel: 255, or 16 for digits);
- ``job_id``, ``version`` (of W), ``test_accuracy`` (NaN if unknown) and the job's
  hyperparameters (``lr``, ``reg``, ``steps``, ``batch_size``, ``workers``, ``seed``,
  ``init_scale``, ``gradient``).

``Model.features`` reproduces the server's preprocessing (worker.data.prepare) bit for bit:
``x = raw.astype(dtype); x -= mean.astype(dtype); x *= dtype(1 / scale)``, then the column
of ones; ``Model.predict`` is ``argmax(features @ W.T)``, the first class on a tie, as
the server's accuracy counts it.
"""

from __future__ import annotations

import io
import math
import zipfile
from dataclasses import dataclass, field

import numpy as np

MAGIC = "descent-linear-svm"
FORMAT_VERSION = 1
HYPERPARAMETERS = ("lr", "reg", "steps", "batch_size", "workers", "seed", "init_scale", "gradient")
PREPROCESSING = "x = raw.astype(dtype); x -= mean.astype(dtype); x *= dtype(1 / scale); append a column of ones"
_REQUIRED = ("W", "mean", "scale", "bias_column", "dtype", "class_names", "dataset", "image_shape", "pixel_max",
             "job_id", "version", "test_accuracy")


class ModelFileError(ValueError):
    """A file is not a model this version of descent can read (the message says why)."""


@dataclass(frozen=True, eq=False)
class Model:
    """A linear SVM with its preprocessing: classifies raw (N, D) inputs."""

    W: np.ndarray
    mean: np.ndarray
    scale: float
    class_names: tuple[str, ...]
    dataset: str
    image_shape: tuple[int, ...] = ()
    pixel_max: float = 255.0
    job_id: str = ""
    version: int = 0
    test_accuracy: float | None = None
    hyperparameters: dict = field(default_factory=dict)

    def __post_init__(self):
        W, mean = np.asarray(self.W), np.asarray(self.mean)
        if W.ndim != 2 or W.dtype not in (np.float32, np.float64):
            raise ModelFileError(f"W must be a 2-D float32/float64 array (C, D+1), got {W.shape} {W.dtype}")
        if mean.shape != (W.shape[1] - 1,):
            raise ModelFileError(f"mean has shape {mean.shape}, W {W.shape} needs ({W.shape[1] - 1},)")
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise ModelFileError(f"scale must be finite and > 0, got {self.scale}")
        if len(self.class_names) != W.shape[0]:
            raise ModelFileError(f"{len(self.class_names)} class names for W's {W.shape[0]} classes")
        if self.image_shape and int(np.prod(self.image_shape)) != mean.shape[0]:
            raise ModelFileError(f"image shape {self.image_shape} does not hold {mean.shape[0]} features")

    @property
    def num_classes(self) -> int:
        """C, the number of classes (rows of W)."""
        return self.W.shape[0]

    @property
    def num_features(self) -> int:
        """D, the number of raw features per example (W has D + 1 columns)."""
        return self.W.shape[1] - 1

    @property
    def dtype(self) -> np.dtype:
        """The training dtype: features and scores are computed in it."""
        return self.W.dtype

    def describe_input(self) -> str:
        """What one raw example is: '784 features (28x28 images)'."""
        shape = "x".join(str(s) for s in self.image_shape[-2:])
        colour = " colour" if len(self.image_shape) == 3 else ""
        return f"{self.num_features} features" + (f" ({shape}{colour} images)" if self.image_shape else "")

    def features(self, raw: np.ndarray) -> np.ndarray:
        """(N, D+1) standardized features with the bias column, exactly as the server computes them."""
        raw = np.asarray(raw)
        if raw.dtype.kind not in "biuf":
            raise ValueError(f"inputs must be numbers, got dtype {raw.dtype}")
        if raw.ndim != 2 or raw.shape[1] != self.num_features:
            got = raw.shape[1] if raw.ndim == 2 else f"shape {raw.shape}, not"
            raise ValueError(f"the input has {got} features per example; the model expects {self.describe_input()}")
        dtype = self.dtype
        out = np.empty((raw.shape[0], self.num_features + 1), dtype=dtype)
        x = out[:, :-1]
        x[...] = raw
        x -= self.mean.astype(dtype)
        x *= dtype.type(1.0 / self.scale)
        out[:, -1] = 1
        return out

    def scores(self, raw: np.ndarray) -> np.ndarray:
        """(N, C) class scores of raw inputs (N, D)."""
        return self.features(raw) @ self.W.T

    def predict(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(labels (N,) int64, scores (N, C)): the argmax of the scores, the first class on a tie."""
        scores = self.scores(raw)
        return np.argmax(scores, axis=1), scores


def model_bytes(model: Model) -> bytes:
    """The model as the bytes of an .npz file (compressed; plain arrays and strings only)."""
    hp = {name: model.hyperparameters[name] for name in HYPERPARAMETERS if name in model.hyperparameters}
    arrays = {
        "format": np.str_(MAGIC),
        "format_version": np.int64(FORMAT_VERSION),
        "W": np.ascontiguousarray(model.W),
        "mean": np.asarray(model.mean, dtype=np.float64),
        "scale": np.float64(model.scale),
        "bias_column": np.int64(model.num_features),
        "preprocessing": np.str_(PREPROCESSING),
        "dtype": np.str_(model.dtype.name),
        "class_names": np.array(model.class_names, dtype=str),
        "dataset": np.str_(model.dataset),
        "image_shape": np.array(model.image_shape, dtype=np.int64),
        "pixel_max": np.float64(model.pixel_max),
        "job_id": np.str_(model.job_id),
        "version": np.int64(model.version),
        "test_accuracy": np.float64(np.nan if model.test_accuracy is None else model.test_accuracy),
        **{name: np.asarray(value) for name, value in hp.items()},
    }
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def _scalar(archive, name, kind):
    value = archive[name]
    if value.shape != () or value.dtype.kind not in kind:
        raise ModelFileError(f"{name} must be a scalar of kind {kind!r}, got shape {value.shape} dtype {value.dtype}")
    return value[()]


def load_model(path) -> Model:
    """Read a model file; ModelFileError naming the file for anything that is not a readable model."""
    with open(path, "rb") as f:  # FileNotFoundError for a missing file
        head = f.read(4)
    if head != b"PK\x03\x04":
        raise ModelFileError(f"{path}: not a descent model file (not an .npz archive: it starts with {head!r})")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as err:
        raise ModelFileError(f"{path}: not a descent model file (not a readable .npz: {err})") from None
    with archive:
        try:
            return _from_archive(archive)
        except ModelFileError as err:
            raise ModelFileError(f"{path}: {err}") from None
        except (OSError, ValueError, zipfile.BadZipFile, KeyError) as err:
            raise ModelFileError(f"{path}: a corrupt model file ({type(err).__name__}: {err})") from None


def _from_archive(archive) -> Model:
    names = set(archive.files)
    if "format" not in names or str(archive["format"]) != MAGIC:
        raise ModelFileError(f"not a descent model file (arrays {sorted(names)}; expected format = {MAGIC!r})")
    version = int(_scalar(archive, "format_version", "iu"))
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"model file format version {version} is newer than this descent reads ({FORMAT_VERSION}): upgrade descent"
        )
    missing = [name for name in _REQUIRED if name not in names]
    if missing:
        raise ModelFileError(f"the model file lacks {', '.join(missing)}")
    W = archive["W"]
    bias = int(_scalar(archive, "bias_column", "iu"))
    if W.ndim != 2 or bias != W.shape[1] - 1:
        raise ModelFileError(f"bias_column {bias} must be W's last column; W has shape {W.shape}")
    if str(archive["dtype"]) != W.dtype.name:
        raise ModelFileError(f"dtype says {archive['dtype']} but W is {W.dtype}")
    accuracy = float(_scalar(archive, "test_accuracy", "f"))
    return Model(
        W=W,
        mean=archive["mean"],
        scale=float(_scalar(archive, "scale", "f")),
        class_names=tuple(str(n) for n in archive["class_names"]),
        dataset=str(archive["dataset"]),
        image_shape=tuple(int(s) for s in archive["image_shape"]),
        pixel_max=float(_scalar(archive, "pixel_max", "fiu")),
        job_id=str(archive["job_id"]),
        version=int(_scalar(archive, "version", "iu")),
        test_accuracy=None if math.isnan(accuracy) else accuracy,
        hyperparameters={name: archive[name][()].item() for name in HYPERPARAMETERS if name in names},
    )
