"""What every result shares: ``.plot()`` returns a matplotlib Figure, and a notebook shows it.

A result shown in a cell draws itself: ``_repr_png_`` is its picture, ``_repr_html_`` its
summary table above the picture (Jupyter prefers the HTML). matplotlib is imported only when a
picture is asked for (the ``client`` extra installs it).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from typing import Any


class Picture:
    """Mixed into each result dataclass, which defines ``plot`` and ``_rows``."""

    def plot(self) -> Any:
        """The result's picture, a ``matplotlib.figure.Figure``."""
        raise NotImplementedError

    def _rows(self) -> Sequence[tuple[str, Any]]:
        """(name, value) pairs of the summary table."""
        return ()

    def _repr_png_(self) -> bytes:
        from client.plots.notes_plot import png_bytes

        return png_bytes(self.plot())

    def _repr_html_(self) -> str:
        cells = "".join(f"<tr><th style='text-align:left'>{html.escape(str(k))}</th><td>{html.escape(_text(v))}</td></tr>"
                        for k, v in self._rows())
        picture = base64.b64encode(self._repr_png_()).decode("ascii")
        return f"<table>{cells}</table><img src='data:image/png;base64,{picture}'/>"


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "-" if value is None else str(value)


def html_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain HTML table (values formatted as in the summary rows)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_text(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"
