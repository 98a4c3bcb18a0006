"""The hand-built hot-path messages parse exactly like the ones the protobuf API builds."""

import numpy as np
import pytest

from proto import descent_pb2
from proto.tensor import from_tensor, to_tensor
from proto.wire import parameters_bytes, passthrough, push_request_bytes


@pytest.mark.parametrize(
    "array",
    [
        np.arange(6, dtype=np.float32).reshape(2, 3),
        np.random.default_rng(0).standard_normal((10, 3073)),
        np.zeros((0, 4), dtype=np.float32),
        np.arange(200, dtype=np.float64).reshape(20, 10)[:, ::2],  # not contiguous
        np.arange(4, dtype=">f8"),  # big-endian: converted once
    ],
)
def test_parameters_bytes_parse_like_the_message(array):
    parsed = descent_pb2.Parameters.FromString(parameters_bytes(array, version=123456789))
    expected = descent_pb2.Parameters(weights=to_tensor(array), version=123456789)
    assert parsed == expected
    np.testing.assert_array_equal(from_tensor(parsed.weights), array)


def test_push_request_bytes_parse_like_the_message():
    grad = np.random.default_rng(1).standard_normal((3, 5)).astype(np.float32)
    fields = dict(job_id="j", worker_id="w-1", node_id="n", loss=1.5, version=7, secret="s" * 32, updates=4)
    parsed = descent_pb2.PushRequest.FromString(push_request_bytes(grad, **fields))
    assert parsed == descent_pb2.PushRequest(gradient=to_tensor(grad), **fields)
    assert parsed.gradient.dtype == "float32" and list(parsed.gradient.shape) == [3, 5]


def test_large_array_length_varint_spans_several_bytes():
    array = np.ones((1000, 3073), dtype=np.float32)  # 12 MB: a 4-byte length
    parsed = descent_pb2.Parameters.FromString(parameters_bytes(array, version=1))
    assert len(parsed.weights.data) == array.nbytes and parsed.version == 1


def test_passthrough_sends_bytes_as_they_are_and_serializes_messages():
    message = descent_pb2.Parameters(version=3, stop=True)
    assert passthrough(b"abc") == b"abc"
    assert passthrough(message) == message.SerializeToString()
