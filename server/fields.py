"""Reading and checking request fields: proto3 optional fields with defaults, and range checks.

Every check raises ValueError naming the field (INVALID_ARGUMENT to the client).
"""

from __future__ import annotations

import math
from typing import Any


def optional(message: Any, name: str, default: Any) -> Any:
    """The field's value if the client set it, else ``default``."""
    return getattr(message, name) if message.HasField(name) else default


def check_range(name: str, value, low, high, *, low_open: bool = False) -> None:
    """``value`` must be finite and in [low, high] (or (low, high] with ``low_open``)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if value < low or (low_open and value == low) or value > high:
        bound = f"({low}, {high}]" if low_open else f"[{low}, {high}]"
        raise ValueError(f"{name} must be in {bound}, got {value}")


def positive(name: str, value: float) -> None:
    """``value`` must be finite and > 0."""
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value}")


def non_negative(name: str, value: float) -> None:
    """``value`` must be finite and >= 0."""
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a non-negative finite number, got {value}")
