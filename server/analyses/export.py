"""A SUCCEEDED job as a model: its W with the preprocessing re-derived from its spec and seed.

The server keeps only W per job. The preprocessing (mean, scale), the splits and the
number of classes are a deterministic function of the data set, the seed and the dtype
(worker.data.prepare.prepare), so they are derived again here, and checked: W must score exactly
the job's recorded test accuracy on the re-derived test split, or the data set changed
since the job trained on it (FAILED_PRECONDITION rather than a silently wrong model).
ExportModel streams the ModelInfo, then W, mean and optionally the raw test split in chunks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from formats.datasets import class_names, image_layout
from proto import descent_pb2
from proto.tensor import SUPPORTED_DTYPES, to_chunks
from server.errors import JobNotActive
from server.jobs.registry import JobRegistry
from worker.data.prepare import Prepared, prepare
from worker.svm import accuracy


@dataclass(frozen=True, eq=False)
class JobModel:
    """A finished job's W, its status, and its data set prepared again exactly as it trained on it."""

    status: descent_pb2.JobStatus
    W: np.ndarray
    version: int
    data: Prepared

    @property
    def info(self) -> descent_pb2.ModelInfo:
        """The ModelInfo message: everything but the arrays."""
        spec = self.status.spec
        shape, pixel_max = image_layout(spec.dataset, self.W.shape[1] - 1)
        info = descent_pb2.ModelInfo(
            job_id=self.status.job_id, version=self.version, spec=spec, scale=self.data.scale,
            class_names=class_names(spec.dataset, self.W.shape[0]), image_shape=shape, pixel_max=pixel_max,
            num_test=len(self.data.y_test),
        )
        if self.status.HasField("test_accuracy"):
            info.test_accuracy = self.status.test_accuracy
        return info

    def describe_input(self) -> str:
        """What one raw example of this job is: '64 features (8x8 images of digits)'."""
        shape, _ = image_layout(self.status.spec.dataset, self.W.shape[1] - 1)
        images = f" ({'x'.join(str(s) for s in shape[-2:])} images of {self.status.spec.dataset})" if shape else ""
        return f"{self.W.shape[1] - 1} features{images}"


def job_model(registry: JobRegistry, job_id: str, keep_raw_test: bool = False) -> JobModel:
    """The model of a SUCCEEDED job; JobNotFound, or JobNotActive when it is not one (or its data changed)."""
    status = registry.status(job_id)
    if status.state != descent_pb2.SUCCEEDED:
        state = descent_pb2.JobState.Name(status.state)
        raise JobNotActive(f"job {job_id} is {state}: only a SUCCEEDED job can be used as a model")
    W, version = registry.weights(job_id)
    spec = status.spec
    data = prepare(spec.dataset, seed=spec.seed, dtype=spec.dtype, keep_raw_test=keep_raw_test)
    if (data.num_classes, data.num_features) != W.shape:
        raise JobNotActive(
            f"data set {spec.dataset} now has {data.num_classes} classes and {data.num_features - 1} features; "
            f"job {job_id} trained W of shape {W.shape} on it"
        )
    if status.HasField("test_accuracy") and len(data.y_test):
        now = accuracy(W, data.X_test, data.y_test)
        if now != status.test_accuracy:
            raise JobNotActive(
                f"data set {spec.dataset} changed since job {job_id} trained on it: W scores {now} on its test "
                f"split now, {status.test_accuracy} then; its preprocessing cannot be derived again"
            )
    return JobModel(status=status, W=W, version=version, data=data)


def _wire(array: np.ndarray) -> np.ndarray:
    """The array in a dtype a Tensor carries; other numbers as float64 (exact for these raw values)."""
    return array if array.dtype.name in SUPPORTED_DTYPES else array.astype(np.float64)


def export_parts(registry: JobRegistry, job_id: str, include_test_split: bool) -> Iterator[descent_pb2.ModelPart]:
    """The ExportModel stream: ModelInfo, then W, mean (and X_test, y_test raw) in chunks."""
    model = job_model(registry, job_id, keep_raw_test=include_test_split)
    yield descent_pb2.ModelPart(info=model.info)
    arrays = {"W": model.W, "mean": model.data.mean}
    if include_test_split:
        arrays.update(X_test=_wire(model.data.X_test_raw), y_test=model.data.y_test)
    for name, array in arrays.items():
        for chunk in to_chunks(array, model.version):
            yield descent_pb2.ModelPart(array=name, chunk=chunk)
