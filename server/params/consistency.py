"""Consistency modes of a job: how workers' gradients meet W (async, sync/BSP, ssp:S).

- ``async``: every gradient is applied as it arrives (Hogwild!-style, with a lock).
- ``sync`` (bulk synchronous): each step the store waits for one gradient from every
  worker, applies their mean, and every worker continues from the same W.
- An elastic job's members change while it runs (server.params.enrollment): a sync step's
  barrier is the workers that are members then (never more pushes than the job still needs,
  so the last step stops at exactly its steps), and ssp clocks count members only.
- ``ssp:S`` (stale synchronous parallel, Ho et al. 2013): a worker's clock is the number of
  pushes it made; a worker starts its next step only while it is at most S clocks ahead
  of the slowest worker (its push is applied, its reply waits). ``ssp:0`` is BSP without
  the averaging.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from server.errors import RequestError, echo

MODES = ("async", "sync", "ssp:S")
#: Largest ssp bound accepted (beyond it ssp is async in all but name).
MAX_SSP = 1_000_000
_SSP = re.compile(r"ssp:(\d{1,7})")


@dataclass(frozen=True)
class Consistency:
    """A parsed consistency mode: ``kind`` is "async", "sync" or "ssp"; ``bound`` is S for ssp."""

    kind: str = "async"
    bound: int = 0

    def __str__(self) -> str:
        return f"ssp:{self.bound}" if self.kind == "ssp" else self.kind


ASYNC = Consistency()


def parse_consistency(text: str) -> Consistency:
    """Parse "async", "sync" or "ssp:S" (S >= 0); raise RequestError naming the bad value."""
    if text in ("async", "sync"):
        return Consistency(text)
    match = _SSP.fullmatch(text)
    if match and int(match.group(1)) <= MAX_SSP:
        return Consistency("ssp", int(match.group(1)))
    raise RequestError(
        f"consistency must be one of async, sync, ssp:S (S an integer 0..{MAX_SSP}), got {echo(text)}"
    )



class SyncStep:
    """The gradients of one sync step so far, by worker (the store calls it under its lock).

    It is complete once it holds one gradient per worker: ``fixed`` (a rigid job's width) or the
    ``members`` of an elastic job, whichever is more, never more than the pushes the job still needs.
    """

    def __init__(self) -> None:
        self._pending: dict[str, tuple[np.ndarray, float]] = {}

    def add(self, worker_id: str, grad: np.ndarray, loss: float) -> None:
        self._pending[worker_id] = (grad, loss)  # a replaced worker's push takes its slot

    def drop(self, worker_id: str) -> None:
        """Forget a worker's gradient (it left before the step was applied: never counted)."""
        self._pending.pop(worker_id, None)

    def complete(self, fixed: int, members: int, pushes_left: int) -> bool:
        return bool(self._pending) and len(self._pending) >= max(1, min(max(fixed, members), pushes_left))

    def take(self, dtype: np.dtype) -> tuple[np.ndarray, list[tuple[str, float]]]:
        """The step's mean gradient (summed in worker order, whatever the arrival) and each worker's loss; empties it."""
        pending, self._pending = self._pending, {}
        order = sorted(pending)
        total = np.array(pending[order[0]][0], dtype=dtype, copy=True)
        for worker in order[1:]:
            total += pending[worker][0]
        total /= len(order)
        return total, [(worker, pending[worker][1]) for worker in order]
