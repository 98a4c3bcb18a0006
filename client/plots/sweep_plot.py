"""The step-size sweep as a PNG: loss after one step vs step size (log x), the original loss as a line.

Drawn with matplotlib's object-oriented API on the Agg canvas (a raster backend
that needs no display), imported only when a plot is asked for, so the other
commands never load matplotlib. The file is written atomically.
"""

from __future__ import annotations

import math
from typing import Any

from client.output.atomic_file import write_atomically
from client.plots.notes_plot import png_bytes
from formats.extras import import_extra


def sweep_figure(sweep: dict[str, Any]):
    """The plot of a ``sweep --json`` object as a matplotlib Figure."""
    FigureCanvasAgg = import_extra("matplotlib.backends.backend_agg", "drawing the sweep plot (--plot)").FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = [r for r in sweep["rows"] if r["loss"] is not None and math.isfinite(r["loss"])]
    if not rows:
        raise ValueError("no finite loss to plot")
    steps = [r["step_size"] for r in rows]
    losses = [r["loss"] for r in rows]
    original = sweep["loss_original"]
    fig = Figure(figsize=(7.5, 4.8), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(steps, losses, "o-", color="tab:blue", label="loss after one step along −dW")
    if original is not None:
        ax.axhline(original, color="tab:gray", linestyle="--", label=f"original loss {original:.6g}")
    best = sweep.get("best_step_size")
    if best is not None:
        best_loss = min(losses)
        ax.plot([best], [best_loss], marker="*", markersize=16, color="tab:red", linestyle="none",
                label=f"best step size {best:.3g} (loss {best_loss:.4g})")
    ax.set_xscale("log")
    positive = [v for v in losses + ([original] if original else []) if v > 0]
    if positive and max(positive) / min(positive) > 100:
        ax.set_yscale("log")  # an overshooting step can raise the loss by orders of magnitude
    ax.set_xlabel("step size")
    ax.set_ylabel("loss")
    where = f"job {sweep['job_id']}" if sweep.get("job_id") else "random W"
    ax.set_title(f"step-size sweep: {sweep.get('dataset') or ''} ({where}, {sweep.get('num_examples', 0):,} examples)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return fig


def save_sweep_plot(sweep: dict[str, Any], path: str) -> None:
    """Write the sweep's plot to ``path`` (PNG) atomically; CommandError("IO_ERROR") if it cannot."""
    write_atomically(path, png_bytes(sweep_figure(sweep)))
