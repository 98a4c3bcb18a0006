"""proto.lifted against protobuf's own FromString: the same fields, the data left in the received bytes."""

import numpy as np
import pytest
from google.protobuf.message import DecodeError

from proto import descent_pb2, lifted
from proto.tensor import from_tensor, to_tensor
from proto.wire import encode_varint, parameters_bytes, push_request_bytes

FIELDS = dict(job_id="job-1", worker_id="job-1-w0", node_id="n", loss=2.5, version=7, secret="s" * 32, updates=1)


def _plain(decoded):
    """A Lifted message as the plain message FromString would give (its data copied back in)."""
    if not isinstance(decoded, lifted.Lifted):
        return decoded
    message = type(decoded.message)()
    message.CopyFrom(decoded.message)
    field = "gradient" if isinstance(message, descent_pb2.PushRequest) else "weights"
    getattr(message, field).data = bytes(getattr(decoded, field).data)
    return message


def _same(decode, cls, buf):
    """decode(buf) and cls.FromString(buf) both raise DecodeError, or agree on every field."""
    try:
        expected = cls.FromString(buf)
    except DecodeError:
        with pytest.raises(DecodeError):
            decode(buf)
        return None
    got = decode(buf)
    assert _plain(got) == expected
    return got


@pytest.mark.parametrize("shape", [(10, 3073), (1000, 100)])
def test_a_push_decodes_like_fromstring_with_the_gradient_a_view_of_the_received_bytes(shape):
    grad = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    for buf in (push_request_bytes(grad, **FIELDS),
                descent_pb2.PushRequest(gradient=to_tensor(grad), **FIELDS).SerializeToString()):
        got = _same(lifted.push_request, descent_pb2.PushRequest, buf)
        assert isinstance(got, lifted.Lifted)
        array = from_tensor(got.gradient)
        np.testing.assert_array_equal(array, grad)
        assert np.shares_memory(array, np.frombuffer(buf, dtype=np.uint8))  # no copy
        assert got.worker_id == "job-1-w0" and got.version == 7 and got.HasField("gradient")


def test_parameters_decode_like_fromstring_with_w_a_view():
    W = np.random.default_rng(1).standard_normal((10, 3073))
    buf = parameters_bytes(W, 42)
    got = _same(lifted.parameters, descent_pb2.Parameters, buf)
    np.testing.assert_array_equal(from_tensor(got.weights), W)
    assert got.version == 42 and not got.stop


def test_small_and_tensorless_messages_are_plain_messages():
    small = push_request_bytes(np.ones((2, 3), np.float32), **FIELDS)
    assert type(lifted.push_request(small)) is descent_pb2.PushRequest
    pull = descent_pb2.PushRequest(shared_memory=True, **FIELDS).SerializeToString()
    assert type(lifted.push_request(pull)) is descent_pb2.PushRequest
    assert type(lifted.parameters(descent_pb2.Parameters(stop=True, version=3).SerializeToString())) \
        is descent_pb2.Parameters


def test_a_repeated_tensor_or_data_field_decodes_as_protobuf_merges_it():
    grad = np.arange(30000, dtype=np.float32)
    one = push_request_bytes(grad, **FIELDS)
    other = push_request_bytes(grad[::-1].copy(), **FIELDS)
    # The gradient field twice: protobuf merges the two Tensors (shapes appended, the last data wins).
    got = _same(lifted.push_request, descent_pb2.PushRequest, one + other)
    assert list(got.gradient.shape) == [30000, 30000] and bytes(got.gradient.data) == grad[::-1].tobytes()
    # The data field twice inside one Tensor.
    tensor = to_tensor(grad).SerializeToString() + b"\x1a\x04abcd"
    twice = descent_pb2.PushRequest(**FIELDS).SerializeToString() + b"\x22" + encode_varint(len(tensor)) + tensor
    _same(lifted.push_request, descent_pb2.PushRequest, twice)


def test_corrupted_pushes_decode_or_fail_exactly_as_fromstring():
    rng = np.random.default_rng(3)
    grad = rng.standard_normal((10, 3073)).astype(np.float32)
    good = push_request_bytes(grad, **FIELDS)
    head = len(good) - grad.nbytes  # the fields and the tensor's header come before the data
    cases = [good[:-1], good[: head - 2], good + b"\x08", good + b"\x0b", b"\xff" * 70000, good[:10] + good]
    for _ in range(400):
        buf = bytearray(good)
        for _ in range(int(rng.integers(1, 4))):  # flip bytes where the structure is
            buf[int(rng.integers(0, head + 8))] = int(rng.integers(0, 256))
        cases.append(bytes(buf))
    decoded = failed = 0
    for buf in cases:
        if _same(lifted.push_request, descent_pb2.PushRequest, buf) is None:
            failed += 1
        else:
            decoded += 1
    assert decoded > 50 and failed > 50  # both sides of the oracle were exercised


def test_a_message_of_many_small_fields_is_left_to_fromstring_after_max_fields():
    grad = np.ones((10, 3073), np.float32)
    padding = b"\x30\x00" * (lifted.MAX_FIELDS + 1)  # field 6 (version) = 0, again and again
    buf = padding + push_request_bytes(grad, **FIELDS)
    with pytest.raises(lifted._Irregular):
        lifted._only(buf, 0, len(buf), 4)
    got = _same(lifted.push_request, descent_pb2.PushRequest, buf)
    assert type(got) is descent_pb2.PushRequest  # decoded the ordinary way
    few = b"\x30\x00" * (lifted.MAX_FIELDS - 12) + push_request_bytes(grad, **FIELDS)
    assert isinstance(_same(lifted.push_request, descent_pb2.PushRequest, few), lifted.Lifted)


def test_overlong_tags_and_lengths_fail_as_fromstring_fails():
    grad = np.ones((10, 3073), np.float32)
    rest = descent_pb2.PushRequest(**FIELDS).SerializeToString()
    tensor = to_tensor(grad).SerializeToString()
    overlong_tag = b"\xa2\x80\x80\x80\x80\x00"  # field 4, wire type 2, in 6 bytes
    overlong_length = b"\x22" + bytes([len(tensor) & 0x7F | 0x80, (len(tensor) >> 7) & 0x7F | 0x80,
                                       (len(tensor) >> 14) | 0x80, 0x80, 0x80, 0x00])
    for buf in (rest + overlong_tag + encode_varint(len(tensor)) + tensor, rest + overlong_length + tensor):
        with pytest.raises(DecodeError):
            descent_pb2.PushRequest.FromString(buf)
        with pytest.raises(DecodeError):
            lifted.push_request(buf)


def test_a_lifted_message_does_not_pretend_to_serialize_without_its_data():
    got = lifted.push_request(push_request_bytes(np.ones((10, 3073), np.float32), **FIELDS))
    for name in ("SerializeToString", "ByteSize", "CopyFrom"):
        with pytest.raises(AttributeError):
            getattr(got, name)
    import copy

    twin = copy.copy(got)  # no recursion through the unset slots
    assert twin.worker_id == got.worker_id and bytes(twin.gradient.data) == bytes(got.gradient.data)


def test_the_request_rules_apply_to_a_lifted_push():
    from server.errors import RequestError
    from server.fields import check_request

    got = lifted.push_request(push_request_bytes(np.ones((10, 3073), np.float32), **{**FIELDS, "job_id": "../etc"}))
    assert isinstance(got, lifted.Lifted)
    with pytest.raises(RequestError, match="job_id '../etc' is not an id"):
        check_request(got)
