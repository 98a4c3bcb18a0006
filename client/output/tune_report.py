"""What ``descent tune`` shows: the trials table (live and final), the summary, and the PNG scatter.

The table and summary are text from the JSON-ready trial records the command keeps; the
plot is the notes' picture of a search: validation accuracy as colour over log lr and log
reg, with the best trial starred (matplotlib on the Agg canvas, imported only when a plot is
asked for, written atomically).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

from client.output.atomic_file import write_atomically
from client.output.text_format import DASH, table


def _num(value: float | None) -> str:
    return DASH if value is None else f"{value:.3g}"


def _acc(value: float | None) -> str:
    return DASH if value is None else f"{value:.4f}"


def trials_table(trials: Sequence[dict[str, Any]], names: Sequence[str]) -> str:
    """One row per trial: its hyperparameters, the rung and updates it reached, state, accuracies, job."""
    headers = ["trial", *names, "rung", "updates", "state", "val", "test", "job"]
    rows = [
        [
            str(t["trial"]),
            *(_num(t["params"].get(name)) for name in names),
            str(t["rung"]),
            str(t["updates"]) if t["updates"] else DASH,
            t["state"],
            _acc(t["val_accuracy"]),
            _acc(t["test_accuracy"]),
            t["job_id"] or DASH,
        ]
        for t in trials
    ]
    return table(headers, rows, right=[True, *[True] * len(names), True, True, False, True, True, False])


def summary(result: dict[str, Any]) -> str:
    """The ranked table, then the best trial and what the search cost."""
    names = result["parameters"]
    lines = [trials_table(result["trials"], names), ""]
    best = result["best"]
    if best is None:
        lines.append("no trial succeeded")
    else:
        params = ", ".join(f"{name} {best['params'][name]:.3g}" for name in names)
        lines.append(
            f"best: trial {best['trial']} ({params}): val {_acc(best['val_accuracy'])}, "
            f"test {_acc(best['test_accuracy'])} after {best['updates']} updates (job {best['job_id']})"
        )
    rungs = ", ".join(f"{r['trials']} x {r['updates']}" for r in result["rungs"])
    lines.append(
        f"{result['search']} search, {len(result['trials'])} trials, rungs (trials x updates): {rungs}; "
        f"{result['jobs']} jobs, {result['updates']:,} updates in {result['seconds']:.1f} s"
    )
    return "\n".join(lines)


def scatter_png(result: dict[str, Any]) -> bytes:
    """Validation accuracy over (lr, reg), log axes; marker size by updates reached; the best starred."""
    fig = scatter_figure(result)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def scatter_figure(result: dict[str, Any]):
    """The scatter as a matplotlib Figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    points = [t for t in result["trials"] if t["val_accuracy"] is not None and "lr" in t["params"] and "reg" in t["params"]]
    if not points:
        raise ValueError("no trial with lr, reg and a validation accuracy to plot")
    fig = Figure(figsize=(7.0, 5.2), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    most = max(t["updates"] for t in points)
    dots = ax.scatter(
        [t["params"]["lr"] for t in points], [t["params"]["reg"] for t in points],
        c=[t["val_accuracy"] for t in points], s=[30 + 170 * math.sqrt(t["updates"] / most) for t in points],
        cmap="viridis", edgecolors="black", linewidths=0.4,
    )
    best = result["best"]
    if best is not None:
        ax.plot([best["params"]["lr"]], [best["params"]["reg"]], marker="*", markersize=18, color="tab:red",
                linestyle="none", label=f"best: val {best['val_accuracy']:.4f}")
        ax.legend(loc="best", fontsize="small")
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_minor_formatter(NullFormatter())  # a narrow range labels its minor ticks on top of each other
    ax.set_xlabel("learning rate")
    ax.set_ylabel("regularization strength")
    ax.set_title(f"{result['dataset'] or 'digits'}: validation accuracy ({result['search']} search)")
    fig.colorbar(dots, ax=ax, label="validation accuracy")
    return fig


def save_scatter(result: dict[str, Any], path: str) -> None:
    """Write the scatter to ``path`` (PNG) atomically."""
    write_atomically(path, scatter_png(result))
