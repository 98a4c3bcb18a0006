"""The model RPCs of the Trainer service (ExportModel, Predict, Evaluate), a part of client.rpc.api.TrainerApi."""

from __future__ import annotations

import contextlib

import numpy as np

from client.errors import CommandError
from proto import descent_pb2
from proto.tensor import SUPPORTED_DTYPES, from_chunks, from_tensor, to_tensor

#: Deadline of the model calls: the server loads and prepares the job's data set first.
MODEL_CALL_SECONDS = 600.0


class ModelCalls:
    """Mixed into TrainerApi (which provides ``_unary``, ``_stream`` and ``_stub``)."""

    def export_model(self, job_id: str, include_test_split: bool = False) -> tuple[descent_pb2.ModelInfo, dict]:
        """Download a SUCCEEDED job's model: (ModelInfo, {"W", "mean"[, "X_test", "y_test"]: array})."""
        request = descent_pb2.ExportModelRequest(job_id=job_id, include_test_split=include_test_split)
        with contextlib.closing(self._stream(self._stub.ExportModel, request)) as parts:
            first = next(parts, None)
            if first is None or not first.HasField("info"):
                raise CommandError("DATA_LOSS", f"the model stream of job {job_id} did not start with its ModelInfo")
            chunks: dict[str, list] = {}
            for part in parts:
                chunks.setdefault(part.array, []).append(part.chunk)
        expected = {"W", "mean"} | ({"X_test", "y_test"} if include_test_split else set())
        try:
            if set(chunks) != expected:
                raise ValueError(f"arrays {sorted(chunks)}, expected {sorted(expected)}")
            arrays = {name: from_chunks(pieces)[0] for name, pieces in chunks.items()}
        except ValueError as error:
            raise CommandError("DATA_LOSS", f"malformed model stream for job {job_id}: {error}") from None
        return first.info, arrays

    def predict(self, job_id: str, inputs: np.ndarray) -> descent_pb2.PredictResponse:
        """Classify raw inputs (N, D) on the server with a SUCCEEDED job's model."""
        inputs = np.asarray(inputs)
        if inputs.dtype.name not in SUPPORTED_DTYPES:
            inputs = inputs.astype(np.float64)  # exact for the integer and float16 raw values data sets hold
        request = descent_pb2.PredictRequest(job_id=job_id, inputs=to_tensor(inputs))
        return self._unary(self._stub.Predict, request, MODEL_CALL_SECONDS)

    def evaluate(self, job_id: str, dataset: str = "", split: str = "") -> descent_pb2.EvaluateResponse:
        """A SUCCEEDED job's confusion matrix on one of its splits or on every example of another data set."""
        request = descent_pb2.EvaluateRequest(job_id=job_id, dataset=dataset, split=split)
        return self._unary(self._stub.Evaluate, request, MODEL_CALL_SECONDS)


def decoded(tensor: descent_pb2.Tensor, what: str) -> np.ndarray:
    """A response tensor as an array; CommandError("DATA_LOSS") when it is malformed."""
    try:
        return from_tensor(tensor)
    except ValueError as error:
        raise CommandError("DATA_LOSS", f"malformed {what} from the server: {error}") from None
