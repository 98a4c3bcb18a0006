"""Decode a hot message with its tensor's data left in the received bytes (no copy).

``PushRequest.FromString`` copies the gradient's bytes into the message (3.7 ms for a
12 MB W here), and ``Parameters.FromString`` copies W's the same way. The decoders here
walk the message's top-level fields and its tensor's fields, cut the tensor's ``data``
field out, parse the small remainder with the protobuf runtime as usual (so every other
field keeps protobuf's own rules and errors), and hand the data back as a memoryview of
the received bytes: a ``Lifted`` message. Anything unusual (the tensor or its data
repeated, which protobuf would merge; a group; a tag or length over 5 bytes; more than
``MAX_FIELDS`` fields in one message; bytes that do not walk) is left to plain
``FromString``, which decodes it, or raises on it, exactly as before. Small messages are
decoded plainly too: below ``MIN_LIFT_BYTES`` the walk costs more than the copy.
"""

from __future__ import annotations

from typing import Any

from proto import descent_pb2
from proto.wire import encode_varint

#: Messages shorter than this are decoded with plain FromString.
MIN_LIFT_BYTES = 1 << 16
#: Fields walked per message level before the walk gives up (a PushRequest has 10 fields, a
#: Tensor 3, its shape packed into one): a message of a million tiny fields is left to
#: FromString's C parser instead of costing this Python loop a second.
MAX_FIELDS = 64
#: Longest varint protobuf takes for a tag or a length (32 bits); values may take 10 bytes.
_SHORT_VARINT, _LONG_VARINT = 5, 10
_LEN = 2  # wire type of a length-delimited field
_TENSOR_DATA = 3  # Tensor.data


class _Irregular(Exception):
    """The bytes are not the plain shape the walk expects: decode them the ordinary way."""


def _varint(buf: bytes, pos: int, end: int, most: int = _SHORT_VARINT) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= end or shift >= 7 * most:
            raise _Irregular
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _only(buf: bytes, start: int, end: int, number: int) -> tuple[int, int, int]:
    """The one length-delimited field ``number`` in buf[start:end]: (field start, value start, value end).

    Raises _Irregular if it is absent, repeated or not length-delimited, or the bytes do not walk.
    """
    found = None
    pos = start
    fields = 0
    while pos < end:
        fields += 1
        if fields > MAX_FIELDS:
            raise _Irregular
        field_start = pos
        key, pos = _varint(buf, pos, end)
        wire = key & 7
        if wire == 0:
            _, pos = _varint(buf, pos, end, _LONG_VARINT)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == _LEN:
            length, pos = _varint(buf, pos, end)
            if key >> 3 == number:
                if found is not None:
                    raise _Irregular
                found = (field_start, pos, pos + length)
            pos += length
        else:  # groups (3, 4) and invalid wire types
            raise _Irregular
        if key >> 3 == number and wire != _LEN:
            raise _Irregular
    if pos != end or found is None or found[2] > end:
        raise _Irregular
    return found


class TensorView:
    """A Tensor's dtype and shape (from the parsed message) with its data as a view of the received bytes."""

    __slots__ = ("dtype", "shape", "data")

    def __init__(self, tensor: descent_pb2.Tensor, data: memoryview):
        self.dtype, self.shape, self.data = tensor.dtype, tensor.shape, data


_NOT_FORWARDED = frozenset({"SerializeToString", "SerializePartialToString", "ByteSize", "CopyFrom", "MergeFrom"})


class Lifted:
    """A decoded message whose tensor field reads as a ``TensorView``; every other attribute is the message's."""

    __slots__ = ("message", "_field", "_data")

    def __init__(self, message: Any, field: str, data: memoryview):
        self.message, self._field, self._data = message, field, data

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in Lifted.__slots__ or name in _NOT_FORWARDED:
            # Unset slots (copy, pickle) and serializing: .message lacks the data, so none of it forwards.
            raise AttributeError(f"{name} of a Lifted message")
        if name == self._field:
            return TensorView(getattr(self.message, name), self._data)
        return getattr(self.message, name)


def _lift(cls: type, field: str, number: int, buf: bytes) -> Any:
    if len(buf) < MIN_LIFT_BYTES:
        return cls.FromString(buf)
    try:
        outer, start, end = _only(buf, 0, len(buf), number)
        data_field, data_start, data_end = _only(buf, start, end, _TENSOR_DATA)
    except _Irregular:
        return cls.FromString(buf)
    inner = b"".join((buf[start:data_field], buf[data_end:end]))
    stripped = b"".join((buf[:outer], encode_varint(number << 3 | _LEN), encode_varint(len(inner)), inner, buf[end:]))
    message = cls.FromString(stripped)
    return Lifted(message, field, memoryview(buf)[data_start:data_end])


def push_request(buf: bytes) -> Any:
    """A PushRequest's deserializer: the gradient's data stays in ``buf``."""
    return _lift(descent_pb2.PushRequest, "gradient", 4, buf)


def parameters(buf: bytes) -> Any:
    """A Parameters' deserializer: W's data stays in ``buf``."""
    return _lift(descent_pb2.Parameters, "weights", 1, buf)
