"""Hand-built wire bytes of the two hot messages, with one copy of the array.

Building ``Parameters`` or ``PushRequest`` through the protobuf API copies the
array three times (``tobytes``, the message's own copy of the bytes field, then
``SerializeToString``). The protobuf wire format of a message is the
concatenation of its fields in any order, so the serialized message can be
assembled as ``header + array bytes + trailer`` with a single ``bytes.join``
straight from the array's buffer. The result parses exactly like the message
built the slow way (tests/test_wire.py checks it field by field).

Used on the hot path only: the worker's PushStream requests and the server's
PushStream replies travel as these bytes (the gRPC method handlers pass bytes
through unchanged).
"""

from __future__ import annotations

import sys

import numpy as np

from proto import descent_pb2

_LITTLE = sys.byteorder == "little"
#: Tag bytes: field 3 of Tensor (data) and the embedded message fields, all wire type 2.
_TENSOR_DATA_TAG = b"\x1a"
_PARAMETERS_WEIGHTS_TAG = b"\x0a"
_PUSH_GRADIENT_TAG = b"\x22"


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _tensor_parts(array: np.ndarray) -> tuple[bytes, memoryview | bytes]:
    """The Tensor field's bytes before the data, and the data itself (a view: no copy)."""
    array = np.ascontiguousarray(array)
    if _LITTLE and array.dtype.isnative:
        data = memoryview(array).cast("B") if array.size else b""
    else:  # big-endian host or a byte-swapped array: one conversion copy
        data = array.astype(array.dtype.newbyteorder("<")).tobytes()
    head = descent_pb2.Tensor(dtype=array.dtype.name, shape=array.shape).SerializeToString()
    length = len(data)
    head += _TENSOR_DATA_TAG + _varint(length)
    return head, data


def _embedded(tag: bytes, array: np.ndarray) -> tuple[bytes, memoryview | bytes]:
    head, data = _tensor_parts(array)
    return tag + _varint(len(head) + len(data)) + head, data


def parameters_bytes(weights: np.ndarray, version: int) -> bytes:
    """Serialized ``Parameters(weights=<weights>, version=version, stop=False)``."""
    head, data = _embedded(_PARAMETERS_WEIGHTS_TAG, weights)
    tail = descent_pb2.Parameters(version=version).SerializeToString()
    return b"".join((head, data, tail))


def push_request_bytes(gradient: np.ndarray, **fields) -> bytes:
    """Serialized ``PushRequest(gradient=<gradient>, **fields)`` (fields: every scalar PushRequest field)."""
    head, data = _embedded(_PUSH_GRADIENT_TAG, gradient)
    rest = descent_pb2.PushRequest(**fields).SerializeToString()
    return b"".join((rest, head, data))


def passthrough(message: bytes | object) -> bytes:
    """A gRPC serializer that sends pre-serialized bytes as they are (and serializes a message)."""
    if isinstance(message, bytes):
        return message
    return message.SerializeToString()
