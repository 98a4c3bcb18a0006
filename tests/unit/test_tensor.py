"""The Tensor codec: round trips for every dtype, chunked streams, and rejection of bad messages."""

import numpy as np
import pytest

from proto import descent_pb2
from proto.tensor import SUPPORTED_DTYPES, from_chunks, from_tensor, to_chunks, to_tensor


@pytest.mark.parametrize("dtype", SUPPORTED_DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (7,), (3, 5), (2, 3, 4)])
def test_round_trip_every_dtype(dtype, shape):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal(shape) * 100).astype(dtype)
    back = from_tensor(to_tensor(array))
    assert back.dtype == np.dtype(dtype)
    assert back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_bytes_are_little_endian_c_order():
    array = np.array([[1, 2], [3, 4]], dtype=">i4")[:, ::-1]  # big-endian, not contiguous
    tensor = to_tensor(array)
    assert tensor.dtype == "int32"
    assert tensor.data == np.array([2, 1, 4, 3], dtype="<i4").tobytes()


def test_rejects_size_mismatch():
    tensor = to_tensor(np.zeros((3, 4), dtype=np.float32))
    tensor.shape[:] = [3, 5]
    with pytest.raises(ValueError, match=r"shape \[3, 5\] needs 60 bytes, got 48"):
        from_tensor(tensor)


def test_rejects_truncated_data():
    tensor = to_tensor(np.zeros(10, dtype=np.float64))
    tensor.data = tensor.data[:-1]
    with pytest.raises(ValueError, match="needs 80 bytes, got 79"):
        from_tensor(tensor)


def test_rejects_unknown_dtype_and_negative_shape():
    with pytest.raises(ValueError, match="unsupported tensor dtype 'complex64'"):
        from_tensor(descent_pb2.Tensor(dtype="complex64", shape=[1], data=b"\0" * 8))
    with pytest.raises(ValueError, match="negative dimension"):
        from_tensor(descent_pb2.Tensor(dtype="uint8", shape=[-1], data=b""))
    with pytest.raises(ValueError, match="unsupported tensor dtype 'object'"):
        to_tensor(np.array([object()]))


def test_chunks_round_trip_and_size():
    weights = np.random.default_rng(1).standard_normal((10, 3073)).astype(np.float32)
    chunks = list(to_chunks(weights, version=42, chunk_bytes=10_000))
    assert len(chunks) == -(-weights.nbytes // 10_000)
    assert all(len(c.data) <= 10_000 for c in chunks)
    back, version = from_chunks(chunks)
    assert version == 42
    np.testing.assert_array_equal(back, weights)


def test_chunks_out_of_order_or_empty_rejected():
    chunks = list(to_chunks(np.arange(100, dtype=np.int64), chunk_bytes=64))
    with pytest.raises(ValueError, match="offset"):
        from_chunks([chunks[0], chunks[2], chunks[1]] + chunks[3:])
    with pytest.raises(ValueError, match="empty tensor stream"):
        from_chunks([])
