"""A job's results: its status, its training curve, its learned templates, a model's evaluation
and predictions, a search's trials. Plain dataclasses of numpy arrays; ``.plot()`` draws each.

Example::

    status = job.wait()
    status.state, status.test_accuracy        # ('SUCCEEDED', 0.97...)
    curve = job.curve()
    curve.loss[:5], curve.val_accuracy[-1]    # numpy arrays
    curve.plot()                              # a matplotlib Figure
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from client.output.notes_render import curve_json
from descent.picture import Picture
from proto import descent_pb2
from proto.job_fields import JOB_FIELDS
from proto.names import state_name


def _optional(message, name: str) -> float | None:
    return getattr(message, name) if message.HasField(name) else None


@dataclass(frozen=True)
class Status(Picture):
    """Where a job stands: its state, progress, loss and accuracies, and its hyperparameters (``spec``)."""

    job_id: str
    state: str
    message: str
    steps: int
    loss: float
    train_accuracy: float | None
    val_accuracy: float | None
    test_accuracy: float | None
    seconds: float
    examples_per_second: float
    effective_lr: float
    spec: dict[str, Any]

    @classmethod
    def of(cls, status: descent_pb2.JobStatus) -> Status:
        return cls(
            job_id=status.job_id, state=state_name(status.state), message=status.message, steps=status.steps,
            loss=status.loss, train_accuracy=_optional(status, "train_accuracy"),
            val_accuracy=_optional(status, "val_accuracy"), test_accuracy=_optional(status, "test_accuracy"),
            seconds=status.seconds, examples_per_second=status.examples_per_second, effective_lr=status.effective_lr,
            spec={f.name: getattr(status.spec, f.name) for f in JOB_FIELDS},
        )

    @property
    def done(self) -> bool:
        """True once the job is SUCCEEDED, FAILED or CANCELLED."""
        return self.state in ("SUCCEEDED", "FAILED", "CANCELLED")

    def plot(self) -> Any:
        """A bar of the job's accuracies on its three splits."""
        from client.plots.notes_plot import canvas

        fig = canvas((5, 3.2))
        ax = fig.add_subplot()
        names = ["train", "val", "test"]
        values = [self.train_accuracy or 0.0, self.val_accuracy or 0.0, self.test_accuracy or 0.0]
        ax.bar(names, values, color=["tab:blue", "tab:orange", "tab:green"])
        ax.set_ylim(0, 1)
        ax.set_ylabel("accuracy")
        ax.set_title(f"job {self.job_id}: {self.state}, {self.steps:,} steps")
        return fig

    def _rows(self):
        return [("job", self.job_id), ("state", self.state), ("steps", self.steps), ("loss", self.loss),
                ("train accuracy", self.train_accuracy), ("val accuracy", self.val_accuracy),
                ("test accuracy", self.test_accuracy), ("seconds", self.seconds)] + (
                    [("message", self.message)] if self.message else [])


@dataclass(frozen=True)
class Curve(Picture):
    """Batch loss per update (``loss``, ``loss_smoothed`` at ``updates``) and validation accuracy at points."""

    job_id: str
    updates: np.ndarray
    loss: np.ndarray
    loss_smoothed: np.ndarray
    step: np.ndarray
    seconds: np.ndarray
    val_accuracy: np.ndarray
    document: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def of(cls, status: descent_pb2.JobStatus) -> Curve:
        doc = curve_json(status)
        points = doc["curve"]
        return cls(
            job_id=status.job_id, updates=np.arange(1, len(doc["loss_history"]) + 1) * doc["history_block"],
            loss=np.array(doc["loss_history"]), loss_smoothed=np.array(doc["loss_smoothed"]),
            step=np.array([p["step"] for p in points], dtype=np.int64),
            seconds=np.array([p["seconds"] for p in points]), val_accuracy=np.array([p["val_accuracy"] for p in points]),
            document=doc,
        )

    def plot(self) -> Any:
        """Loss (raw and smoothed) and validation accuracy against updates and wall time."""
        from client.plots.notes_plot import curve_figure

        return curve_figure([self.document])

    def _rows(self):
        last = self.val_accuracy[-1] if len(self.val_accuracy) else None
        return [("job", self.job_id), ("updates", int(self.updates[-1]) if len(self.updates) else 0),
                ("last smoothed loss", float(self.loss_smoothed[-1]) if len(self.loss_smoothed) else None),
                ("last val accuracy", last)]


@dataclass(frozen=True)
class Templates(Picture):
    """The rows of W without the bias as images: ``images[k]`` is class ``class_names[k]``'s template."""

    job_id: str
    images: np.ndarray
    class_names: list[str]

    def plot(self) -> Any:
        """One tile per class, each scaled to its own range."""
        from client.plots.notes_plot import templates_figure

        return templates_figure(self.images, self.class_names, f"templates of job {self.job_id}")


@dataclass(frozen=True)
class Evaluation(Picture):
    """A model's accuracy, per-class precision and recall, and its confusion matrix (row: true class)."""

    job_id: str
    dataset: str
    split: str
    accuracy: float
    confusion: np.ndarray
    class_names: list[str]
    precision: np.ndarray
    recall: np.ndarray
    document: dict[str, Any] = field(repr=False, compare=False)

    def plot(self) -> Any:
        """The confusion matrix with its counts."""
        from client.plots.confusion_plot import confusion_figure

        return confusion_figure(self.document)

    def _rows(self):
        return [("job", self.job_id), ("data", f"{self.dataset} ({self.split})"), ("accuracy", self.accuracy),
                ("examples", int(self.confusion.sum()))]


@dataclass(frozen=True)
class Prediction(Picture):
    """Labels (argmax of the scores) and the scores (N, C) of inputs classified by a job's model."""

    labels: np.ndarray
    scores: np.ndarray
    class_names: list[str]

    def plot(self) -> Any:
        """How many inputs went to each class."""
        from client.plots.notes_plot import canvas

        fig = canvas((6, 3.2))
        ax = fig.add_subplot()
        counts = np.bincount(self.labels, minlength=len(self.class_names))
        ax.bar([str(n) for n in self.class_names], counts, color="tab:blue")
        ax.set_xlabel("predicted class")
        ax.set_ylabel("inputs")
        ax.set_title(f"{len(self.labels):,} inputs classified")
        return fig

    def _rows(self):
        return [("inputs", len(self.labels))]


@dataclass(frozen=True)
class TuneResult(Picture):
    """A search's trials ranked by validation accuracy (dicts as in ``descent tune --json``), and the best."""

    trials: list[dict[str, Any]]
    best: dict[str, Any] | None
    jobs: int
    seconds: float
    document: dict[str, Any] = field(repr=False, compare=False)

    def plot(self) -> Any:
        """Validation accuracy over (lr, reg), the best trial starred."""
        from client.output.tune_report import scatter_figure

        return scatter_figure(self.document)

    def _rows(self):
        best = self.best or {}
        return [("trials", len(self.trials)), ("jobs", self.jobs), ("best", best.get("params")),
                ("best val accuracy", best.get("val_accuracy")), ("best job", best.get("job_id"))]
