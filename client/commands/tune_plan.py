"""The plan of a hyperparameter search (pure: no I/O, no RPCs): which trials, which budgets, who goes on.

- A search space: one ``Dimension`` per hyperparameter, either a range ``LOW:HIGH`` (random
  search samples it log-uniformly, as the notes advise for lr and reg) or a list of values
  ``V1,V2,...`` (a grid takes every combination; random search picks among them).
- Successive halving: ``rungs(n, budget)`` gives the rungs, each a number of trials and the
  updates each of them trains for. Every rung keeps the best 1/ETA of the last by validation
  accuracy, and the last rung trains the survivor(s) for the full budget; the first rung's
  budget is ``budget / ETA**k`` with k as large as the trials allow (and no smaller than
  MIN_RUNG_UPDATES).
- ``rank`` orders results: the furthest rung first (a survivor has beaten the others at equal
  budget), then validation accuracy, then trial number; a trial without one (failed) goes last.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Hyperparameters a search may vary: floating-point fields of a JobSpec.
SEARCHABLE = ("lr", "reg", "momentum", "beta1", "beta2", "eps", "init_scale")
#: Each rung keeps 1/ETA of the trials of the one before and trains them ETA times longer.
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


@dataclass(frozen=True)
class Rung:
    """A round of successive halving: how many trials train, for how many updates each."""

    trials: int
    updates: int


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


def random_trials(dimensions: Sequence[Dimension], count: int, rng: np.random.Generator) -> list[dict[str, float]]:
    """``count`` points: each range sampled log-uniformly, each list uniformly among its values."""
    if count < 1:
        raise ValueError(f"need at least one trial, got {count}")
    trials = []
    for _ in range(count):
        point = {}
        for dim in dimensions:
            if dim.is_range:
                point[dim.name] = float(math.exp(rng.uniform(math.log(dim.low), math.log(dim.high))))
            else:
                point[dim.name] = float(dim.values[rng.integers(len(dim.values))])
        trials.append(point)
    return trials


def grid_trials(dimensions: Sequence[Dimension]) -> list[dict[str, float]]:
    """Every combination of the dimensions' values (the first dimension varies slowest)."""
    for dim in dimensions:
        if dim.is_range:
            raise ValueError(f"{dim.name}: a grid needs a list of values (V1,V2,...), not a range")
    names = [dim.name for dim in dimensions]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(dim.values for dim in dimensions))]


def rungs(trials: int, budget: int, halving: bool, eta: int = ETA, min_updates: int = MIN_RUNG_UPDATES) -> list[Rung]:
    """The rungs of a search over ``trials`` trials with ``budget`` updates for the last (see the module)."""
    if trials < 1 or budget < 1:
        raise ValueError(f"need trials >= 1 and budget >= 1, got {trials} and {budget}")
    k = int(math.floor(math.log(trials, eta) + 1e-9)) if halving else 0
    while k > 0 and budget // eta**k < min_updates:
        k -= 1
    return [Rung(trials=math.ceil(trials / eta**i), updates=budget // eta ** (k - i)) for i in range(k + 1)]


def _sort_key(result: tuple[int, int, float | None]):
    trial, rung, val = result
    missing = val is None or not math.isfinite(val)
    return (-rung, missing, 0.0 if missing else -val, trial)


def rank(results: Sequence[tuple[int, int, float | None]]) -> list[int]:
    """Trial numbers of ``(trial, furthest rung, val accuracy)`` results, best first (see the module)."""
    return [trial for trial, _, _ in sorted(results, key=_sort_key)]


def survivors(results: Sequence[tuple[int, float | None]], keep: int) -> list[int]:
    """The ``keep`` best trials of one rung's ``(trial, val accuracy)`` results, best first."""
    return rank([(trial, 0, val) for trial, val in results])[:keep]
