"""The push record of one job: no push applied twice, none from a fenced worker epoch.

Each worker push carries (worker id, epoch, sequence): the epoch is the worker's incarnation
(its slot's n-th start; a replacement gets the next one), the sequence counts its pushes within
that epoch. The record keeps, per worker id, the newest epoch it knows (``fence`` raises it when
a replacement is placed; a push in a newer epoch raises it too) and the last sequence applied in
it. ``admit`` decides, for a push about to be applied:

- ``STALE``: its epoch is older than the worker id's newest — a replaced worker that came back
  (after a partition, a pause) must not push into the job that replaced it; refused and counted;
- ``DUPLICATE``: its sequence is not past the last one applied in its epoch — a push re-sent
  after a lost reply; recognised, not applied again, and counted;
- ``APPLY``: recorded as applied (the caller applies it under the same lock).

A push without a sequence (0: an older worker) is applied unrecorded. Not thread-safe: the
store calls it under its own lock, so that admitting and applying are one step.
"""

from __future__ import annotations

import enum


class Verdict(enum.Enum):
    APPLY = "apply"
    DUPLICATE = "duplicate"
    STALE = "stale"


class PushRecord:
    """Per worker id: the newest epoch and the last sequence applied in it; counts of what was refused."""

    def __init__(self) -> None:
        self._epoch: dict[str, int] = {}
        self._last: dict[str, int] = {}  # worker id -> last sequence applied in its newest epoch
        self.refused_stale = 0
        self.duplicates = 0

    def fence(self, worker_id: str, epoch: int) -> None:
        """From now on refuse ``worker_id``'s pushes of epochs older than ``epoch`` (its replacement's)."""
        if epoch > self._epoch.get(worker_id, -1):
            self._epoch[worker_id] = epoch
            self._last[worker_id] = 0

    def admit(self, worker_id: str, epoch: int, sequence: int) -> Verdict:
        """The verdict on a push about to be applied; an admitted one is recorded as applied."""
        if sequence <= 0:
            return Verdict.APPLY
        newest = self._epoch.get(worker_id, -1)
        if epoch < newest:
            self.refused_stale += 1
            return Verdict.STALE
        if epoch > newest:
            self.fence(worker_id, epoch)
        if sequence <= self._last[worker_id]:
            self.duplicates += 1
            return Verdict.DUPLICATE
        self._last[worker_id] = sequence
        return Verdict.APPLY

    def last_applied(self, worker_id: str) -> tuple[int, int]:
        """(newest epoch, last sequence applied in it) of ``worker_id``; (-1, 0) for one never seen."""
        return self._epoch.get(worker_id, -1), self._last.get(worker_id, 0)
