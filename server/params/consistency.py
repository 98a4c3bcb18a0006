"""Consistency modes of a job: how workers' gradients meet W (async, sync/BSP, ssp:S).

- ``async``: every gradient is applied as it arrives (Hogwild!-style, with a lock).
- ``sync`` (bulk synchronous): each step the store waits for one gradient from every
  worker, applies their mean, and every worker continues from the same W.
- ``ssp:S`` (stale synchronous parallel, Ho et al. 2013): a worker's clock is the number of
  pushes it made; a worker starts its next step only while it is at most S clocks ahead
  of the slowest worker (its push is applied, its reply waits). ``ssp:0`` is BSP without
  the averaging.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
