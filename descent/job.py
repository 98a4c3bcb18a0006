"""A training job on the server, as a handle: follow it, read its curve and W, use it as a model.

Example::

    job = session.train(dataset="digits", lr=5e-3, steps=2000)
    status = job.wait()                  # a progress bar; raises descent.JobFailed if it fails
    status.test_accuracy                 # 0.97...
    job.curve().plot()                   # loss and validation accuracy, a matplotlib Figure
    job.templates().images.shape         # (10, 8, 8): one template per digit
    job.export("digits-model.npz")       # the model file `descent predict` reads
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from client.commands.model import model_from_export
from client.output.atomic_file import write_atomically
from client.output.progress import follow
from client.plots.templates import template_tiles
from descent.errors import BY_CODE, DescentError, translated
from descent.results import Curve, Status, Templates
from formats.model import model_bytes

if TYPE_CHECKING:
    from client.rpc.api import TrainerApi
    from descent.results import Evaluation, Prediction


class Job:
    """One job of the session's server, by id (``job.id``)."""

    def __init__(self, session, job_id: str) -> None:
        self._session = session
        self.id = job_id

    @property
    def _api(self) -> TrainerApi:
        return self._session._open_api()

    def __repr__(self) -> str:
        return f"Job({self.id!r})"

    def status(self) -> Status:
        """The job's status now (state, steps, loss, accuracies, hyperparameters)."""
        with translated():
            return Status.of(self._api.get(self.id))

    def wait(self, progress: bool = True, check: bool = True) -> Status:
        """Follow the job to its end and return its final status.

        ``progress`` draws a bar (``tqdm.auto``: a widget in a notebook, text elsewhere). With
        ``check`` a job that ends FAILED raises ``descent.JobFailed`` and one CANCELLED raises
        ``descent.Cancelled``, each with the job's own message. Interrupting the wait (a notebook's
        stop button) leaves the job running: ``job.cancel()`` stops it.
        """
        from tqdm.auto import tqdm

        with translated():
            api = self._api
            final = Status.of(follow(api, self.id, show_bar=progress, first=api.get(self.id), bar_class=tqdm))
        if check and final.state != "SUCCEEDED":
            raise BY_CODE.get(final.state, DescentError)(final.message or f"job {self.id} ended {final.state}", final.state)
        return final

    def cancel(self) -> Status:
        """Cancel the job (its W so far is kept); return its status after the request."""
        with translated():
            return Status.of(self._api.cancel(self.id))

    def scale(self, workers: int | None = None, *, bounds: tuple[int, int] | None = None) -> Status:
        """Resize a running elastic job (``--workers MIN:MAX``): a new target and/or new (MIN, MAX) bounds.

        Example: ``job.scale(2)``. A rigid, finished or unknown job raises the server's error
        (``descent.FailedPrecondition``, ``descent.NotFound``, ``descent.InvalidArgument``).
        """
        with translated():
            return Status.of(self._api.scale(self.id, workers, bounds))

    def curve(self) -> Curve:
        """The batch loss per update and validation accuracy at the curve's points, as numpy arrays."""
        with translated():
            return Curve.of(self._api.get(self.id, include_history=True))

    def weights(self) -> np.ndarray:
        """The job's current W, (C, D + 1) with the bias in the last column."""
        with translated():
            return self._api.weights(self.id)[0]

    def templates(self) -> Templates:
        """A SUCCEEDED job's learned templates: W's rows without the bias, shaped as images."""
        with translated():
            info, arrays = self._api.export_model(self.id)
            images = template_tiles(arrays["W"], tuple(info.image_shape))
        return Templates(job_id=self.id, images=images, class_names=list(info.class_names))

    def export(self, path: str | Path, test_split: str | Path | None = None) -> Path:
        """Write a SUCCEEDED job as a model file (``.npz``, as ``descent export``); return its path.

        With ``test_split`` the job's own test split is written there too (raw, ``X`` and ``y``).
        """
        with translated():
            info, arrays = self._api.export_model(self.id, include_test_split=test_split is not None)
            write_atomically(str(path), model_bytes(model_from_export(info, arrays)))
            if test_split is not None:
                buffer = io.BytesIO()
                np.savez(buffer, X=arrays["X_test"], y=arrays["y_test"])
                write_atomically(str(test_split), buffer.getvalue())
        return Path(path)

    def evaluate(self, dataset: str | None = None, split: str | None = None) -> Evaluation:
        """The model's confusion matrix on one of its splits (default test) or on another data set."""
        return self._session.evaluate(self, dataset=dataset, split=split)

    def predict(self, inputs: np.ndarray) -> Prediction:
        """Classify raw inputs (N, D), as in the job's data set, on the server."""
        return self._session.predict(self, inputs)
