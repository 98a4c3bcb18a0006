"""The notes' measurements as results: a gradient check, a step-size sweep, a loss landscape, the
mini-batch argument. Plain dataclasses of numpy arrays; ``.plot()`` draws each (a Figure).

Example::

    check = session.gradcheck(dataset="digits", checks=10)
    check.passed, check.max_rel_error_smooth      # (True, 3.1e-09)
    check.rel_error                               # numpy array, one per coordinate
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from client.output.notes_render import landscape_json, minibatch_json
from client.output.render import gradcheck_json, sweep_json
from descent.picture import Picture, html_table
from proto import descent_pb2


def _column(rows: list[dict[str, Any]], key: str, dtype=float) -> np.ndarray:
    return np.array([np.nan if r[key] is None else r[key] for r in rows], dtype=dtype)


@dataclass(frozen=True)
class GradCheck(Picture):
    """Analytic vs numerical gradient at some coordinates of W (``c``, ``d``), with the notes' verdict."""

    passed: bool
    verdict: str | None
    max_rel_error: float | None
    max_rel_error_smooth: float | None
    threshold: float
    h: float
    formula: str
    loss: float | None
    c: np.ndarray
    d: np.ndarray
    analytic: np.ndarray
    numeric: np.ndarray
    rel_error: np.ndarray
    kink: np.ndarray
    notes: list[str]
    document: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def of(cls, response: descent_pb2.GradientCheckResponse) -> GradCheck:
        doc = gradcheck_json(response)
        rows = doc["checks"]
        return cls(
            passed=doc["passed"], verdict=doc["verdict"], max_rel_error=doc["max_rel_error"],
            max_rel_error_smooth=doc["max_rel_error_smooth"], threshold=doc["threshold"], h=doc["h"],
            formula=doc["formula"], loss=doc["loss"],
            c=np.array([r["index"][0] for r in rows], dtype=np.int64), d=np.array([r["index"][1] for r in rows], dtype=np.int64),
            analytic=_column(rows, "analytic"), numeric=_column(rows, "numeric"), rel_error=_column(rows, "rel_error"),
            kink=np.array([r["kink"] for r in rows], dtype=bool), notes=doc["notes"], document=doc,
        )

    def plot(self) -> Any:
        """Relative error per checked coordinate (log y), kinks in red, the pass threshold dashed."""
        from client.plots.notes_plot import canvas

        fig = canvas((7.5, 4.2))
        ax = fig.add_subplot()
        index = np.arange(len(self.rel_error))
        floor = np.maximum(self.rel_error, 1e-16)
        ax.semilogy(index[~self.kink], floor[~self.kink], "o", color="tab:blue", label="smooth")
        if self.kink.any():
            ax.semilogy(index[self.kink], floor[self.kink], "x", color="tab:red", markersize=9, label="kink")
        ax.axhline(self.threshold, color="tab:gray", linestyle="--", label=f"threshold {self.threshold:g}")
        ax.set_xlabel("checked coordinate")
        ax.set_ylabel("relative error")
        ax.set_title(f"gradient check ({self.formula}, h={self.h:g}): {self.verdict or ('passed' if self.passed else 'failed')}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="best", fontsize="small")
        return fig

    def _repr_html_(self) -> str:
        rows = [(int(c), int(d), a, n, e, bool(k)) for c, d, a, n, e, k in
                zip(self.c, self.d, self.analytic, self.numeric, self.rel_error, self.kink)]
        head = (f"<p>gradient check: <b>{'passed' if self.passed else 'FAILED'}</b> ({self.verdict or '-'}), "
                f"max relative error (smooth) {self.max_rel_error_smooth}</p>")
        return head + html_table(["c", "d", "analytic", "numeric", "rel. error", "kink"], rows)


@dataclass(frozen=True)
class Sweep(Picture):
    """The loss after one gradient step of each step size, from the same W."""

    step_size: np.ndarray
    loss: np.ndarray
    loss_original: float | None
    best_step_size: float | None
    document: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def of(cls, response: descent_pb2.StepSizeSweepResponse) -> Sweep:
        doc = sweep_json(response)
        return cls(step_size=_column(doc["rows"], "step_size"), loss=_column(doc["rows"], "loss"),
                   loss_original=doc["loss_original"], best_step_size=doc["best_step_size"], document=doc)

    def plot(self) -> Any:
        """Loss after one step against step size (log x)."""
        from client.plots.sweep_plot import sweep_figure

        return sweep_figure(self.document)

    def _rows(self):
        return [("original loss", self.loss_original), ("best step size", self.best_step_size), ("points", len(self.loss))]


@dataclass(frozen=True)
class Landscape(Picture):
    """The loss along a random line (``line_a``, ``line_loss``) and over a plane (rows ``plane_a``, columns ``plane_b``)."""

    center_loss: float
    line_a: np.ndarray
    line_loss: np.ndarray
    plane_a: np.ndarray
    plane_b: np.ndarray
    plane_loss: np.ndarray
    document: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def of(cls, response: descent_pb2.LandscapeResponse) -> Landscape:
        doc = landscape_json(response)
        return cls(center_loss=doc["center_loss"], line_a=_column(doc["line"], "a"), line_loss=_column(doc["line"], "loss"),
                   plane_a=np.array(doc["plane"]["a"]), plane_b=np.array(doc["plane"]["b"]),
                   plane_loss=np.array(doc["plane"]["loss"]), document=doc)

    def plot(self) -> Any:
        """The line and a heat map of the plane, side by side."""
        from client.plots.notes_plot import landscape_figure

        return landscape_figure(self.document)

    def _rows(self):
        return [("L(W)", self.center_loss), ("examples", self.document["num_examples"])]


@dataclass(frozen=True)
class Minibatch(Picture):
    """Per batch size: cosine of the batch gradient to the full one (mean, std) and µs per example."""

    batch_size: np.ndarray
    cosine_mean: np.ndarray
    cosine_std: np.ndarray
    us_per_example: np.ndarray
    full: np.ndarray
    document: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def of(cls, response: descent_pb2.MinibatchResponse) -> Minibatch:
        doc = minibatch_json(response)
        rows = doc["rows"]
        return cls(batch_size=_column(rows, "batch_size", np.int64), cosine_mean=_column(rows, "cosine_mean"),
                   cosine_std=_column(rows, "cosine_std"), us_per_example=_column(rows, "us_per_example"),
                   full=_column(rows, "full", bool), document=doc)

    def plot(self) -> Any:
        """Cosine and cost per example against batch size."""
        from client.plots.notes_plot import minibatch_figure

        return minibatch_figure(self.document)

    def _rows(self):
        return [(f"batch {b}", f"cosine {m:.3f}, {u:.3f} µs/example")
                for b, m, u in zip(self.batch_size, self.cosine_mean, self.us_per_example)]
