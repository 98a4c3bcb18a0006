"""The confusion matrix as a PNG: counts as a heat map (rows true, columns predicted), each cell labelled.

Like client.plots.sweep_plot, drawn on matplotlib's Agg canvas (no display), imported only when a
plot is asked for, and written atomically.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from client.output.atomic_file import write_atomically
from client.plots.notes_plot import png_bytes
from formats.extras import import_extra


def confusion_figure(result: dict[str, Any]):
    """The plot of an ``evaluate --json`` object as a matplotlib Figure."""
    FigureCanvasAgg = import_extra("matplotlib.backends.backend_agg", "drawing the confusion matrix (--plot)").FigureCanvasAgg
    from matplotlib.figure import Figure

    confusion = np.asarray(result["confusion"], dtype=np.int64)
    names = result["class_names"]
    size = max(4.5, 0.55 * len(names) + 2.5)
    fig = Figure(figsize=(size + 1.2, size), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(confusion, cmap="Blues", interpolation="nearest")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="examples")
    if len(names) <= 30:  # beyond that the numbers would not fit in the cells
        threshold = confusion.max() / 2 if confusion.size else 0
        for (i, j), count in np.ndenumerate(confusion):
            color = "white" if count > threshold else ("black" if count else "lightgray")  # zeros recede
            ax.text(j, i, str(count), ha="center", va="center", fontsize="small", color=color)
    ticks = np.arange(len(names))
    words = max(len(n) for n in names) > 2  # CIFAR's class names: slant them
    ax.set_xticks(ticks, labels=names, rotation=45 if words else 0, ha="right" if words else "center")
    ax.set_yticks(ticks, labels=names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    title = f"{result['dataset']} ({result['split']}, {result['num_examples']:,} examples)"
    ax.set_title(f"{title}: accuracy {result['accuracy']:.4f}", fontsize="medium")
    return fig


def save_confusion_plot(result: dict[str, Any], path: str) -> None:
    """Write the confusion matrix plot to ``path`` (PNG) atomically; CommandError("IO_ERROR") if it cannot."""
    write_atomically(path, png_bytes(confusion_figure(result)))
