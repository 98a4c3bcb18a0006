"""Predict and Evaluate for a job id: a finished job's W applied to raw inputs or to a data set.

Inputs are raw rows, as in the job's data set; they are preprocessed with the job's
mean and scale by worker.data.prepare.preprocess (the training code path) and classified by
worker.svm.predict (argmax, the first class on a tie), so the figures are the job's own.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from formats.scoring import confusion_matrix
from proto import descent_pb2
from proto.tensor import from_tensor, to_tensor
from server.analyses.export import JobModel, job_model
from server.errors import RequestError, echo
from server.jobs.registry import JobRegistry
from worker.data.prepare import load_all, preprocess
from worker.svm import predict as svm_predict

SPLITS = ("test", "val", "train")


def _features(model: JobModel, raw: np.ndarray, what: str) -> np.ndarray:
    """Raw rows (N, D) → preprocessed (N, D+1); RequestError naming both sizes when D does not match."""
    if raw.ndim != 2 or raw.dtype.kind not in "biuf":
        raise RequestError(f"{what} must be a 2-D array of numbers (N, D), got shape {list(raw.shape)} dtype {raw.dtype}")
    if raw.shape[1] != model.W.shape[1] - 1:
        raise RequestError(
            f"{what} has {raw.shape[1]} features per example; job {model.status.job_id} expects {model.describe_input()}"
        )
    if len(raw) == 0:
        raise RequestError(f"{what} has no examples")
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is what _finite reports
        _finite(raw.astype(model.W.dtype, copy=False), what, "")
        data = model.data
        X = preprocess(raw, data.mean, data.scale, dtype=model.W.dtype)
    _finite(X[:, : raw.shape[1]], what, " once preprocessed with the job's mean and scale")
    return X


def _finite(values: np.ndarray, what: str, how: str) -> None:
    """RequestError naming the first row and column of ``values`` that is not finite (NaN, or ±inf after the
    conversion to the model's dtype: 1e308 in a float32 model), so garbage never gets a confident answer."""
    if np.isfinite(values).all():  # one pass; the exact place only when something is wrong
        return
    row, column = (int(i) for i in np.argwhere(~np.isfinite(values))[0])
    raise RequestError(
        f"{what}: row {row}, column {column} is {values[row, column]} as {values.dtype}{how}; every value must be finite"
    )


def prediction_bytes(rows: int, features: int, classes: int, itemsize: int) -> tuple[int, int]:
    """(server memory, reply bytes) of predicting ``rows`` rows: the rows as the model's dtype and preprocessed,
    the scores and the labels; the reply carries the scores and labels."""
    reply = rows * classes * itemsize + rows * 8
    return rows * (2 * features + 1) * itemsize + reply + rows * classes * itemsize, reply


def predict(
    registry: JobRegistry, job_id: str, inputs: descent_pb2.Tensor, admit: Callable[[int, int], None]
) -> descent_pb2.PredictResponse:
    """Classify raw inputs (N, D) with the job's model: labels and scores. ``admit(memory, reply)`` refuses
    a prediction too large for the server (server.rpc.admission) before anything is computed."""
    model = job_model(registry, job_id)
    try:
        raw = from_tensor(inputs)
    except ValueError as error:  # a malformed tensor
        raise RequestError(f"inputs: {error}") from None
    if raw.ndim == 2:
        admit(*prediction_bytes(raw.shape[0], raw.shape[1], model.W.shape[0], model.W.dtype.itemsize))
    X = _features(model, raw, "the input")
    scores = X @ model.W.T
    return descent_pb2.PredictResponse(
        labels=to_tensor(np.argmax(scores, axis=1).astype(np.int64)), scores=to_tensor(scores),
        class_names=model.info.class_names,
    )


def evaluate(registry: JobRegistry, job_id: str, dataset: str, split: str) -> descent_pb2.EvaluateResponse:
    """The job's confusion matrix and accuracy on one of its splits, or on every example of another data set."""
    if dataset and split not in ("", "all"):
        raise RequestError(f"split {echo(split)} applies to the job's own data set; with a dataset every example is used")
    if not dataset and split not in ("", *SPLITS):
        raise RequestError(f"split must be one of {', '.join(SPLITS)}, got {echo(split)}")
    model = job_model(registry, job_id)
    num_classes = model.W.shape[0]
    if dataset:
        try:
            raw, y = load_all(dataset, model.status.spec.seed)
        except ValueError as error:  # the file the request named is malformed
            raise RequestError(str(error)) from None
        if len(y) and y.max() >= num_classes:
            raise RequestError(f"data set {dataset} has labels up to {y.max()}; job {job_id} has {num_classes} classes")
        X, split = _features(model, raw, f"data set {dataset}"), "all"
    else:
        split = split or "test"
        X, y = getattr(model.data, f"X_{split}"), getattr(model.data, f"y_{split}")
        if not len(y):
            raise RequestError(f"job {job_id} has no {split} split")
    predicted = svm_predict(model.W, X)
    return descent_pb2.EvaluateResponse(
        job_id=job_id, dataset=dataset or model.status.spec.dataset, split=split,
        confusion=to_tensor(confusion_matrix(y, predicted, num_classes)), class_names=model.info.class_names,
        num_examples=len(y), accuracy=float(np.mean(predicted == y)),
    )
