"""worker.minibatch and worker.landscape against oracles: the naive loss, hand-derived kinks, exact cosines."""

import numpy as np
import pytest

from worker import landscape, minibatch, svm
from worker.data import prepare as data


@pytest.fixture(scope="module")
def digits():
    d = data.prepare("digits", 0, dtype="float64")
    W = 1e-3 * np.random.default_rng(0).standard_normal((d.num_classes, d.num_features))
    return W, d.X_train, d.y_train


def test_cosine_of_equal_opposite_and_orthogonal_vectors():
    a = np.array([[1.0, 2.0], [3.0, -4.0]])
    assert minibatch.cosine(a, 3 * a) == pytest.approx(1.0)
    assert minibatch.cosine(a, -a) == pytest.approx(-1.0)
    assert minibatch.cosine(np.array([1.0, 0.0]), np.array([0.0, 2.0])) == 0.0
    assert minibatch.cosine(np.zeros(3), np.ones(3)) == 0.0


def test_batch_sizes_end_with_the_full_split():
    assert minibatch.batch_sizes(300, (1, 4, 4, 256, 512, 300)) == [1, 4, 256, 300]
    with pytest.raises(ValueError):
        minibatch.batch_sizes(0)


def test_cosine_is_one_at_full_batch_and_rises_with_batch_size(digits):
    W, X, y = digits
    rng = np.random.default_rng(1)
    sizes = [1, 16, 256, len(y)]
    means = []
    for size in sizes:
        mean, std = minibatch.cosine_stats(W, X, y, 1e-4, size, 50, rng)
        means.append(mean)
        assert 0 <= std < 0.2
    assert means[-1] == pytest.approx(1.0, abs=1e-12)
    assert means == sorted(means) and means[0] < 0.5 < 0.9 < means[2]


def test_rows_time_every_size_and_mark_the_full_batch(digits):
    W, X, y = digits
    rows = minibatch.minibatch_rows(W, X, y, 1e-4, [1, 64, len(y)], 5, np.random.default_rng(2))
    assert [r.batch_size for r in rows] == [1, 64, len(y)] and [r.full for r in rows] == [False, False, True]
    assert all(r.us_per_example > 0 for r in rows)
    assert rows[0].us_per_example > rows[1].us_per_example  # per-call overhead shared by 64 examples
    with pytest.raises(ValueError):
        minibatch.minibatch_rows(W, X, y, 1e-4, [1], 0, np.random.default_rng(2))


def test_landscape_centre_is_the_naive_loss_and_chunks_agree(digits):
    W, X, y = digits
    X, y = X[:200], y[:200]
    W1, W2 = landscape.directions(W, np.random.default_rng(3))
    a = landscape.grid(9, 0.5)
    line = landscape.line_losses(W, W1, X, y, 1e-3, a)
    assert a[4] == 0 and line[4] == pytest.approx(svm.svm_loss_naive(W, X, y, 1e-3)[0], rel=1e-12)
    plane = np.concatenate([landscape.plane_rows(W, W1, W2, X, y, 1e-3, a, part) for part in np.array_split(a, 3)])
    assert plane.shape == (9, 9)
    np.testing.assert_allclose(plane[:, 4], line, rtol=1e-12)  # b = 0 is the line
    assert plane[4, 4] == pytest.approx(svm.svm_loss_naive(W, X, y, 1e-3)[0], rel=1e-12)
    scaled, _ = landscape.directions(W, np.random.default_rng(3), norm=2.5)
    assert np.linalg.norm(scaled) == pytest.approx(2.5)
    for bad in [(1, 1.0), (5, 0.0), (5, float("nan"))]:
        with pytest.raises(ValueError):
            landscape.grid(*bad)


def test_one_example_slice_is_piecewise_linear_with_kinks_where_margins_cross_zero(digits):
    W, X, y = digits
    x, label = X[:1], y[:1]
    W1, _ = landscape.directions(W, np.random.default_rng(4))
    a = landscape.grid(201, 1.0)
    loss = landscape.line_losses(W, W1, x, label, 0.0, a)
    # Oracle: margin j at a is (s_j - s_y + 1) + a (t_j - t_y) with s = W x, t = W1 x: a kink where it is 0.
    s, t = (W @ x[0]), (W1 @ x[0])
    others = [j for j in range(len(s)) if j != label[0]]
    kinks = np.array([-(s[j] - s[label[0]] + 1) / (t[j] - t[label[0]]) for j in others])
    kinks = kinks[np.abs(kinks) <= 1.0]
    assert len(kinks) > 0
    second = loss[2:] - 2 * loss[1:-1] + loss[:-2]
    step = a[1] - a[0]
    near = np.array([np.any(np.abs(kinks - a[i + 1]) < step * 1.01) for i in range(len(second))])
    assert np.all(np.abs(second[~near]) < 1e-9)
    assert np.any(np.abs(second[near]) > 1e-6)  # the kinks are really there (convex: positive jumps)
    assert np.all(second > -1e-9)
