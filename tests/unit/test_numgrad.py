"""worker.numgrad: relative error, finite differences against calculus, and the sparse check."""

import functools

import numpy as np
import pytest

from worker import kernel, numgrad, svm
from worker.data import prepare as data


def test_rel_error_hand_cases():
    assert numgrad.rel_error(1.0, 1.0) == 0.0
    assert numgrad.rel_error(1.0, -1.0) == 1.0
    assert numgrad.rel_error(0.0, 0.0) == 0.0  # tiny keeps 0/0 at 0
    assert numgrad.rel_error(1.0, 1.1) == pytest.approx(0.1 / 2.1)
    assert numgrad.rel_error(-2.0, 0.0) == 1.0
    assert numgrad.rel_error(1e-320, 0.0, tiny=1e-300) == pytest.approx(1e-20, rel=0.01)
    np.testing.assert_allclose(numgrad.rel_error(np.array([1.0, 3.0]), np.array([1.0, 1.0])), [0.0, 0.5])


def cubic(W):
    return float(np.sum(W**3 + W**2))


def cubic_grad(W):
    return 3 * W**2 + 2 * W


def test_centered_beats_forward_with_the_predicted_orders():
    W = np.array([[0.5, -1.5], [2.0, 0.3]])
    exact = cubic_grad(W)
    err = {}
    for formula in ("centered", "forward"):
        for h in (1e-3, 5e-4):
            num = np.array([numgrad.numerical_gradient_at(cubic, W, i, h, formula) for i in np.ndindex(W.shape)])
            err[formula, h] = np.abs(num - exact.ravel())
    # forward: error ~ h f''/2 = h (6w + 2) / 2; centered: error ~ h^2 f'''/6 = h^2.
    np.testing.assert_allclose(err["forward", 1e-3], 1e-3 * (6 * W.ravel() + 2) / 2 * np.sign(6 * W.ravel() + 2),
                               rtol=0.01)
    np.testing.assert_allclose(err["centered", 1e-3], 1e-6, rtol=0.01)
    assert (err["centered", 1e-3] < err["forward", 1e-3] / 100).all()
    np.testing.assert_allclose(err["forward", 1e-3] / err["forward", 5e-4], 2, rtol=0.01)  # O(h)
    np.testing.assert_allclose(err["centered", 1e-3] / err["centered", 5e-4], 4, rtol=0.01)  # O(h^2)


def test_full_numerical_gradient_of_a_cubic():
    W = np.random.default_rng(0).standard_normal((3, 4))
    np.testing.assert_allclose(numgrad.numerical_gradient(cubic, W, h=1e-5), cubic_grad(W), rtol=1e-8, atol=1e-9)


def test_forward_reuses_fx_and_evaluation_counts():
    calls = []

    def f(W):
        calls.append(1)
        return cubic(W)

    W = np.ones((2, 2))
    numgrad.numerical_gradient_at(f, W, (0, 1), formula="centered")
    assert len(calls) == 2
    calls.clear()
    numgrad.numerical_gradient_at(f, W, (0, 1), formula="forward")
    assert len(calls) == 2
    calls.clear()
    numgrad.numerical_gradient_at(f, W, (0, 1), formula="forward", fx=cubic(W))
    assert len(calls) == 1


def test_caller_w_is_never_mutated_and_f_sees_float64():
    rng = np.random.default_rng(5)
    W = rng.standard_normal((3, 4)).astype(np.float32)
    before = W.copy()
    seen = set()

    def f(W_):
        seen.add(W_.dtype)
        assert W_ is not W
        return cubic(W_)

    numgrad.numerical_gradient_at(f, W, (1, 2))
    numgrad.numerical_gradient(f, W)
    result = numgrad.grad_check_sparse(f, W, cubic_grad(W.astype(np.float64)), 5, rng)
    assert W.tobytes() == before.tobytes()
    assert seen == {np.dtype(np.float64)}
    assert result.passed


def test_sparse_check_samples_distinct_coordinates_capped_at_w_size():
    W = np.random.default_rng(1).standard_normal((2, 3))
    result = numgrad.grad_check_sparse(cubic, W, cubic_grad(W), 50, np.random.default_rng(2))
    coords = {(ch.c, ch.d) for ch in result.checks}
    assert len(result.checks) == 6 and len(coords) == 6
    assert result.loss == pytest.approx(cubic(W))
    assert result.formula == "centered" and result.h == 1e-5 and result.threshold == 1e-7
    assert result.passed and result.max_rel_error_smooth < 1e-7


def svm_check(W, X, y, reg, analytic, checks=30, formula="centered", seed=0):
    return numgrad.grad_check_sparse(
        lambda W_: svm.svm_loss(W_, X, y, reg), W, analytic, checks, np.random.default_rng(seed),
        formula=formula, kink_fn=functools.partial(svm.kink_mask, W, X, y),
    )


def test_a_planted_bug_in_the_regularizer_gradient_fails_the_check():
    rng = np.random.default_rng(3)
    X = np.hstack([rng.standard_normal((50, 8)), np.ones((50, 1))])
    y = rng.integers(0, 5, 50)
    W = rng.standard_normal((5, 9))
    reg = 0.5
    _, dW = kernel.svm_loss_grad(W, X, y, reg)
    good = svm_check(W, X, y, reg, dW)
    assert good.passed and good.num_smooth >= 10
    buggy = svm_check(W, X, y, reg, dW - reg * W)  # reg * W instead of 2 * reg * W
    assert not buggy.passed and buggy.max_rel_error_smooth > 1e-2


def test_kink_coordinates_are_flagged_and_excluded():
    W = np.random.default_rng(4).standard_normal((2, 3))
    wrong = cubic_grad(W) + 1.0
    everywhere = numgrad.grad_check_sparse(cubic, W, wrong, 6, np.random.default_rng(0),
                                           kink_fn=lambda coords, h: np.ones(len(coords), bool))
    assert all(ch.kink for ch in everywhere.checks)
    assert np.isnan(everywhere.max_rel_error_smooth) and not everywhere.passed
    assert everywhere.max_rel_error > 1e-2  # still reported


def test_below_resolution_flags_tiny_gradients_only():
    grad = np.array([[1e-9, 1.0, -2e-9], [0.5, 3e-10, 2.0]])

    def f(W):  # |f| ~ 10: the finite difference cannot see a slope of 1e-9
        return 10.0 + float(np.sum(grad * W))

    W = np.zeros((2, 3))
    result = numgrad.grad_check_sparse(f, W, grad, 6, np.random.default_rng(0))
    tiny = {(ch.c, ch.d): ch for ch in result.checks}
    for (c, d), ch in tiny.items():
        assert ch.below_resolution == (abs(grad[c, d]) < 1e-6)
        if ch.below_resolution:
            assert abs(ch.analytic) + abs(ch.numeric) < result.resolution < 1e-6
    assert result.num_below_resolution == 3 and result.num_smooth == 3
    assert result.passed and result.max_rel_error > result.threshold  # the tiny ones are noise


def test_bad_arguments_raise_value_error():
    W = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        numgrad.grad_check_sparse(cubic, W, np.zeros((3, 2)), 3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="formula"):
        numgrad.grad_check_sparse(cubic, W, W, 3, np.random.default_rng(0), formula="backward")
    with pytest.raises(ValueError, match="h must"):
        numgrad.numerical_gradient_at(cubic, W, (0, 0), h=0.0)
    with pytest.raises(ValueError, match="checks"):
        numgrad.grad_check_sparse(cubic, W, W, 0, np.random.default_rng(0))


@pytest.fixture(scope="module")
def digits64():
    return data.prepare("digits", 0, dtype="float64")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_digits_acceptance_centered_passes_forward_reports_more(digits64, seed):
    """The CLI's gradient check setup: digits batch of 256, W = 1e-3 randn, default reg."""
    rng = np.random.default_rng(seed)
    W = 1e-3 * rng.standard_normal((digits64.num_classes, digits64.num_features))
    X, y = data.sample_batch(digits64.X_train, digits64.y_train, 256, rng)
    reg = 1e-5
    _, dW = kernel.svm_loss_grad(W, X, y, reg)
    centered = svm_check(W, X, y, reg, dW, checks=40, seed=seed)
    forward = svm_check(W, X, y, reg, dW, checks=40, seed=seed, formula="forward")
    assert centered.passed and centered.max_rel_error_smooth < 1e-7
    assert centered.num_smooth >= 5
    assert all(abs(ch.analytic) + abs(ch.numeric) < 1e-6 for ch in centered.checks if ch.below_resolution)
    assert forward.max_rel_error_smooth > 10 * centered.max_rel_error_smooth
