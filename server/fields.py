"""Reading and checking request fields, in one place: optional fields with defaults, range checks,
string lengths, and the per-message rules every request passes at the edge (``check_request``).

Every check raises RequestError naming the field (INVALID_ARGUMENT to the client); what it
echoes of a bad value is shortened.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from proto.job_fields import JOB_FIELDS
from server.errors import RequestError, echo

#: Longest id (job, worker, node) and data set spec a request may carry.
MAX_ID_CHARS = 128
MAX_DATASET_CHARS = 4096
#: WatchJob's interval: 0 means the server's default; otherwise within these bounds (seconds).
WATCH_INTERVAL_MIN, WATCH_INTERVAL_MAX = 0.05, 60.0

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")


def check_gradient(grad: np.ndarray, shape: tuple[int, ...], dtype: np.dtype) -> None:
    """Raise RequestError unless a pushed ``grad`` has W's ``shape`` and ``dtype`` and is finite (no copy of it)."""
    if grad.shape != shape:
        raise RequestError(f"gradient shape {list(grad.shape)[:8]} does not match W shape {list(shape)}")
    if grad.dtype != dtype:
        raise RequestError(f"gradient dtype {grad.dtype} does not match W dtype {dtype}")
    # One BLAS pass: sum(dx**2) is NaN or Inf if an entry is. It can also overflow for huge
    # finite entries, so then look exactly (min and max propagate NaN and reach ±Inf).
    if grad.size and not np.isfinite(np.vdot(grad, grad)):
        if not (np.isfinite(grad.min()) and np.isfinite(grad.max())):
            raise RequestError("gradient contains NaN or Inf")


def optional(message: Any, name: str, default: Any) -> Any:
    """The field's value if the client set it, else ``default``."""
    return getattr(message, name) if message.HasField(name) else default


def check_range(name: str, value, low, high, *, low_open: bool = False, high_open: bool = False) -> None:
    """``value`` must be finite and in [low, high] (open at an end with ``low_open``/``high_open``)."""
    bound = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if isinstance(value, float) and not math.isfinite(value):
        raise RequestError(f"{name} must be in {bound} (finite), got {value}")
    if value < low or (low_open and value == low) or value > high or (high_open and value == high):
        raise RequestError(f"{name} must be in {bound}, got {value}")


def positive(name: str, value: float) -> None:
    """``value`` must be finite and > 0."""
    if not (math.isfinite(value) and value > 0):
        raise RequestError(f"{name} must be a positive finite number, got {value}")


def non_negative(name: str, value: float) -> None:
    """``value`` must be finite and >= 0."""
    if not (math.isfinite(value) and value >= 0):
        raise RequestError(f"{name} must be a non-negative finite number, got {value}")


def identifier(name: str, value: str, *, required: bool = True) -> None:
    """An id: 1..MAX_ID_CHARS of letters, digits and ``._:-`` (empty allowed unless ``required``)."""
    if not value:
        if required:
            raise RequestError(f"{name} is empty")
        return
    if len(value) > MAX_ID_CHARS:
        raise RequestError(f"{name} is {len(value)} characters long; at most {MAX_ID_CHARS}")
    if not _ID.match(value):
        raise RequestError(f"{name} {echo(value)} is not an id (letters, digits and ._:- only)")


def dataset_spec(name: str, value: str) -> None:
    """A data set spec: at most MAX_DATASET_CHARS characters, printable, no NUL."""
    if len(value) > MAX_DATASET_CHARS:
        raise RequestError(f"{name} is {len(value)} characters long; at most {MAX_DATASET_CHARS}")
    if "\x00" in value or not value.isprintable():
        raise RequestError(f"{name} {echo(value)} contains control characters")


def watch_interval(name: str, value: float) -> None:
    """0 (the server's default) or a finite number of seconds in [WATCH_INTERVAL_MIN, WATCH_INTERVAL_MAX]."""
    if value == 0:
        return
    if not math.isfinite(value) or not WATCH_INTERVAL_MIN <= value <= WATCH_INTERVAL_MAX:
        raise RequestError(
            f"{name} must be 0 (the default) or in [{WATCH_INTERVAL_MIN}, {WATCH_INTERVAL_MAX}] seconds, got {value}"
        )


def _optional_id(name: str, value: str) -> None:
    identifier(name, value, required=False)


def _job_spec(name: str, spec: Any) -> None:
    """The data set, and no text field past its length (proto.job_fields); resolve checks the rest."""
    dataset_spec(f"{name}.dataset", spec.dataset)
    for field in JOB_FIELDS:
        if field.kind is str and field.name != "dataset" and spec.HasField(field.name):
            length = len(getattr(spec, field.name))
            if length > field.max_chars:
                raise RequestError(f"{name}.{field.name} is {length} characters long; at most {field.max_chars}")


def _tensor_dtype(name: str, tensor: Any) -> None:
    if len(tensor.dtype) > 16:
        raise RequestError(f"{name}.dtype {echo(tensor.dtype)} is not a dtype name")


_Rule = Callable[[str, Any], None]

#: Message type name → (field, rule) pairs; range checks of optional numbers live with their defaults
#: (server.jobs.spec, server.analyses.gradcheck), which run right after these.
RULES: dict[str, tuple[tuple[str, _Rule], ...]] = {
    "SubmitJobRequest": (("spec", _job_spec),),
    "GetJobRequest": (("job_id", identifier),),
    "CancelJobRequest": (("job_id", identifier),),
    "ScaleJobRequest": (("job_id", identifier),),
    "WatchJobRequest": (("job_id", identifier), ("interval", watch_interval)),
    "GetWeightsRequest": (("job_id", identifier),),
    "GradientCheckRequest": (("dataset", dataset_spec), ("job_id", _optional_id)),
    "StepSizeSweepRequest": (("dataset", dataset_spec), ("job_id", _optional_id)),
    "MinibatchRequest": (("dataset", dataset_spec), ("job_id", _optional_id)),
    "LandscapeRequest": (("dataset", dataset_spec), ("job_id", _optional_id)),
    "ExportModelRequest": (("job_id", identifier),),
    "PredictRequest": (("job_id", identifier), ("inputs", _tensor_dtype)),
    "EvaluateRequest": (("job_id", identifier), ("dataset", dataset_spec), ("split", _optional_id)),
    "PullRequest": (("job_id", identifier), ("worker_id", identifier), ("secret", _optional_id)),
    "PushRequest": (
        ("job_id", identifier),
        ("worker_id", identifier),
        ("node_id", _optional_id),
        ("secret", _optional_id),
        ("gradient", _tensor_dtype),
        ("epoch", non_negative),
        ("sequence", non_negative),
    ),
}


def check_request(request: Any) -> None:
    """Apply the rules of ``request``'s message type; raise RequestError naming the first bad field."""
    # By the protobuf message name, which a proto.lifted message forwards like its fields.
    descriptor = getattr(request, "DESCRIPTOR", None)
    for name, rule in RULES.get(descriptor.name if descriptor is not None else "", ()):
        rule(name, getattr(request, name))
