"""worker.data.rows.Rows: blocks of rows read as one matrix, checked against the joined array."""

import pickle

import numpy as np
import pytest

from worker import kernel, svm
from worker.data.rows import Rows, sample_batch


def blocks_of(X, step):
    return Rows([X[start:start + step].copy() for start in range(0, len(X), step)])


@pytest.fixture
def X():
    return np.random.default_rng(0).standard_normal((103, 7)).astype(np.float32)


@pytest.mark.parametrize("step", [1, 10, 50, 103, 200])
def test_indexing_matches_the_joined_array(X, step):
    rows = blocks_of(X, step)
    assert rows.shape == X.shape and len(rows) == 103 and rows.dtype == np.float32 and rows.nbytes == X.nbytes
    np.testing.assert_array_equal(np.asarray(rows), X)
    rng = np.random.default_rng(step)
    for idx in (rng.integers(0, 103, 256), np.sort(rng.integers(0, 103, 256)), np.array([5, 5, 5]),
                np.array([-1, 0, -103]), np.arange(103)[::-1], np.array([], dtype=np.int64),
                np.array([5, -1, 100], dtype=np.int8), np.array([7, 3], dtype=np.uint8)):
        np.testing.assert_array_equal(rows[idx], X[idx])
    for key in (slice(None), slice(3, 97), slice(9, 11), slice(50, 50), slice(-20, None), slice(1, 100, 7)):
        np.testing.assert_array_equal(rows[key], X[key])
    assert [first for first, _ in rows.blocks()] == list(range(0, 103, step))


def test_bad_indices_are_refused(X):
    rows = blocks_of(X, 10)
    with pytest.raises(IndexError):
        rows[np.array([0, 103])]
    with pytest.raises(IndexError):
        rows[np.array([-104])]
    with pytest.raises(TypeError):
        rows[np.array([0.5])]
    with pytest.raises(TypeError):
        rows[(np.array([0]), 1)]
    with pytest.raises(ValueError, match="copies"):
        np.asarray(rows, copy=False) if np.lib.NumpyVersion(np.__version__) >= "2.0.0" else rows.__array__(copy=False)


def test_blocks_must_line_up():
    with pytest.raises(ValueError, match="same columns"):
        Rows([np.zeros((2, 3)), np.zeros((2, 4))])
    with pytest.raises(ValueError, match="every block but the last"):
        Rows([np.zeros((2, 3)), np.zeros((3, 3))])
    with pytest.raises(ValueError, match="at least one block"):
        Rows([])


def test_a_sampled_batch_is_the_same_rows_drawn_sorted(X):
    y = np.arange(103) % 4
    rows = blocks_of(X, 16)
    Xb, yb = sample_batch(rows, y, 64, np.random.default_rng(7))
    idx = np.sort(np.random.default_rng(7).integers(0, 103, 64))
    np.testing.assert_array_equal(Xb, X[idx])
    np.testing.assert_array_equal(yb, y[idx])
    # the gradient of a batch does not depend on the order of its rows
    W = np.random.default_rng(1).standard_normal((4, 7)).astype(np.float64)
    unsorted = np.random.default_rng(7).integers(0, 103, 64)
    _, dW_sorted = kernel.svm_loss_grad(W, Xb.astype(np.float64), yb, 1e-3)
    _, dW = kernel.svm_loss_grad(W, X[unsorted].astype(np.float64), y[unsorted], 1e-3)
    np.testing.assert_allclose(dW_sorted, dW, rtol=1e-12, atol=1e-15)


def test_accuracy_counts_block_by_block_and_pickles(X):
    y = np.random.default_rng(3).integers(0, 4, 103)
    W = np.random.default_rng(4).standard_normal((4, 7)).astype(np.float32)
    rows = blocks_of(X, 25)
    assert svm.accuracy(W, rows, y) == svm.accuracy(W, X, y)
    with pytest.raises(ValueError, match="103 rows"):
        svm.accuracy(W, rows, y[:-1])
    again = pickle.loads(pickle.dumps(rows))
    np.testing.assert_array_equal(np.asarray(again), X)
    # the full-batch loss sums the hinge block by block (extended precision: equal to ~1e-18)
    assert float(svm.svm_loss(W, rows, y, 1e-3)) == pytest.approx(float(svm.svm_loss(W, X, y, 1e-3)), rel=1e-15)
    with pytest.raises(ValueError, match="103 rows"):
        svm.svm_loss(W, rows, y[:-1], 1e-3)
