"""worker.sweep: step sizes, the loss per step size, rows in order, the best step size."""

import numpy as np
import pytest

from worker import kernel, sweep
from worker.data import prepare as data


@pytest.fixture(scope="module")
def digits_problem():
    d = data.prepare("digits", 0, dtype="float64")
    W = 1e-3 * np.random.default_rng(0).standard_normal((d.num_classes, d.num_features))
    return W, d.X_train, d.y_train


def test_step_sizes_are_log_spaced_with_exact_ends():
    sizes = sweep.step_sizes(1e-10, 1e-1, 19)
    assert sizes[0] == 1e-10 and sizes[-1] == 1e-1 and len(sizes) == 19
    np.testing.assert_allclose(np.diff(np.log10(sizes)), 0.5)
    assert 1e-5 in sizes.tolist()  # not 9.999999999999999e-06
    for bad in [(0.0, 1.0, 5), (1.0, 0.1, 5), (1e-3, 1e-1, 1), (1e-3, float("inf"), 5), (1e-3, 1e-1, 10**6)]:
        with pytest.raises(ValueError):
            sweep.step_sizes(*bad)


def test_losses_in_any_chunks_equal_the_serial_sweep(digits_problem):
    W, X, y = digits_problem
    before = W.copy()
    loss0, dW = sweep.sweep_direction(W, X, y, 1e-5)
    assert loss0 == pytest.approx(kernel.svm_loss_grad(W, X, y, 1e-5)[0], rel=1e-12)
    sizes = sweep.step_sizes(1e-6, 1e2, 17)
    chunks = [sweep.sweep_losses(W, dW, X, y, 1e-5, part) for part in np.array_split(sizes, 3)]
    losses = np.concatenate(chunks)
    np.testing.assert_array_equal(losses, sweep.sweep_losses(W, dW, X, y, 1e-5, sizes))
    result = sweep.finish(loss0, sizes, losses, open_ended=False)
    assert [s for s, _ in result.rows] == sizes.tolist()
    best = int(np.argmin(losses))
    assert result.best_step_size == sizes[best] and 0 < best < len(sizes) - 1  # strictly inside the range
    np.testing.assert_array_equal(W, before)


def test_open_ended_stops_at_the_first_rise(digits_problem):
    W, X, y = digits_problem
    result = sweep.step_size_sweep(W, X, y, 1e-5)
    losses = [loss for _, loss in result.rows]
    assert result.rows[0][0] == 1e-10 and losses[-1] > result.loss_original
    assert all(loss <= result.loss_original for loss in losses[:-1])
    assert result.best_step_size == result.rows[int(np.argmin(losses))][0]
    cut = sweep.finish(1.0, [1, 2, 3, 4], [0.9, 1.5, 0.1, 0.2], open_ended=True)
    assert cut.rows == ((1.0, 0.9), (2.0, 1.5)) and cut.best_step_size == 1.0
    nan = sweep.finish(1.0, [1, 2], [0.5, float("nan")], open_ended=False)
    assert nan.best_step_size == 1.0
