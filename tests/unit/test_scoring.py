"""formats.scoring against a naive loop and a hand-computed case."""

import numpy as np
import pytest

from formats.scoring import confusion_matrix, summarize


def naive_confusion(y, pred, c):
    m = [[0] * c for _ in range(c)]
    for t, p in zip(y, pred):
        m[t][p] += 1
    return m


@pytest.mark.parametrize("seed", range(5))
def test_confusion_matrix_equals_a_naive_loop(seed):
    rng = np.random.default_rng(seed)
    c = int(rng.integers(2, 12))
    y, pred = rng.integers(0, c, 500), rng.integers(0, c, 500)
    right = rng.random(500) < 0.6
    pred[right] = y[right]  # mostly right, like a trained model
    confusion = confusion_matrix(y, pred, c)
    assert confusion.tolist() == naive_confusion(y, pred, c)
    assert summarize(confusion)["accuracy"] == float(np.mean(y == pred))  # the same float, exactly


def test_hand_computed_precision_and_recall():
    y = np.array([0, 0, 0, 1, 1, 2])
    pred = np.array([0, 0, 1, 1, 0, 0])
    s = summarize(confusion_matrix(y, pred, 4))
    assert s["num_examples"] == 6 and s["accuracy"] == 3 / 6
    assert s["support"] == [3, 2, 1, 0]
    assert s["precision"] == [2 / 4, 1 / 2, None, None]  # class 2 and 3 never predicted
    assert s["recall"] == [2 / 3, 1 / 2, 0.0, None]  # class 3 has no examples


def test_labels_outside_the_classes_are_refused():
    with pytest.raises(ValueError, match=r"labels range over \[0, 5\] but the model has 3 classes"):
        confusion_matrix(np.array([0, 5]), np.array([0, 1]), 3)
    with pytest.raises(ValueError, match="equal-length"):
        confusion_matrix(np.array([0, 1]), np.array([0]), 3)
