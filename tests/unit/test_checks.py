"""worker.checks and worker.verdict: full checks on digits, kinks at a trained W, planted bugs, error vs h."""

import numpy as np
import pytest

from worker import checks, kernel, verdict
from worker.checks import check, setup
from worker.data import prepare as data


@pytest.fixture(scope="module")
def digits64():
    return data.prepare("digits", 0, dtype="float64")


@pytest.fixture(scope="module")
def trained_w(digits64):
    """W after mini-batch SGD on digits as a job runs it (lr 5e-3, reg 1e-5, batch 256): margins near 0."""
    rng = np.random.default_rng(0)
    W = 1e-3 * rng.standard_normal((digits64.num_classes, digits64.num_features))
    for _ in range(1500):
        Xb, yb = data.sample_batch(digits64.X_train, digits64.y_train, 256, rng)
        W -= 5e-3 * kernel.svm_loss_grad(W, Xb, yb, 1e-5)[1]
    return W


def full(digits64, **kwargs):
    return setup(digits64.X_train, digits64.y_train, digits64.num_classes, reg=1e-5, seed=0, init_scale=1e-3,
                 batch_size=256, checks=20, full=True, **kwargs)


def missing_factor_two(W, X, y, reg):
    """A planted bug: the regularizer's gradient as reg * W instead of 2 * reg * W."""
    loss, dW = kernel.svm_loss_grad(W, X, y, reg)
    return loss, dW - reg * W


def test_full_check_on_digits_at_a_random_w(digits64):
    problem = full(digits64)
    report = check(problem)
    result = report.result
    assert len(result.checks) == problem.W.size == 650 and report.num_coordinates == 650
    assert [(c.c, c.d) for c in result.checks] == [tuple(i) for i in np.ndindex(problem.W.shape)]
    assert report.verdict.passed and report.verdict.level == "fine" and result.max_rel_error_smooth < 1e-7
    # digits' always-blank pixels: zero columns after centering, gradient 2 * reg * W only
    blank = np.flatnonzero(~problem.X[:, :-1].any(axis=0))
    assert len(blank) > 0
    flagged = {(c.c, c.d) for c in result.checks if c.below_resolution}
    assert {(c, d) for c in range(10) for d in blank} <= flagged
    assert all(abs(c.analytic) + abs(c.numeric) < 1e-6 for c in result.checks if c.below_resolution)
    assert any("below resolution" in note for note in report.verdict.notes)

    forward = check(problem, formula="forward")
    assert forward.result.max_rel_error_smooth > 10 * result.max_rel_error_smooth
    assert forward.verdict.passed and forward.summary.forward_error_expected
    why = " ".join(forward.verdict.notes)
    assert "truncation error" in why and "reg·h" in why and "centered" in why


def test_full_check_never_changes_the_w_it_checks(digits64):
    W = (1e-3 * np.random.default_rng(1).standard_normal((10, 65))).astype(np.float32)
    before = W.tobytes()
    report = check(full(digits64, W=W))
    assert W.tobytes() == before and report.verdict.passed
    with pytest.raises(ValueError, match="shape"):
        full(digits64, W=np.zeros((3, 65)))


def test_kinks_at_a_trained_w_are_counted_and_not_blamed(digits64, trained_w):
    report = check(full(digits64, W=trained_w), hs=[1e-3])
    result = report.result
    assert result.num_kink > 10
    assert result.max_rel_error_kink > 1e-4  # real mismatches, on the kinks only
    assert report.verdict.passed and report.verdict.level == "fine"
    assert any("kink" in note and "not held against" in note for note in report.verdict.notes)
    assert report.summary.num_kink == result.num_kink


@pytest.mark.parametrize("where", ["random", "trained"])
def test_a_planted_bug_fails_the_full_check(digits64, trained_w, where):
    problem = full(digits64, W=None if where == "random" else trained_w)
    report = check(problem, grad_fn=missing_factor_two)
    assert not report.verdict.passed
    assert report.verdict.level in ("suspicious", "uncomfortable", "wrong")
    assert any("likely wrong" in note for note in report.verdict.notes)
    forward = check(problem, formula="forward", grad_fn=missing_factor_two)
    assert not forward.verdict.passed and not forward.summary.forward_error_expected  # more than reg·h explains


def test_error_vs_h_table(digits64):
    problem = setup(digits64.X_train, digits64.y_train, 10, reg=1e-5, seed=3, init_scale=1e-3, batch_size=256, checks=60)
    hs = [1e-3, 1e-5, 1e-7, 1e-9]
    report = check(problem, hs=hs, method="brute")
    assert [row.h for row in report.by_h] == hs
    assert report.result.h == 1e-3 and report.result.formula == "centered"
    forward = [row.forward.mean_rel_error_smooth for row in report.by_h]
    assert forward[0] > forward[1] > forward[2]  # truncation: O(h)
    below = [row.centered.num_below_resolution for row in report.by_h]
    assert below == sorted(below) and below[-1] > below[0]  # rounding: a coarser floor as h shrinks
    assert all(row.centered.num_checked == 60 for row in report.by_h)
    assert report.by_h[1].forward.forward_error_expected


def test_setup_is_reproducible_and_sparse_coordinates_distinct(digits64):
    a = setup(digits64.X_train, digits64.y_train, 10, reg=0.0, seed=5, init_scale=1e-3, batch_size=64, checks=30)
    b = setup(digits64.X_train, digits64.y_train, 10, reg=0.0, seed=5, init_scale=1e-3, batch_size=64, checks=30)
    np.testing.assert_array_equal(a.flat, b.flat)
    np.testing.assert_array_equal(a.W, b.W)
    assert len(set(a.flat.tolist())) == 30 and a.X.shape == (64, 65)
    assert checks.needs_minus([1e-5], "forward") is False and checks.needs_minus([1e-5, 1e-3], "forward") is True


@pytest.mark.parametrize(
    "error, level",
    [(0.0, "fine"), (9.9e-8, "fine"), (1e-7, "suspicious"), (5e-5, "suspicious"), (1e-4, "uncomfortable"),
     (9e-3, "uncomfortable"), (1e-2, "wrong"), (0.5, "wrong"), (float("nan"), "inconclusive")],
)
def test_the_notes_scale(error, level):
    assert verdict.level_of(error) == level


def test_nothing_smooth_is_inconclusive_and_fails():
    rng = np.random.default_rng(0)
    X = np.hstack([rng.standard_normal((20, 3)), np.ones((20, 1))])
    problem = checks.CheckProblem(W=np.zeros((3, 4)), X=X, y=rng.integers(0, 3, 20), reg=0.0, flat=np.arange(12))
    report = check(problem, hs=[10.0])  # every margin is 1: a step of 10 crosses a kink everywhere
    assert report.result.num_kink == 12
    assert report.verdict.level == "inconclusive" and not report.verdict.passed
    assert "no smooth coordinate" in report.verdict.notes[0]
