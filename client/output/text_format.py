"""Formatting helpers shared by the human-readable text of the commands (client.output.text, client.output.check_text, ...).

An absent value prints as ``-``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

DASH = "-"
#: Characters of a node id shown in text.
NODE_ID_CHARS = 12


def fmt_fixed(value: float | None, digits: int = 4) -> str:
    """``value`` with ``digits`` decimals."""
    return DASH if value is None else f"{value:.{digits}f}"


def fmt_sci(value: float | None) -> str:
    """``value`` like ``1.2e-09``."""
    return DASH if value is None else f"{value:.1e}"


def fmt_g(value: float | None) -> str:
    """``value`` in Python's shortest general form."""
    return DASH if value is None else f"{value:g}"


def fmt_when(value: float | None) -> str:
    """A Unix time as local ``YYYY-mm-dd HH:MM:SS``."""
    return DASH if value is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))


def short_node(node_id: str) -> str:
    """Ray's 56-hex node ids, shortened like git's and docker's (JSON keeps them whole)."""
    return node_id[:NODE_ID_CHARS] if node_id else DASH


def fmt_step(value: float) -> str:
    """A step size in short scientific form: 1e-10, 2.5e-03, 3.1623e-10 (at most 5 significant digits)."""
    return np.format_float_scientific(value, precision=4, trim="-", exp_digits=2)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool] | None = None) -> str:
    """Align ``rows`` under ``headers`` in columns two spaces apart (``right`` marks right-aligned columns)."""
    right = right or [False] * len(headers)
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]

    def line(cells: Sequence[str]) -> str:
        parts = [str(c).rjust(w) if r else str(c).ljust(w) for c, w, r in zip(cells, widths, right)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])


def fields(pairs: Sequence[tuple[str, str]]) -> str:
    """``key  value`` lines with the keys padded to one width."""
    width = max(len(k) for k, _ in pairs)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in pairs)
