"""worker.fdiff: incremental finite differences equal brute force (the oracle) up to rounding."""

import numpy as np
import pytest

from worker import fdiff, kernel, numgrad, svm


def problem(rng, n=60, d=12, c=5, scale=1e-3):
    X = np.hstack([rng.standard_normal((n, d)), np.ones((n, 1))])
    y = rng.integers(0, c, n)
    W = scale * rng.standard_normal((c, d + 1))
    return W, X, y


def trained(rng, steps=300):
    """A W trained by plain gradient descent: many margins end up near 0 (kinks within reach)."""
    W, X, y = problem(rng, n=80, d=10, c=4)
    for _ in range(steps):
        W -= 0.1 * kernel.svm_loss_grad(W, X, y, 1e-3)[1]
    return W, X, y


def gradients(W, X, y, reg, hs, method, formula="centered"):
    changes = fdiff.loss_changes(W, X, y, reg, np.arange(W.size), hs, method=method)
    return [fdiff.numerical_from_changes(changes[a], h, formula) for a, h in enumerate(hs)]


@pytest.mark.parametrize("which", ["random", "trained"])
@pytest.mark.parametrize("formula", ["centered", "forward"])
def test_incremental_matches_brute_on_every_coordinate(which, formula):
    rng = np.random.default_rng(7)
    W, X, y = problem(rng) if which == "random" else trained(rng)
    hs = [1e-2, 1e-3, 1e-5, 1e-7]  # large h crosses kinks: both must straddle them the same way
    for a, b in zip(gradients(W, X, y, 1e-3, hs, "incremental", formula), gradients(W, X, y, 1e-3, hs, "brute", formula)):
        assert np.abs(a - b).max() <= 1e-8 * np.abs(b).max()
        assert numgrad.rel_error(a, b).max() <= 1e-6
    if which == "trained":
        assert svm.kink_mask(W, X, y, np.argwhere(np.ones(W.shape, bool)), 1e-2).any(), "no kink was exercised"


def test_brute_is_the_generic_finite_difference_of_svm_loss():
    W, X, y = problem(np.random.default_rng(1), n=30, d=5, c=3)
    f = lambda W_: svm.svm_loss(W_, X, y, 0.1)  # noqa: E731
    generic = numgrad.numerical_gradient(f, W, h=1e-5)
    np.testing.assert_allclose(fdiff.numerical_gradient_svm(W, X, y, 0.1, method="brute"), generic, rtol=0, atol=1e-13)
    np.testing.assert_allclose(fdiff.numerical_gradient_svm(W, X, y, 0.1), generic, rtol=1e-7, atol=1e-12)


def test_off_kinks_the_centered_difference_is_the_analytic_gradient():
    W, X, y = problem(np.random.default_rng(2))
    assert not svm.kink_mask(W, X, y, np.argwhere(np.ones(W.shape, bool)), 1e-5).any()
    _, dW = kernel.svm_loss_grad(W, X, y, 0.5)
    numeric = fdiff.numerical_gradient_svm(W, X, y, 0.5)
    assert numgrad.rel_error(dW, numeric).max() < 1e-9
    # forward: the loss is quadratic along a coordinate with f'' = 2 reg, so it is off by exactly reg * h
    forward = fdiff.numerical_gradient_svm(W, X, y, 0.5, h=1e-4, formula="forward")
    np.testing.assert_allclose(forward - dW, 0.5 * 1e-4, rtol=1e-6)


def test_a_subset_and_float32_w_and_the_callers_w_untouched():
    rng = np.random.default_rng(3)
    W, X, y = problem(rng)
    W32 = W.astype(np.float32)
    before = W32.tobytes()
    flat = np.array([17, 3, 64, 0, 40])
    part = fdiff.loss_changes(W32, X, y, 1e-3, flat, [1e-5], method="incremental")
    whole = fdiff.loss_changes(W32, X, y, 1e-3, np.arange(W.size), [1e-5], method="incremental")
    np.testing.assert_allclose(part, whole[:, :, flat], rtol=1e-12, atol=0)
    assert W32.tobytes() == before
    forward_only = fdiff.loss_changes(W32, X, y, 1e-3, flat, [1e-5], method="brute", minus=False)
    assert np.isnan(forward_only[:, 1]).all() and np.isfinite(forward_only[:, 0]).all()
    assert W32.tobytes() == before
    assert fdiff.loss_changes(W, X, y, 0.0, np.array([], dtype=np.int64), [1e-5]).shape == (1, 2, 0)


def test_a_class_absent_from_the_batch():
    W, X, y = problem(np.random.default_rng(4), c=5)
    y = np.where(y == 2, 0, y)  # nobody is labelled 2
    a, = gradients(W, X, y, 0.01, [1e-5], "incremental")
    b, = gradients(W, X, y, 0.01, [1e-5], "brute")
    assert numgrad.rel_error(a, b).max() <= 1e-6


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(method="magic"), "method"),
        (dict(hs=[0.0]), "h must"),
        (dict(hs=[]), "h must"),
        (dict(flat=np.array([999])), "out of range"),
        (dict(flat=np.array([[1, 2]])), "flat indices"),
        (dict(reg=-1.0), "reg"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, words):
    W, X, y = problem(np.random.default_rng(5))
    args = dict(W=W, X=X, y=y, reg=1e-3, flat=np.arange(3), hs=[1e-5]) | kwargs
    method = args.pop("method", "incremental")
    with pytest.raises(ValueError, match=words):
        fdiff.loss_changes(**args, method=method)
    with pytest.raises(ValueError, match="formula"):
        fdiff.numerical_from_changes(np.zeros((2, 3)), 1e-5, "backward")
