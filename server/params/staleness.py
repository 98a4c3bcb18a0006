"""Staleness of applied gradients: how many updates W moved between a gradient's computation and its use.

For every applied gradient, ``version applied to - version computed on``. Kept as a
histogram with one bucket per value up to ``BUCKETS - 1`` and one overflow bucket, plus
the exact maximum; the percentiles come from the histogram (exact below the overflow).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Buckets 0 .. BUCKETS-2 count one staleness value each; the last counts every larger one.
BUCKETS = 64


@dataclass(frozen=True)
class Staleness:
    """A job's staleness so far: the histogram (trailing empty buckets dropped), p50, p99 and max."""

    histogram: list[int]
    p50: int
    p99: int
    max: int


class StalenessHistogram:
    """Counts of staleness values (not thread-safe: the store calls it under its lock)."""

    def __init__(self):
        self._counts = np.zeros(BUCKETS, dtype=np.int64)
        self._max = 0

    def add(self, staleness: int, times: int = 1) -> None:
        """Count ``times`` gradients of staleness ``staleness`` (negative values count as 0)."""
        staleness = max(int(staleness), 0)
        self._counts[min(staleness, BUCKETS - 1)] += times
        self._max = max(self._max, staleness)

    @property
    def count(self) -> int:
        return int(self._counts.sum())

    @property
    def max(self) -> int:
        return self._max

    def counts(self) -> list[int]:
        """The histogram without its trailing empty buckets."""
        nonzero = np.flatnonzero(self._counts)
        return self._counts[: nonzero[-1] + 1].tolist() if len(nonzero) else []

    def percentile(self, q: float) -> int:
        """The smallest staleness s with at least q% of the gradients at or below s (0 when empty)."""
        total = self.count
        if total == 0:
            return 0
        rank = int(np.ceil(q / 100.0 * total))
        bucket = int(np.searchsorted(np.cumsum(self._counts), max(rank, 1)))
        return self._max if bucket == BUCKETS - 1 else bucket

    def summary(self) -> Staleness:
        """The histogram with its p50, p99 and max."""
        return Staleness(self.counts(), self.percentile(50), self.percentile(99), self._max)
