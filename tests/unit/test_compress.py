"""worker.compress: parsing, round-trip error bounds per kind, malformed payloads, error feedback."""

from __future__ import annotations

import numpy as np
import pytest

from worker.compress import INT8_MAX, Codec, Compressed, ErrorFeedback, decode, encode, parse_compress, topk_count


@pytest.fixture
def grad():
    rng = np.random.default_rng(3)
    return (rng.standard_normal((10, 3073)) * np.logspace(-4, 1, 10)[:, None]).astype(np.float32)


@pytest.mark.parametrize("text,codec", [
    ("none", Codec()), ("", Codec()), ("fp16", Codec("fp16")), ("int8", Codec("int8")),
    ("topk:0.01", Codec("topk", 0.01)), ("topk:1", Codec("topk", 1.0)),
])
def test_parse(text, codec):
    assert parse_compress(text) == codec


@pytest.mark.parametrize("text,words", [
    ("gzip", "unknown kind 'gzip'"), ("topk:0", "(0, 1]"), ("topk:2", "(0, 1]"), ("topk:nan", "(0, 1]"),
    ("topk:-0.1", "(0, 1]"), ("topk:", "needs a number"), ("topk:x", "needs a number"), ("fp16:3", "no argument"),
])
def test_parse_refuses(text, words):
    with pytest.raises(ValueError, match="compress") as error:
        parse_compress(text)
    assert words in str(error.value)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fp16_round_trip(grad, dtype):
    g = grad.astype(dtype)
    out = decode(encode(g, Codec("fp16")), g.shape, dtype)
    assert out.dtype == dtype and out.shape == g.shape
    # half precision: relative error at most 2^-11 for normal numbers (these are all normal)
    assert np.all(np.abs(out - g) <= np.abs(g) * 2.0**-11 + 1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_int8_round_trip_per_row(grad, dtype):
    g = grad.astype(dtype)
    compressed = encode(g, Codec("int8"))
    assert compressed.arrays["values"].dtype == np.int8 and compressed.arrays["scales"].shape == (10,)
    out = decode(compressed, g.shape, dtype)
    assert out.dtype == dtype
    # every entry within half a step of its own row's scale (rows span 5 orders of magnitude)
    step = np.abs(g).max(axis=1, keepdims=True) / INT8_MAX
    assert np.all(np.abs(out - g) <= 0.5 * step * (1 + 1e-5))
    assert np.abs(out - g).max(axis=1)[0] < 1e-5  # the small row is not quantized on the large row's scale


def test_int8_zero_row():
    g = np.zeros((3, 4), np.float32)
    g[1] = [1, -2, 3, 0]
    out = decode(encode(g, Codec("int8")), g.shape, np.float32)
    assert np.array_equal(out[0], np.zeros(4)) and np.allclose(out[1], g[1], atol=3 / 254)


def test_topk_keeps_the_largest(grad):
    codec = Codec("topk", 0.01)
    compressed = encode(grad, codec)
    k = topk_count(0.01, grad.size)
    assert k == 308 and compressed.arrays["indices"].shape == (k,) and compressed.arrays["indices"].dtype == np.int32
    out = decode(compressed, grad.shape, np.float32)
    kept = out != 0
    assert kept.sum() == k and np.array_equal(out[kept], grad[kept])
    assert np.abs(grad[~kept]).max() <= np.abs(grad[kept]).min()
    assert compressed.nbytes == 8 * k


def test_bytes_shrink(grad):
    sizes = {kind: encode(grad, parse_compress(kind)).nbytes for kind in ("none", "fp16", "int8", "topk:0.01")}
    assert sizes["none"] == grad.nbytes
    assert sizes["fp16"] == grad.nbytes // 2 and sizes["int8"] == grad.size + 40 and sizes["topk:0.01"] < grad.nbytes / 40


def _bad(kind, shape, **arrays):
    return Compressed(kind, shape, {name: np.asarray(a[0], dtype=a[1]) for name, a in arrays.items()})


@pytest.mark.parametrize("compressed,words", [
    (_bad("fp16", (2, 3), values=([1, 2, 3], "float16")), "shape [3], expected [2, 3]"),
    (_bad("fp16", (3, 2), values=(np.ones((3, 2)), "float16")), "W has [2, 3]"),
    (_bad("fp16", (2, 3), values=(np.ones((2, 3)), "float32")), "dtype float32, expected float16"),
    (_bad("int8", (2, 3), values=(np.ones((2, 3)), "int8")), "scales missing"),
    (_bad("int8", (2, 3), values=(np.ones((2, 3)), "int8"), scales=([1, 2, 3], "float32")), "scales has shape [3]"),
    (_bad("int8", (2, 3), values=(np.ones((2, 3)), "int8"), scales=([1, np.inf], "float32")), "finite"),
    (_bad("topk", (2, 3), values=([1.0], "float32"), indices=([6], "int32")), "in [0, 6)"),
    (_bad("topk", (2, 3), values=([1.0], "float32"), indices=([-1], "int32")), "in [0, 6)"),
    (_bad("topk", (2, 3), values=([1.0, 2.0], "float32"), indices=([2, 2], "int32")), "increasing"),
    (_bad("topk", (2, 3), values=([1.0, 2.0], "float32"), indices=([2], "int32")), "one length"),
    (_bad("zip", (2, 3), values=([1.0], "float32")), "unknown kind 'zip'"),
])
def test_decode_refuses(compressed, words):
    with pytest.raises(ValueError) as error:
        decode(compressed, (2, 3), np.float32)
    assert words in str(error.value)


@pytest.mark.parametrize("dtype,tolerance", [(np.float64, 1e-12), (np.float32, 1e-4)])
def test_error_feedback_sends_everything_eventually(dtype, tolerance):
    """Oracle: sum of true gradients == sum of what was sent (decoded) + the final residual."""
    rng = np.random.default_rng(0)
    feedback = ErrorFeedback(Codec("topk", 0.05))
    true_sum = np.zeros((10, 50), dtype)
    sent_sum = np.zeros((10, 50), dtype)
    for _ in range(200):
        g = rng.standard_normal((10, 50)).astype(dtype)
        true_sum += g
        sent_sum += decode(feedback.encode(g), g.shape, dtype)
    assert feedback.residual.dtype == dtype
    np.testing.assert_allclose(sent_sum + feedback.residual, true_sum, rtol=0, atol=tolerance)
    # and the residual is what was held back, not everything: it stays bounded while sums grow
    assert np.abs(feedback.residual).max() < np.abs(sent_sum).max()


def test_error_feedback_first_push_and_other_kinds(grad):
    feedback = ErrorFeedback(Codec("topk", 0.01))
    compressed = feedback.encode(grad)
    np.testing.assert_array_equal(decode(compressed, grad.shape, np.float32) + feedback.residual, grad)
    plain = ErrorFeedback(Codec("fp16"))
    plain.encode(grad)
    assert plain.residual is None
