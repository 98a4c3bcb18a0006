"""The figures of an evaluation, from true and predicted labels: confusion matrix, accuracy, precision, recall."""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) int64 counts: row = true class, column = predicted class.

    ValueError if the label arrays differ in length or hold a label outside [0, C).
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"labels {y_true.shape} and predictions {y_pred.shape} must be equal-length 1-D arrays")
    for name, labels in (("labels", y_true), ("predictions", y_pred)):
        if labels.dtype.kind not in "iu":
            raise ValueError(f"{name} must be integers, got dtype {labels.dtype}")
        if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f"{name} range over [{labels.min()}, {labels.max()}] "
                             f"but the model has {num_classes} classes [0, {num_classes})")
    flat = y_true.astype(np.int64) * num_classes + y_pred.astype(np.int64)
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def summarize(confusion: np.ndarray) -> dict:
    """accuracy, and per class: support (true examples), precision and recall (None where undefined).

    accuracy = trace / total, the same float as ``mean(pred == y)`` (both are exact integer counts
    divided once).
    """
    confusion = np.asarray(confusion, dtype=np.int64)
    total = int(confusion.sum())
    correct = np.diag(confusion)
    predicted, support = confusion.sum(axis=0), confusion.sum(axis=1)
    return {
        "num_examples": total,
        "accuracy": int(correct.sum()) / total if total else None,
        "support": [int(s) for s in support],
        "precision": [int(c) / int(p) if p else None for c, p in zip(correct, predicted)],
        "recall": [int(c) / int(s) if s else None for c, s in zip(correct, support)],
    }
