"""Hand-built wire bytes of the two hot messages, with one copy of the array.

Building ``Parameters`` or ``PushRequest`` through the protobuf API copies the
array three times (``tobytes``, the message's own copy of the bytes field, then
``SerializeToString``). The protobuf wire format of a message is the
concatenation of its fields in any order, so the serialized message can be
assembled as ``header + array bytes + trailer`` with a single ``bytes.join``
straight from the array's buffer. The result parses exactly like the message
built the slow way (tests/unit/test_wire.py checks it field by field).

Used on the hot path only: the worker's PushStream requests and the server's
PushStream replies travel as these bytes (the gRPC method handlers pass bytes
through unchanged). A W or gradient over ``proto.limits.STREAM_CHUNK_BYTES``
travels as several messages, each a slice of the data with ``more`` set on all
but the last (``parameters_messages``, ``push_request_messages``); the receiver
joins them (``proto.tensor.TensorAssembler``).
"""

from __future__ import annotations

import sys

import numpy as np

from proto import descent_pb2, limits

_LITTLE = sys.byteorder == "little"
#: Tag bytes: field 3 of Tensor (data) and the embedded message fields, all wire type 2.
_TENSOR_DATA_TAG = b"\x1a"
_PARAMETERS_WEIGHTS_TAG = b"\x0a"
_PUSH_GRADIENT_TAG = b"\x22"


def encode_varint(value: int) -> bytes:
    """A protobuf varint: 7 bits per byte, low first, the high bit set on all but the last."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _data(array: np.ndarray) -> memoryview | bytes:
    """The array's little-endian C-order bytes (a view: no copy, on a little-endian host)."""
    array = np.ascontiguousarray(array)
    if _LITTLE and array.dtype.isnative:
        return memoryview(array).cast("B") if array.size else b""
    return array.astype(array.dtype.newbyteorder("<")).tobytes()  # big-endian host or byte-swapped: one copy


def _head(array: np.ndarray) -> bytes:
    """The Tensor's fields before its data: dtype and shape."""
    return descent_pb2.Tensor(dtype=array.dtype.name, shape=array.shape).SerializeToString()


def _embedded(tag: bytes, head: bytes, piece: memoryview | bytes) -> tuple[bytes, memoryview | bytes]:
    """An embedded Tensor field (``head`` + data ``piece``) as the bytes before the piece, and the piece."""
    inner = head + _TENSOR_DATA_TAG + encode_varint(len(piece))
    return tag + encode_varint(len(inner) + len(piece)) + inner, piece


def _pieces(data: memoryview | bytes, chunk_bytes: int | None) -> list:
    chunk = chunk_bytes or limits.STREAM_CHUNK_BYTES
    if len(data) <= chunk:
        return [data]
    return [data[start : start + chunk] for start in range(0, len(data), chunk)]


def parameters_bytes(weights: np.ndarray, version: int) -> bytes:
    """Serialized ``Parameters(weights=<weights>, version=version, stop=False)``."""
    head, data = _embedded(_PARAMETERS_WEIGHTS_TAG, _head(weights), _data(weights))
    tail = descent_pb2.Parameters(version=version).SerializeToString()
    return b"".join((head, data, tail))


def parameters_messages(weights: np.ndarray, version: int, chunk_bytes: int | None = None) -> tuple[bytes, ...]:
    """W as PushStream replies: one ``parameters_bytes`` message, or pieces of at most ``chunk_bytes``
    (default ``proto.limits.STREAM_CHUNK_BYTES``) with ``more`` set on all but the last."""
    pieces = _pieces(_data(weights), chunk_bytes)
    if len(pieces) == 1:
        return (parameters_bytes(weights, version),)
    head = _head(weights)
    out = []
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        front, data = _embedded(_PARAMETERS_WEIGHTS_TAG, head if i == 0 else b"", piece)
        tail = descent_pb2.Parameters(version=version, more=not last).SerializeToString()
        out.append(b"".join((front, data, tail)))
    return tuple(out)


def push_request_bytes(gradient: np.ndarray, **fields) -> bytes:
    """Serialized ``PushRequest(gradient=<gradient>, **fields)`` (fields: every scalar PushRequest field)."""
    head, data = _embedded(_PUSH_GRADIENT_TAG, _head(gradient), _data(gradient))
    rest = descent_pb2.PushRequest(**fields).SerializeToString()
    return b"".join((rest, head, data))


def push_request_messages(gradient: np.ndarray, chunk_bytes: int | None = None, **fields) -> list[bytes]:
    """A push as PushStream requests: one ``push_request_bytes`` message, or pieces of at most
    ``chunk_bytes`` with ``more`` set on all but the last (each carries ``fields``)."""
    pieces = _pieces(_data(gradient), chunk_bytes)
    if len(pieces) == 1:
        return [push_request_bytes(gradient, **fields)]
    head = _head(gradient)
    out = []
    for i, piece in enumerate(pieces):
        front, data = _embedded(_PUSH_GRADIENT_TAG, head if i == 0 else b"", piece)
        rest = descent_pb2.PushRequest(more=i < len(pieces) - 1, **fields).SerializeToString()
        out.append(b"".join((rest, front, data)))
    return out


def passthrough(message: bytes | object) -> bytes:
    """A gRPC serializer that sends pre-serialized bytes as they are (and serializes a message)."""
    if isinstance(message, bytes):
        return message
    return message.SerializeToString()
