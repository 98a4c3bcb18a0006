"""Convert numpy arrays to and from the protocol's ``Tensor`` and ``TensorChunk`` messages.

Arrays travel as raw little-endian C-order bytes plus dtype and shape; decoding
checks that the byte count matches the shape, so a truncated or mislabelled
message is a ``ValueError`` rather than garbage.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from proto import descent_pb2

#: dtype names a Tensor may carry.
SUPPORTED_DTYPES = ("float32", "float64", "int32", "int64", "uint8", "bool")

#: Bytes per streamed chunk: well under gRPC's default 4 MiB message limit.
CHUNK_BYTES = 1 << 20


def _wire_dtype(name: str) -> np.dtype:
    if name not in SUPPORTED_DTYPES:
        raise ValueError(f"unsupported tensor dtype {name!r}; expected one of {', '.join(SUPPORTED_DTYPES)}")
    return np.dtype(name).newbyteorder("<")


def _check_shape(shape: Iterable[int]) -> tuple[int, ...]:
    shape = tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"tensor shape {shape} has a negative dimension")
    return shape


def to_tensor(array: np.ndarray) -> descent_pb2.Tensor:
    """Encode ``array`` (any supported dtype, any shape) as a ``Tensor``."""
    array = np.asarray(array)
    wire = _wire_dtype(array.dtype.name)
    data = np.ascontiguousarray(array, dtype=wire).tobytes()
    return descent_pb2.Tensor(dtype=array.dtype.name, shape=array.shape, data=data)


def from_tensor(tensor: descent_pb2.Tensor) -> np.ndarray:
    """Decode a ``Tensor`` into a read-only native-endian array (no copy on little-endian hosts).

    Raises ValueError if the dtype is unsupported or the byte count does not match the shape.
    """
    wire = _wire_dtype(tensor.dtype)
    shape = _check_shape(tensor.shape)
    expected = int(np.prod(shape, dtype=np.int64)) * wire.itemsize
    if len(tensor.data) != expected:
        raise ValueError(
            f"tensor of dtype {tensor.dtype} and shape {list(shape)} needs {expected} bytes, got {len(tensor.data)}"
        )
    array = np.frombuffer(tensor.data, dtype=wire).reshape(shape)
    return array.astype(wire.newbyteorder("="), copy=False)


def to_chunks(array: np.ndarray, version: int = 0, chunk_bytes: int = CHUNK_BYTES) -> Iterator[descent_pb2.TensorChunk]:
    """Split ``array`` into ``TensorChunk`` messages of at most ``chunk_bytes`` of data each."""
    tensor = to_tensor(array)
    data = tensor.data
    yield descent_pb2.TensorChunk(
        dtype=tensor.dtype, shape=tensor.shape, offset=0, data=data[:chunk_bytes], version=version
    )
    for offset in range(chunk_bytes, len(data), chunk_bytes):
        yield descent_pb2.TensorChunk(offset=offset, data=data[offset : offset + chunk_bytes], version=version)


def from_chunks(chunks: Iterable[descent_pb2.TensorChunk]) -> tuple[np.ndarray, int]:
    """Reassemble an array streamed by ``to_chunks``; return ``(array, version)``.

    Raises ValueError on an empty stream, out-of-order chunks or a size mismatch.
    """
    iterator = iter(chunks)
    first = next(iterator, None)
    if first is None:
        raise ValueError("empty tensor stream")
    parts = [first.data]
    received = len(first.data)
    for chunk in iterator:
        if chunk.offset != received:
            raise ValueError(f"tensor chunk at offset {chunk.offset}, expected {received}")
        parts.append(chunk.data)
        received += len(chunk.data)
    tensor = descent_pb2.Tensor(dtype=first.dtype, shape=first.shape, data=b"".join(parts))
    return from_tensor(tensor), first.version
