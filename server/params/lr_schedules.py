"""Learning-rate schedules: the step size as a function of the update number (pure, no I/O).

A schedule is written as text on the command line and in a JobSpec:

- ``constant``          lr at every step
- ``step:EVERY,FACTOR`` lr * FACTOR ** (step // EVERY)   (step decay, e.g. ``step:500,0.5``)
- ``cosine``            lr * (1 + cos(pi * step / steps)) / 2 over the job's ``steps``
- ``cosine:STEPS``      the same over STEPS updates (a horizon of its own: a job continued with
                        ``init_from`` goes on along the same curve), lr * 0 after them
- ``exp:RATE``          lr * exp(-RATE * step)            (exponential decay, the notes' e^{-kt})

``step`` counts updates from 0 (the version of W the update is applied to), so a resumed
job continues the same schedule; a job continued from another counts on from its steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

KINDS = ("constant", "step", "cosine", "exp")
SYNTAX = "constant | step:EVERY,FACTOR | cosine[:STEPS] | exp:RATE"


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: its kind and parameters (``every``/``factor`` for step, ``rate`` for exp)."""

    kind: str = "constant"
    every: int = 1
    factor: float = 1.0
    rate: float = 0.0
    horizon: int = 0  # cosine: the updates it decays over (0: the job's own length)

    def lr_at(self, base_lr: float, step: int, total_steps: int) -> float:
        """The step size of update number ``step`` (0-based) of a ``total_steps``-update job."""
        if self.kind == "constant":
            return base_lr
        if self.kind == "step":
            return base_lr * self.factor ** (step // self.every)
        if self.kind == "cosine":
            total_steps = self.horizon or total_steps
            fraction = min(max(step, 0), total_steps) / max(total_steps, 1)
            return base_lr * 0.5 * (1.0 + math.cos(math.pi * fraction))
        return base_lr * math.exp(-self.rate * step)


def _number(text: str, what: str, schedule: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} of {schedule!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} of {schedule!r} must be finite")
    return value


def parse_schedule(text: str) -> Schedule:
    """Parse ``text`` (see the module docstring); raise ValueError saying what is malformed."""
    kind, _, args = text.strip().partition(":")
    if kind == "cosine" and args:
        horizon = _number(args, "STEPS", text)
        if horizon != int(horizon) or not 1 <= horizon <= 10**12:
            raise ValueError(f"STEPS of {text!r} must be a whole number of steps >= 1")
        return Schedule("cosine", horizon=int(horizon))
    if kind in ("constant", "cosine"):
        if args:
            raise ValueError(f"lr schedule {kind!r} takes no arguments, got {text!r}")
        return Schedule(kind)
    if kind == "step":
        parts = args.split(",")
        if len(parts) != 2:
            raise ValueError(f"lr schedule {text!r} must be step:EVERY,FACTOR (e.g. step:500,0.5)")
        every = _number(parts[0], "EVERY", text)
        if every != int(every) or not 1 <= every <= 10**12:
            raise ValueError(f"EVERY of {text!r} must be a whole number of steps >= 1")
        factor = _number(parts[1], "FACTOR", text)
        if not 0 < factor <= 1:
            raise ValueError(f"FACTOR of {text!r} must be in (0, 1]")
        return Schedule("step", every=int(every), factor=factor)
    if kind == "exp":
        if not args:
            raise ValueError(f"lr schedule {text!r} must be exp:RATE (e.g. exp:0.001)")
        rate = _number(args, "RATE", text)
        if not 0 <= rate <= 1e3:
            raise ValueError(f"RATE of {text!r} must be in [0, 1000]")
        return Schedule("exp", rate=rate)
    raise ValueError(f"unknown lr schedule {text[:40]!r}: expected {SYNTAX}")
