"""server.training.evaluation: a finished job's split accuracies, evaluated side by side, equal to one call per split."""

import numpy as np
import pytest

from server.training.evaluation import split_accuracies
from worker import svm
from worker.data import prepare as data


@pytest.fixture(scope="module")
def digits():
    d = data.prepare("digits", 0, dtype="float32")
    W = np.random.default_rng(0).standard_normal((d.num_classes, d.num_features)).astype(np.float32)
    return d, W


def test_each_split_is_exactly_its_own_accuracy_in_the_splits_order(digits):
    d, W = digits
    splits = {"train": (d.X_train, d.y_train), "val": (d.X_val, d.y_val), "test": (d.X_test, d.y_test)}
    got = split_accuracies(W, splits)
    assert list(got) == ["train", "val", "test"]
    assert got == {name: svm.accuracy(W, X, y) for name, (X, y) in splits.items()}  # exactly
    assert len(set(got.values())) > 1  # three different numbers, not one copied


def test_a_known_split_is_taken_as_given_and_an_empty_one_left_out(digits):
    d, W = digits
    wrong_shape = np.zeros((5, 3), np.float32)  # would raise if it were evaluated
    splits = {"train": (d.X_train, d.y_train), "val": (wrong_shape, np.zeros(5, np.int64)),
              "test": (d.X_test[:0], d.y_test[:0])}
    got = split_accuracies(W, splits, known={"val": 0.25})
    assert got == {"train": svm.accuracy(W, d.X_train, d.y_train), "val": 0.25}
    with pytest.raises(ValueError, match="W has shape"):
        split_accuracies(W, splits)  # a split's error reaches the caller
