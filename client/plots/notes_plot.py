"""The notes' pictures as PNGs: mini-batch cosine and cost, loss landscapes, learned templates, training curves.

Drawn like client.plots.sweep_plot: matplotlib's object-oriented API on the Agg canvas, imported
only when a plot is asked for, written atomically.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from client.output.atomic_file import write_atomically


def canvas(figsize):
    """A Figure of ``figsize`` inches on the Agg canvas (no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=110)
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig) -> bytes:
    """A figure drawn as PNG bytes (laid out tight first)."""
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _save(fig, path: str) -> None:
    write_atomically(path, png_bytes(fig))


def save_minibatch_plot(result: dict[str, Any], path: str) -> None:
    """Write minibatch_figure(...) to ``path`` as a PNG, atomically."""
    _save(minibatch_figure(result), path)


def minibatch_figure(result: dict[str, Any]):
    """Cosine (mean ± std) and µs per example against batch size (log x), side by side."""
    rows = result["rows"]
    sizes = np.array([r["batch_size"] for r in rows])
    mean = np.array([r["cosine_mean"] for r in rows])
    std = np.array([r["cosine_std"] for r in rows])
    us = np.array([r["us_per_example"] for r in rows])
    power = np.array([s & (s - 1) == 0 for s in sizes])
    fig = canvas((11, 4.3))
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    left.fill_between(sizes, mean - std, mean + std, color="tab:blue", alpha=0.2, label="± 1 std over draws")
    left.plot(sizes, mean, "o-", color="tab:blue", label="mean cosine")
    left.axvline(256, color="tab:gray", linestyle=":", label="256")
    left.set_xscale("log", base=2)
    left.set_ylim(0, 1.05)
    left.set_xlabel("batch size")
    left.set_ylabel("cosine(batch gradient, full gradient)")
    left.set_title("how close a mini-batch gradient is")
    left.legend(loc="lower right", fontsize="small")
    right.plot(sizes, us, "-", color="tab:orange", alpha=0.5)
    right.plot(sizes[power], us[power], "o", color="tab:orange", label="powers of two")
    right.plot(sizes[~power], us[~power], "s", color="tab:red", label="other sizes")
    right.set_xscale("log", base=2)
    right.set_yscale("log")
    right.set_xlabel("batch size")
    right.set_ylabel(f"µs per example ({result.get('dtype', '')} gradient)")
    right.set_title("what an example costs")
    right.legend(loc="upper right", fontsize="small")
    for ax in (left, right):
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(f"mini-batches on {result.get('dataset') or '-'} ({result['num_examples']:,} training examples)")
    return fig


def save_landscape_plot(result: dict[str, Any], path: str) -> None:
    """Write landscape_figure(...) to ``path`` as a PNG, atomically."""
    _save(landscape_figure(result), path)


def landscape_figure(result: dict[str, Any]):
    """The line L(W + a W1) and the plane L(W + a W1 + b W2) as a heat map with contours."""
    a = [p["a"] for p in result["line"]]
    line = [p["loss"] for p in result["line"]]
    plane = result["plane"]
    loss = np.array(plane["loss"])
    fig = canvas((11, 4.5))
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    left.plot(a, line, "-", color="tab:blue")
    left.plot([0], [result["center_loss"]], "o", color="tab:red", label=f"L(W) = {result['center_loss']:.4g}")
    left.set_xlabel("a")
    left.set_ylabel("loss")
    left.set_title("L(W + a·W1)")
    left.grid(True, alpha=0.3)
    left.legend(loc="best", fontsize="small")
    extent = (plane["b"][0], plane["b"][-1], plane["a"][0], plane["a"][-1])
    image = right.imshow(loss, origin="lower", extent=extent, aspect="auto", cmap="viridis")
    right.contour(plane["b"], plane["a"], loss, levels=12, colors="white", linewidths=0.5, alpha=0.6)
    right.plot([0], [0], "r+", markersize=12)
    right.set_xlabel("b")
    right.set_ylabel("a")
    right.set_title("L(W + a·W1 + b·W2)")
    fig.colorbar(image, ax=right, label="loss")
    where = f"job {result['job_id']}" if result.get("job_id") else "random W"
    fig.suptitle(f"loss landscape: {result.get('dataset') or '-'}, {where}, {result['num_examples']:,} example(s)")
    return fig


def save_templates_plot(tiles: np.ndarray, class_names, title: str, path: str) -> None:
    """Write templates_figure(...) to ``path`` as a PNG, atomically."""
    _save(templates_figure(tiles, class_names, title), path)


def templates_figure(tiles: np.ndarray, class_names, title: str):
    """One tile per class (each scaled to its own min..max), titled with its class name."""
    count = len(tiles)
    columns = min(count, 10)
    rows = -(-count // columns)
    fig = canvas((1.5 * columns, 1.7 * rows + 0.5))
    for i, tile in enumerate(tiles):
        ax = fig.add_subplot(rows, columns, i + 1)
        low, high = float(tile.min()), float(tile.max())
        shown = (tile - low) / (high - low) if high > low else np.zeros_like(tile)
        ax.imshow(shown, cmap=None if tile.ndim == 3 else "gray", interpolation="nearest")
        ax.set_title(str(class_names[i]), fontsize="small")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title)
    return fig


def save_curve_plot(curves: list[dict[str, Any]], path: str) -> None:
    """Write curve_figure(...) to ``path`` as a PNG, atomically."""
    _save(curve_figure(curves), path)


def curve_figure(curves: list[dict[str, Any]]):
    """Batch loss (raw and smoothed) and validation accuracy against updates and wall time, one colour per job."""
    fig = canvas((11, 7.5))
    axes = [[fig.add_subplot(2, 2, 2 * r + c + 1) for c in range(2)] for r in range(2)]
    colours = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]
    for i, curve in enumerate(curves):
        colour = colours[i % len(colours)]
        strategy = curve.get("strategy") or "gradient"
        step = "" if strategy == "random-search" else f", lr {curve.get('lr', 0):g}"  # random search takes no step
        label = f"{curve['job_id']} ({strategy}{step})"
        losses = curve["loss_history"]
        steps = np.arange(1, len(losses) + 1) * curve.get("history_block", 1)
        points = curve["curve"]
        times = np.interp(steps, [p["step"] for p in points], [p["seconds"] for p in points]) if points else steps * 0.0
        for ax, x in ((axes[0][0], steps), (axes[0][1], times)):
            ax.plot(x, losses, color=colour, alpha=0.2, linewidth=0.6)
            ax.plot(x, curve["loss_smoothed"], color=colour, label=label)
        for ax, key in ((axes[1][0], "step"), (axes[1][1], "seconds")):
            ax.plot([p[key] for p in points], [p["val_accuracy"] for p in points], "o-", color=colour, markersize=3,
                    label=label)
        for change in curve.get("membership", []):  # an elastic job's joins (solid) and leaves (dotted)
            for ax in (axes[0][1], axes[1][1]):
                ax.axvline(change["seconds"], color=colour, alpha=0.5, linewidth=0.8,
                           linestyle="-" if change["change"] == "join" else ":")
    titles = (("batch loss vs updates", "batch loss vs wall time"), ("validation accuracy vs updates",
                                                                      "validation accuracy vs wall time"))
    for r in range(2):
        for c in range(2):
            ax = axes[r][c]
            ax.set_title(titles[r][c])
            ax.set_xlabel("updates" if c == 0 else "seconds")
            ax.set_ylabel("loss (faint: raw, bold: smoothed)" if r == 0 else "validation accuracy")
            ax.grid(True, alpha=0.3)
            ax.legend(loc="best", fontsize="x-small")
    return fig
