"""Gradient compression for the push path (a job's ``compress``): pure math, no I/O.

``none`` (the gradient as it is), ``fp16`` (each entry rounded to half precision), ``int8``
(each row scaled by its largest magnitude / 127 and rounded to a signed byte) or ``topk:F``
(the ceil(F * size) entries of largest magnitude, as flat indices and float32 values, with
**error feedback**: what was not sent is kept by the worker and added to its next gradient,
as in 1-bit SGD and BytePS, so over a job every part of every gradient is sent eventually).

``encode`` turns a gradient into a ``Compressed`` (named arrays); ``decode`` turns one back
into W's dtype and shape and raises ValueError on arrays that do not fit the shape, so the
server can refuse a malformed push. Arrays travel as dtype + shape + bytes
(worker.task.compressed builds the messages).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

KINDS = ("none", "fp16", "int8", "topk")
#: int8's largest code: a row's largest magnitude maps to +-127 (the code -128 is never sent).
INT8_MAX = 127


@dataclass(frozen=True)
class Codec:
    """A parsed ``compress`` value: the kind and, for topk, the fraction of entries sent."""

    kind: str = "none"
    fraction: float = 1.0

    @property
    def active(self) -> bool:
        return self.kind != "none"

    def __str__(self) -> str:
        return f"topk:{self.fraction:g}" if self.kind == "topk" else self.kind


def parse_compress(text: str) -> Codec:
    """``none``, ``fp16``, ``int8`` or ``topk:F`` with 0 < F <= 1; ValueError naming what is wrong."""
    kind, sep, arg = (text or "none").strip().partition(":")
    if kind not in KINDS:
        raise ValueError(f"compress: unknown kind {kind!r}; expected none, fp16, int8 or topk:F")
    if kind != "topk":
        if sep:
            raise ValueError(f"compress: {kind} takes no argument, got {text!r}")
        return Codec(kind)
    try:
        fraction = float(arg)
    except ValueError:
        raise ValueError(f"compress: topk:F needs a number F in (0, 1], got {arg!r}") from None
    if not (math.isfinite(fraction) and 0 < fraction <= 1):
        raise ValueError(f"compress: topk:F needs F in (0, 1], got {arg}")
    return Codec("topk", fraction)


@dataclass
class Compressed:
    """One encoded gradient: its kind, the gradient's shape, and the arrays that travel."""

    kind: str
    shape: tuple[int, ...]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return sum(int(a.nbytes) for a in self.arrays.values())


def topk_count(fraction: float, size: int) -> int:
    """Entries topk:F sends of a gradient of ``size`` entries: ceil(F * size), at least 1."""
    return min(size, max(1, math.ceil(fraction * size))) if size else 0


def _rows(shape: tuple[int, ...]) -> int:
    return shape[0] if len(shape) > 1 else 1


def encode(grad: np.ndarray, codec: Codec) -> Compressed:
    """``grad`` compressed by ``codec`` (topk: without error feedback; see ``ErrorFeedback``)."""
    shape = tuple(grad.shape)
    if codec.kind == "none":
        return Compressed("none", shape, {"values": np.ascontiguousarray(grad)})
    if codec.kind == "fp16":
        return Compressed("fp16", shape, {"values": grad.astype(np.float16)})
    if codec.kind == "int8":
        rows = grad.reshape(_rows(shape), -1)
        peak = np.abs(rows).max(axis=1) if rows.size else np.zeros(rows.shape[0])
        scales = (peak / INT8_MAX).astype(np.float32)
        safe = np.where(scales > 0, scales, 1).astype(grad.dtype)
        codes = np.rint(rows / safe[:, None]).clip(-INT8_MAX, INT8_MAX).astype(np.int8)
        return Compressed("int8", shape, {"values": codes.reshape(shape), "scales": scales})
    flat = grad.reshape(-1)
    k = topk_count(codec.fraction, flat.size)
    index = np.argpartition(np.abs(flat), flat.size - k)[flat.size - k:] if k < flat.size else np.arange(flat.size)
    index = np.sort(index).astype(np.int32 if flat.size < 2**31 else np.int64)
    return Compressed("topk", shape, {"indices": index, "values": flat[index].astype(np.float32)})


def _need(compressed: Compressed, name: str, dtypes: tuple[str, ...], shape: tuple[int, ...] | None) -> np.ndarray:
    array = compressed.arrays.get(name)
    if array is None:
        raise ValueError(f"compressed gradient ({compressed.kind}): {name} missing")
    if array.dtype.name not in dtypes:
        raise ValueError(f"compressed gradient ({compressed.kind}): {name} has dtype {array.dtype.name}, "
                         f"expected {' or '.join(dtypes)}")
    if shape is not None and tuple(array.shape) != shape:
        raise ValueError(f"compressed gradient ({compressed.kind}): {name} has shape {list(array.shape)}, "
                         f"expected {list(shape)}")
    return array


def decode(compressed: Compressed, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """The gradient ``compressed`` carries, as a new array of W's ``shape`` and ``dtype``.

    Raises ValueError when it does not decode to that shape: a different shape, an unknown
    kind, a missing array, arrays of the wrong dtype or length, a topk index out of range.
    """
    shape, dtype = tuple(int(s) for s in shape), np.dtype(dtype)
    kind = compressed.kind
    if tuple(compressed.shape) != shape:
        raise ValueError(f"compressed gradient has shape {list(compressed.shape)}, W has {list(shape)}")
    if kind in ("none", "fp16"):
        wanted = (dtype.name,) if kind == "none" else ("float16",)
        return _need(compressed, "values", wanted, shape).astype(dtype)
    if kind == "int8":
        codes = _need(compressed, "values", ("int8",), shape)
        scales = _need(compressed, "scales", ("float32",), (_rows(shape),))
        if not np.all(np.isfinite(scales)):
            raise ValueError("compressed gradient (int8): scales must be finite")
        rows = codes.reshape(_rows(shape), -1).astype(dtype) * scales.astype(dtype)[:, None]
        return rows.reshape(shape)
    if kind == "topk":
        size = math.prod(shape)
        index = _need(compressed, "indices", ("int32", "int64"), None)
        values = _need(compressed, "values", ("float32",), None)
        if index.ndim != 1 or values.shape != index.shape:
            raise ValueError(f"compressed gradient (topk): {index.size} indices and {values.size} values "
                             "must be two vectors of one length")
        if index.size and (index[0] < 0 or index[-1] >= size or np.any(np.diff(index) <= 0)):
            raise ValueError(f"compressed gradient (topk): indices must be increasing, in [0, {size})")
        out = np.zeros(size, dtype=dtype)
        out[index] = values
        return out.reshape(shape)
    raise ValueError(f"compressed gradient: unknown kind {kind!r}; expected one of {', '.join(KINDS)}")


class ErrorFeedback:
    """A worker's encoder: the residual (what earlier encodings did not send) is added to each
    gradient before it is encoded, and what this encoding leaves out becomes the new residual.

    Invariant: sum of the gradients given == sum of the decoded gradients sent + residual
    (up to float rounding). Only topk keeps a residual; the other kinds encode as they are.
    """

    def __init__(self, codec: Codec):
        self.codec = codec
        self.residual: np.ndarray | None = None

    def encode(self, grad: np.ndarray) -> Compressed:
        if self.codec.kind != "topk":
            return encode(grad, self.codec)
        total = grad if self.residual is None else grad + self.residual
        compressed = encode(total, self.codec)
        index = compressed.arrays["indices"]
        residual = np.array(total, dtype=grad.dtype).reshape(-1)  # a copy: what is left to send
        residual[index] -= compressed.arrays["values"].astype(grad.dtype)
        self.residual = residual.reshape(grad.shape)
        return compressed
