"""A compressed gradient (worker.compress) as the ``CompressedGradient`` message, and back.

The worker builds the message from its codec's arrays (each a Tensor: dtype, shape, bytes);
the server turns a received one back into W's dtype and shape with ``decode_gradient``,
which raises ValueError naming what is wrong when the payload does not decode to that shape
(a dtype a codec never sends, a byte count that does not match a tensor's shape, arrays
that do not fit W).
"""

from __future__ import annotations

import numpy as np

from proto import descent_pb2
from worker.compress import Compressed, decode

#: dtypes a compressed gradient's arrays may carry.
DTYPES = ("float16", "float32", "float64", "int8", "int32", "int64")
_ARRAYS = ("values", "scales", "indices")


def _tensor(array: np.ndarray) -> descent_pb2.Tensor:
    data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    return descent_pb2.Tensor(dtype=array.dtype.name, shape=array.shape, data=data)


def to_message(compressed: Compressed) -> descent_pb2.CompressedGradient:
    """The message a push carries for ``compressed``."""
    message = descent_pb2.CompressedGradient(kind=compressed.kind, shape=compressed.shape)
    for name, array in compressed.arrays.items():
        getattr(message, name).CopyFrom(_tensor(array))
    return message


def _array(name: str, tensor: descent_pb2.Tensor) -> np.ndarray:
    if tensor.dtype not in DTYPES:
        raise ValueError(f"compressed gradient: {name} has dtype {tensor.dtype!r}; expected one of {', '.join(DTYPES)}")
    if any(s < 0 for s in tensor.shape):
        raise ValueError(f"compressed gradient: {name} has a negative dimension in {list(tensor.shape)}")
    wire = np.dtype(tensor.dtype).newbyteorder("<")
    expected = int(np.prod(tensor.shape, dtype=np.int64)) * wire.itemsize
    if len(tensor.data) != expected:
        raise ValueError(f"compressed gradient: {name} of dtype {tensor.dtype} and shape {list(tensor.shape)} "
                         f"needs {expected} bytes, got {len(tensor.data)}")
    array = np.frombuffer(tensor.data, dtype=wire).reshape(tuple(tensor.shape))
    return array.astype(wire.newbyteorder("="), copy=False)


def from_message(message: descent_pb2.CompressedGradient) -> Compressed:
    """The codec's view of a received message (its arrays read from the message's bytes)."""
    arrays = {name: _array(name, getattr(message, name)) for name in _ARRAYS if message.HasField(name)}
    return Compressed(message.kind, tuple(int(s) for s in message.shape), arrays)


def payload_bytes(message: descent_pb2.CompressedGradient) -> int:
    """Bytes of array data the message carries (what compression shrinks)."""
    return sum(len(getattr(message, name).data) for name in _ARRAYS if message.HasField(name))


def decode_gradient(message: descent_pb2.CompressedGradient, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """The gradient the message carries, in W's ``shape`` and ``dtype``; ValueError if it does not decode so."""
    return decode(from_message(message), shape, dtype)
