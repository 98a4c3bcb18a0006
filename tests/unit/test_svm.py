"""worker.svm against its oracles: the naive double loop, the numerical gradient, brute force."""

import numpy as np
import pytest

from worker import kernel, numgrad, svm


def problem(rng, n, d, c, w_scale=1.0, dtype=np.float64):
    """Random (W, X, y) with the bias column; w_scale ~1 gives margins of both signs."""
    X = np.hstack([rng.standard_normal((n, d)), np.ones((n, 1))]).astype(dtype)
    W = (w_scale * rng.standard_normal((c, d + 1))).astype(dtype)
    return W, X, rng.integers(0, c, size=n)


def hinge_margins(W, X, y):
    scores = X @ W.T
    m = scores - scores[np.arange(len(y)), y][:, None] + 1
    m[np.arange(len(y)), y] = np.nan
    return m[~np.isnan(m)]


@pytest.mark.parametrize("n,d,c", [(1, 1, 2), (7, 3, 3), (50, 10, 10), (33, 20, 4)])
@pytest.mark.parametrize("reg", [0.0, 0.1, 2.5])
def test_the_notes_vectorized_form_and_the_tuned_kernel_equal_the_naive_loop(n, d, c, reg):
    rng = np.random.default_rng(n * 1000 + d * 10 + c)
    W, X, y = problem(rng, n, d, c)
    loss_naive, dW_naive = svm.svm_loss_naive(W, X, y, reg)
    for loss, dW in (svm.svm_loss_grad_notes(W, X, y, reg), kernel.svm_loss_grad(W, X, y, reg)):
        assert loss == pytest.approx(loss_naive, rel=1e-10)
        np.testing.assert_allclose(dW, dW_naive, rtol=1e-10, atol=1e-12 * np.abs(dW_naive).max())
    assert float(svm.svm_loss(W, X, y, reg)) == pytest.approx(loss_naive, rel=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_tuned_kernel_equals_the_notes_on_a_cifar_shaped_batch_in_blocks(dtype):
    rng = np.random.default_rng(5)
    W = (rng.standard_normal((10, 3073)) * 1e-3).astype(dtype)
    X = rng.standard_normal((256, 3073)).astype(dtype)
    y = rng.integers(0, 10, 256)
    assert kernel._block_rows(256, 10, 3073) < 256  # the blocked path
    loss, dW = kernel.svm_loss_grad(W, X, y, 1e-5)
    loss_notes, dW_notes = svm.svm_loss_grad_notes(W, X, y, 1e-5)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    assert dW.dtype == dtype and loss == pytest.approx(loss_notes, rel=tol)
    np.testing.assert_allclose(dW, dW_notes, rtol=tol, atol=tol * np.abs(dW_notes).max())


def test_cases_cover_margins_of_both_signs():
    W, X, y = problem(np.random.default_rng(50010010), 50, 10, 10)
    m = hinge_margins(W, X, y)
    assert (m > 0).any() and (m < 0).any()


def test_all_margins_inactive_leaves_only_the_regularizer():
    y = np.arange(12) % 3
    X = np.hstack([10.0 * np.eye(3)[y], np.ones((12, 1))])  # one-hot features, bias
    W = np.hstack([np.eye(3), np.zeros((3, 1))])  # s_y = 10, others 0: margins -9
    assert (hinge_margins(W, X, y) < 0).all()
    loss, dW = kernel.svm_loss_grad(W, X, y, 0.3)
    assert loss == pytest.approx(0.3 * np.sum(W * W), rel=1e-12)
    np.testing.assert_allclose(dW, 0.6 * W, rtol=1e-12)


def test_analytic_gradient_equals_full_numerical_gradient_away_from_kinks():
    rng = np.random.default_rng(7)
    W, X, y = problem(rng, 40, 6, 4)
    reg = 0.05
    h = 1e-5
    coords = np.array(list(np.ndindex(W.shape)))
    assert not svm.kink_mask(W, X, y, coords, h).any(), "test data sits on a kink; pick another seed"
    _, dW = kernel.svm_loss_grad(W, X, y, reg)
    numeric = numgrad.numerical_gradient(lambda W_: svm.svm_loss(W_, X, y, reg), W, h=h)
    assert numgrad.rel_error(dW, numeric).max() < 1e-8


def test_float32_in_float32_out():
    rng = np.random.default_rng(3)
    W, X, y = problem(rng, 64, 30, 5, w_scale=0.1, dtype=np.float32)
    loss, dW = kernel.svm_loss_grad(W, X, y, 1e-3)
    assert dW.dtype == np.float32 and isinstance(loss, float)
    loss64, dW64 = kernel.svm_loss_grad(W.astype(np.float64), X.astype(np.float64), y, 1e-3)
    assert loss == pytest.approx(loss64, rel=1e-5)
    np.testing.assert_allclose(dW, dW64, rtol=1e-4, atol=1e-5)
    # A float64 X is cast once to W's dtype: the result stays float32.
    assert kernel.svm_loss_grad(W, X.astype(np.float64), y, 1e-3)[1].dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_batch_in_blocks_with_a_partial_last_block_equals_the_naive_loop(dtype):
    # CIFAR-shaped rows: the GEMMs run in blocks of 32 rows; 300 = 9 x 32 + 12.
    rng = np.random.default_rng(5)
    W, X, y = problem(rng, 300, 3072, 10, w_scale=0.01)
    assert kernel._block_rows(300, 10, 3073) == 32
    loss, dW = kernel.svm_loss_grad(W.astype(dtype), X.astype(dtype), y, 0.01)
    loss_naive, dW_naive = svm.svm_loss_naive(W, X, y, 0.01)
    tol = 1e-10 if dtype == np.float64 else 2e-5
    assert loss == pytest.approx(loss_naive, rel=tol)
    np.testing.assert_allclose(dW, dW_naive, rtol=tol, atol=tol * np.abs(dW_naive).max())


def test_block_rows_are_powers_of_two_with_small_gemms_or_the_whole_batch():
    assert kernel._block_rows(256, 10, 3073) == 32  # 32 x 10 x 3073 multiply-adds <= 1e6
    assert kernel._block_rows(256, 10, 785) == 64  # MNIST with the bias column
    assert kernel._block_rows(256, 10, 65) == 256  # digits: one small GEMM already
    assert kernel._block_rows(256, 100, 3073) == 256  # blocks under 16 rows: not worth it
    assert kernel._block_rows(20, 10, 3073) == 20


@pytest.mark.parametrize("label_dtype", [np.uint8, np.int16, np.int32, np.uint32, np.int64, np.uint64])
def test_any_integer_label_dtype_gives_the_naive_result_and_out_of_range_is_refused(label_dtype):
    rng = np.random.default_rng(11)
    W, X, y = problem(rng, 30, 8, 4)
    loss, dW = kernel.svm_loss_grad(W, X, y.astype(label_dtype), 0.2)
    loss_naive, dW_naive = svm.svm_loss_naive(W, X, y, 0.2)
    assert loss == pytest.approx(loss_naive, rel=1e-10)
    np.testing.assert_allclose(dW, dW_naive, rtol=1e-10, atol=1e-12)
    bad = y.astype(label_dtype)
    for label in (4, np.iinfo(label_dtype).max):  # one past the last class; a label far away
        bad[3] = label
        with pytest.raises(ValueError, match=r"\[0, 4\)"):  # refused without allocating per label
            kernel.svm_loss_grad(W, X, bad, 0.2)
    if np.iinfo(label_dtype).min < 0:
        bad[3] = -1
        with pytest.raises(ValueError, match=r"\[-1, "):
            kernel.svm_loss_grad(W, X, bad, 0.2)


def test_a_margin_of_exactly_zero_takes_the_zero_subgradient_like_the_naive_loop():
    # s = (1, 0, 0) for label 0: margins m01 = m02 = 0 exactly; a 4th example pushes s1 over.
    X = np.array([[1.0, 0.0, 1.0], [1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 0.0, 1.0]])
    W = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    y = np.array([0, 0, 0, 1])
    for dtype in (np.float64, np.float32):
        loss, dW = kernel.svm_loss_grad(W.astype(dtype), X.astype(dtype), y, 0.0)
        loss_naive, dW_naive = svm.svm_loss_naive(W, X, y, 0.0)
        assert loss == pytest.approx(loss_naive, rel=1e-6)
        np.testing.assert_array_equal(dW, dW_naive.astype(dtype))


@pytest.mark.parametrize("W_shape,X_shape,y,needle", [
    ((3, 5), (4, 6), [0, 1, 2, 0], "(3, 5)"),
    ((3, 5), (4, 5), [0, 1, 2], "(3,)"),
    ((3, 5), (4, 5), [0, 1, 2, 3], "[0, 3]"),
    ((3, 5), (4, 5), [0, -1, 2, 0], "[-1, 2]"),
    ((3, 5), (4, 5), [[0, 1, 2, 0]], "(1, 4)"),
    ((3, 5), (5,), [0], "(5,)"),
])
def test_bad_shapes_and_labels_raise_value_error_naming_them(W_shape, X_shape, y, needle):
    W, X = np.zeros(W_shape), np.ones(X_shape)
    for fn in (kernel.svm_loss_grad, svm.svm_loss, svm.svm_loss_naive):
        with pytest.raises(ValueError) as err:
            fn(W, X, np.array(y), 0.0)
        assert needle in str(err.value)


def test_mismatch_message_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(10, 3073\).*\(256, 785\)"):
        kernel.svm_loss_grad(np.zeros((10, 3073)), np.ones((256, 785)), np.zeros(256, dtype=int), 0.0)


def test_bad_dtypes_and_reg_raise():
    W, X, y = np.zeros((3, 4)), np.ones((2, 4)), np.array([0, 1])
    with pytest.raises(ValueError, match="integer"):
        kernel.svm_loss_grad(W, X, y.astype(float), 0.0)
    with pytest.raises(ValueError, match="float"):
        kernel.svm_loss_grad(W.astype(int), X, y, 0.0)
    with pytest.raises(ValueError, match="reg"):
        kernel.svm_loss_grad(W, X, y, -1.0)


def test_predict_and_accuracy():
    X = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [2.0, 3.0, 1.0]])
    W = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    np.testing.assert_array_equal(svm.predict(W, X), [0, 1, 1])
    assert svm.accuracy(W, X, np.array([0, 1, 0])) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        svm.predict(W, X[:, :2])


def test_kink_mask_true_on_a_zero_margin_false_far_away():
    # One example, label 0: s0 = 1, s1 = 0, so the margin m01 = s1 - s0 + 1 is exactly 0.
    X = np.array([[1.0, 0.0, 1.0]])
    y = np.array([0])
    W = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    coords = np.array([[0, 0], [1, 0], [0, 1], [1, 2]])
    # X[0, 1] == 0: moving W[c, 1] moves no score, so no kink there.
    np.testing.assert_array_equal(svm.kink_mask(W, X, y, coords, 1e-5), [True, True, False, True])
    far = np.array([[5.0, 0.0, 0.0], [0.0, 0.0, 0.0]])  # m01 = -4
    assert not svm.kink_mask(far, X, y, coords, 1e-5).any()
    # The margin is reached only when h * |X[i, d]| >= |m|.
    near = np.array([[1.0 + 1e-3, 0.0, 0.0], [0.0, 0.0, 0.0]])  # m01 = -1e-3
    np.testing.assert_array_equal(svm.kink_mask(near, X, y, coords[:1], 2e-3), [True])
    np.testing.assert_array_equal(svm.kink_mask(near, X, y, coords[:1], 5e-4), [False])


def test_kink_mask_equals_brute_force_sign_changes():
    rng = np.random.default_rng(11)
    W, X, y = problem(rng, 30, 5, 4)
    h = 0.05  # large, so both outcomes occur
    coords = np.array(list(np.ndindex(W.shape)))
    expected = []
    for c, d in coords:
        plus, minus = W.copy(), W.copy()
        plus[c, d] += h
        minus[c, d] -= h
        expected.append(((hinge_margins(plus, X, y) > 0) != (hinge_margins(minus, X, y) > 0)).any())
    mask = svm.kink_mask(W, X, y, coords, h)
    assert mask.any() and not mask.all()
    np.testing.assert_array_equal(mask, expected)


def test_kink_mask_rejects_bad_coords():
    W, X, y = problem(np.random.default_rng(0), 4, 2, 3)
    with pytest.raises(ValueError, match=r"\(K, 2\)"):
        svm.kink_mask(W, X, y, np.array([1, 2]), 1e-5)
    with pytest.raises(ValueError, match="out of range"):
        svm.kink_mask(W, X, y, np.array([[3, 0]]), 1e-5)
