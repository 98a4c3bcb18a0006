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


class TensorAssembler:
    """Joins a Tensor sent as pieces (PushStream's ``more``: proto.wire) into one array.

    The first piece names dtype and shape; ``limit`` (bytes), when given, refuses a tensor
    larger than that before anything is allocated. ``add`` returns None while pieces are
    missing and the array after the last one; a piece that would pass the declared size,
    or a last piece that leaves it short, is a ValueError.
    """

    def __init__(self, limit: int | None = None):
        self._limit = limit
        self._dtype: np.dtype | None = None
        self._shape: tuple[int, ...] = ()
        self._buffer = bytearray()
        self._filled = 0
        self._expected = 0

    def add(self, tensor: descent_pb2.Tensor, more: bool) -> np.ndarray | None:
        if self._dtype is None:
            self._dtype = _wire_dtype(tensor.dtype)
            self._shape = _check_shape(tensor.shape)
            self._expected = int(np.prod(self._shape, dtype=np.int64)) * self._dtype.itemsize
            if self._limit is not None and self._expected > self._limit:
                raise ValueError(f"tensor of shape {list(self._shape)} and dtype {tensor.dtype} is "
                                 f"{self._expected} bytes, more than the {self._limit} expected")
            self._buffer = bytearray(self._expected)
        elif tensor.dtype or tensor.shape:
            raise ValueError("only the first piece of a tensor names its dtype and shape")
        end = self._filled + len(tensor.data)
        if end > self._expected:
            raise ValueError(f"tensor pieces pass the {self._expected} bytes its shape needs")
        self._buffer[self._filled : end] = tensor.data
        self._filled = end
        if more:
            return None
        if self._filled != self._expected:
            raise ValueError(f"tensor pieces end at {self._filled} bytes, its shape needs {self._expected}")
        array = np.frombuffer(self._buffer, dtype=self._dtype).reshape(self._shape)
        return array.astype(self._dtype.newbyteorder("="), copy=False)
