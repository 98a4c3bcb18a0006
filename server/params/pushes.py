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

A push without a sequence (0: one on a shared-memory lane, which lives inside one stream and
is never re-sent) is applied unrecorded. ``admit`` is called under the store's lock, so that
admitting and applying are one step; the record's own lock covers ``fence`` and ``refused``
from other threads. A worker refused at authorization (a replaced worker's secret is gone) is
counted stale with ``refused`` when its epoch is older than its id's newest.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable

from server.errors import PermissionDenied, echo


class Verdict(enum.Enum):
    APPLY = "apply"
    DUPLICATE = "duplicate"
    STALE = "stale"


class PushRecord:
    """Per worker id: the newest epoch and the last sequence applied in it; counts of what was refused."""

    def __init__(self) -> None:
        self._epoch: dict[str, int] = {}
        self._last: dict[str, int] = {}  # worker id -> last sequence applied in its newest epoch
        self._lock = threading.RLock()
        self.refused_stale = 0
        self.duplicates = 0
        self.contacts: dict[str, int] = {}  # streams opened per worker id: a replacement runs once it grows

    def contact(self, worker_id: str) -> None:
        """A worker of this id opened its stream (the store's ``register``)."""
        with self._lock:
            self.contacts[worker_id] = self.contacts.get(worker_id, 0) + 1

    def fence(self, worker_id: str, epoch: int) -> None:
        """From now on refuse ``worker_id``'s pushes of epochs older than ``epoch`` (its replacement's)."""
        with self._lock:
            if epoch > self._epoch.get(worker_id, -1):
                self._epoch[worker_id] = epoch
                self._last[worker_id] = 0

    def refused(self, worker_id: str, epoch: int) -> bool:
        """A call of ``worker_id`` in ``epoch`` was refused at authorization: count it (and say so) if stale."""
        with self._lock:
            stale = epoch < self._epoch.get(worker_id, -1)
            self.refused_stale += stale
            return stale

    def admit(self, worker_id: str, epoch: int, sequence: int) -> Verdict:
        """The verdict on a push about to be applied; an admitted one is recorded as applied."""
        if sequence <= 0:
            return Verdict.APPLY
        with self._lock:
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

    def check(self, worker_id: str, epoch: int, sequence: int) -> bool:
        """``admit`` for the store: True to apply, False for a re-sent push; PermissionDenied for a stale one."""
        verdict = self.admit(worker_id, epoch, sequence)
        if verdict is Verdict.STALE:
            raise PermissionDenied(_fenced(worker_id, epoch))
        return verdict is Verdict.APPLY

    def guard(self, authorize: Callable[[], None], worker_id: str, epoch: int) -> None:
        """Run ``authorize()``; a refusal of a fenced epoch is counted and says so."""
        try:
            authorize()
        except PermissionDenied:
            if self.refused(worker_id, epoch):
                raise PermissionDenied(_fenced(worker_id, epoch)) from None
            raise


def _fenced(worker_id: str, epoch: int) -> str:
    return f"worker {echo(worker_id)} of epoch {epoch} was replaced by a newer one: it may not push or pull"
