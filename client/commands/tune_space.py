"""The search space of ``descent tune`` and the order of its results (pure: no I/O, no RPCs).

- One ``Dimension`` per hyperparameter, either a range ``LOW:HIGH`` (sampled log-uniformly, as
  the notes advise for lr and reg) or a list of values ``V1,V2,...`` (a grid takes every
  combination; the other samplers pick among them). Optuna samples them
  (client.commands.tune_study); this module only reads what the user wrote.
- ``rungs(trials, budget, eta)``: the updates at which a trial's progress is judged (where one
  trial job ends and the next continues it): the first is ``budget // eta**k`` with k as large
  as the trials allow (and no smaller than MIN_RUNG_UPDATES), each next one eta times longer
  (the pruners' own rungs), the last the budget.
- ``rank`` orders results: the furthest rung first (a survivor has beaten the others at equal
  budget), then validation accuracy, then trial number; a trial without one (failed) goes last.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

#: Hyperparameters a search may vary: floating-point fields of a JobSpec.
SEARCHABLE = ("lr", "reg", "momentum", "beta1", "beta2", "eps", "init_scale")
#: Each rung keeps 1/ETA of the trials that reach it, and is ETA times longer than the one before.
ETA = 2
#: The shortest budget a rung may give a trial (shorter ones rank trials by noise).
MIN_RUNG_UPDATES = 50


@dataclass(frozen=True)
class Dimension:
    """One hyperparameter's search range (``low``..``high``, log-uniform) or its list of ``values``."""

    name: str
    low: float = 0.0
    high: float = 0.0
    values: tuple[float, ...] = ()

    @property
    def is_range(self) -> bool:
        return not self.values


def _number(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}: {text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{name}: {text.strip()!r} is not finite")
    return value


def parse_dimension(name: str, text: str) -> Dimension:
    """``LOW:HIGH`` (a log-uniform range, 0 < LOW <= HIGH) or ``V1,V2,...``; ValueError says what is wrong."""
    if name not in SEARCHABLE:
        raise ValueError(f"cannot search {name!r}: searchable are {', '.join(SEARCHABLE)}")
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 2:
            raise ValueError(f"{name}: a range is LOW:HIGH, got {text!r}")
        low, high = (_number(p, name) for p in parts)
        if not 0 < low <= high:
            raise ValueError(f"{name}: a log-uniform range needs 0 < LOW <= HIGH, got {text!r}")
        return Dimension(name, low=low, high=high)
    values = tuple(_number(p, name) for p in text.split(",") if p.strip())
    if not values:
        raise ValueError(f"{name}: give LOW:HIGH or a list of values")
    return Dimension(name, values=tuple(dict.fromkeys(values)))


def rungs(trials: int, budget: int, eta: int = ETA, min_updates: int = MIN_RUNG_UPDATES) -> list[int]:
    """The updates at which trials are judged (see the module); ``[budget]`` alone for one trial."""
    if trials < 1 or budget < 1 or eta < 2:
        raise ValueError(f"need trials >= 1, budget >= 1 and eta >= 2, got {trials}, {budget} and {eta}")
    k = int(math.floor(math.log(trials, eta) + 1e-9))
    while k > 0 and budget // eta**k < min_updates:
        k -= 1
    first = budget // eta**k
    return [first * eta**i for i in range(k)] + [budget]


def _sort_key(result: tuple[int, int, float | None]):
    trial, rung, val = result
    missing = val is None or not math.isfinite(val)
    return (-rung, missing, 0.0 if missing else -val, trial)


def rank(results: Sequence[tuple[int, int, float | None]]) -> list[int]:
    """Trial numbers of ``(trial, furthest rung, val accuracy)`` results, best first (see the module)."""
    return [trial for trial, _, _ in sorted(results, key=_sort_key)]
