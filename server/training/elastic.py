"""An elastic job's workers (``--workers MIN:MAX``): it grows while CPUs are free and shrinks without a restart.

The job's first MIN workers are one gang (the placement group the scheduler gave it); every
worker beyond them has a one-CPU placement group of its own, reserved one at a time while a
CPU is free and no other job waits for one, up to the job's target (its ``workers``, MAX
unless ``descent scale`` changed it). The job shrinks by retiring its newest extra worker:
the worker leaves the store's membership at once (a sync step or an ssp bound re-forms
without it), finishes the push it is computing, is answered stop, and its CPU is given back
when its task returns. That happens when the target drops below the workers it has, and
when a job queued behind it needs CPUs it holds above its MIN (fair sharing).

A worker that dies leaves the membership too, so the others go on; its slot is started
again when its bundle has a live node (server.training.supervision), and its node is set
aside (2 s, 4 s, … server.cluster.node_backoff): an extra worker placed there meanwhile is
given back and placed again later. Below MIN the job says
so in its message and waits; the stall timeout ends it if no update comes. Every join and
leave is kept in the job's membership history and logged as a ``scaled`` event.

``rescale`` (the ScaleJob RPC, ``descent scale``) changes a live job's target or bounds: the
new spec is persisted at once, so a server that dies mid-resize resumes the job with them.
The gang of the MIN it started with stays; new bounds change what it grows to and gives back.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from proto import descent_pb2
from proto.job_fields import BY_NAME
from server.cluster.node_backoff import NodeBackoff
from server.errors import JobNotActive, RequestError
from server.jobs.job import Job
from server.jobs.spec import check_elastic, check_field
from server.observe import events

if TYPE_CHECKING:  # the launcher imports ray; an elastic crew only calls it
    from server.cluster.launcher import RayLauncher

#: Seconds a retired worker may take to return before it is killed and its CPU given back.
RETIRE_GRACE = 10.0
#: Seconds one extra worker's placement may take before it is given back and tried again later.
GROW_TIMEOUT = 3.0
#: Entries of membership history kept per job (the oldest dropped first).
MAX_HISTORY = 500


@dataclass
class _Extra:
    """A worker slot beyond MIN: its own one-CPU placement group, and when it was retired (0: it was not)."""

    group: Any
    retired_at: float = 0.0


class Crew:
    """Which worker slots an elastic job runs, where each is placed, and its history of joins and leaves."""

    def __init__(self, job: Job, launcher: RayLauncher, gang: Any, queued: Callable[[], int]):
        """``gang`` is the placement group of the first MIN workers; ``queued()`` the CPUs that jobs queued
        behind this one wait for (0: none waits)."""
        self._job, self._launcher, self._gang, self._queued = job, launcher, gang, queued
        self._extras: dict[int, _Extra] = {}
        self._below_min = False
        self._backoff = NodeBackoff()
        self.base = job.config.bounds[0]  # the gang's slots: 0 .. MIN-1 (MIN when the job started)

    def where(self, slot: int) -> tuple[Any, int]:
        """The placement group and bundle index a slot's worker runs in."""
        return (self._gang, slot) if slot < self.base else (self._extras[slot].group, 0)

    def retired(self, slot: int) -> bool:
        return slot in self._extras and self._extras[slot].retired_at > 0

    def active(self) -> list[int]:
        """The slots that count toward the target (running, or dead and waiting to be started again)."""
        return list(range(self.base)) + sorted(s for s, extra in self._extras.items() if not extra.retired_at)

    def record(self, joined: bool, worker_id: str, reason: str, workers: int) -> None:
        """One join or leave: in the job's history, in the log (``scaled``), and the job's current count."""
        node = self._job.store.progress()[3].get(worker_id, "") if self._job.store is not None else ""
        change = descent_pb2.MembershipChange(
            time=time.time(), joined=joined, worker_id=worker_id, node_id=node, reason=reason, workers=workers,
        )
        with self._job.changed:
            self._job.current_workers = workers
            self._job.membership.append(change)
            del self._job.membership[:-MAX_HISTORY]
            self._job.changed.notify_all()
        events.scaled(self._job, worker_id, "join" if joined else "leave", reason, workers, node)

    def ended(self, slot: int) -> bool:
        """A slot's worker returned or died; True if it was retired (its CPU is given back, nothing replaces it)."""
        extra = self._extras.get(slot)
        if extra is None or not extra.retired_at:
            return False
        del self._extras[slot]
        self._launcher.release(extra.group)
        return True

    def overdue(self, now: float) -> list[int]:
        """Retired slots whose worker did not return within RETIRE_GRACE (to be killed)."""
        return [slot for slot, extra in self._extras.items() if extra.retired_at and now - extra.retired_at > RETIRE_GRACE]

    def adjust(self, running: int, start: Callable[[int, str], None], retire: Callable[[int, str], None],
               stopping: Callable[[], bool]) -> None:
        """One look at the job's size: retire the newest extra worker, or place one more, or neither.

        ``running`` is how many of its workers run now; ``start(slot, why)`` starts a slot's worker and
        ``retire(slot, why)`` tells one to leave.
        """
        cfg = self._job.config
        self._fill_nodes()
        active = self.active()
        extras = [slot for slot in active if slot >= self.base]
        self._say_below_min(running, cfg.bounds[0])
        if extras and len(active) > cfg.workers:
            retire(extras[-1], f"scaled to {cfg.workers}")
            return
        waiting = self._queued()
        if waiting:
            releasing = sum(1 for extra in self._extras.values() if extra.retired_at)
            if extras and len(active) > cfg.bounds[0] and self._launcher.free_cpus() + releasing < waiting:
                retire(extras[-1], "given to a queued job")
            return
        if len(active) < cfg.workers and self._launcher.free_cpus() >= 1:
            group = self._launcher.reserve(1, GROW_TIMEOUT, stopping)
            if group is not None and self._backoff.set_aside(self._launcher.group_node(group), time.monotonic()):
                self._launcher.release(group)  # its node's workers failed lately: not there, not yet
                group = None
            if group is not None:
                slot = next(s for s in itertools.count(self.base) if s not in self._extras)
                self._extras[slot] = _Extra(group)
                start(slot, "CPUs free")

    def _fill_nodes(self) -> None:
        """A join's node is known once its worker first pushed: write it into the recent history."""
        unknown = [change for change in self._job.membership[-20:] if not change.node_id]
        if unknown and self._job.store is not None:
            nodes = self._job.store.progress()[3]
            with self._job.changed:
                for change in unknown:
                    change.node_id = nodes.get(change.worker_id, "")

    def node_failed(self, node: str) -> float:
        """A worker on ``node`` died: set the node aside for new workers; return for how many seconds."""
        return self._backoff.failed(node, time.monotonic())

    def retire(self, slot: int) -> None:
        self._extras[slot].retired_at = time.monotonic()

    def _say_below_min(self, running: int, least: int) -> None:
        below = running < least
        if below:
            self._job.set_message(
                f"waiting for workers: {running} of at least {least} running; training goes on once capacity returns "
                "(the stall timeout ends the job if no update comes)"
            )
        elif self._below_min:
            self._job.set_message("")
        self._below_min = below

    def release_all(self) -> None:
        """Give back every extra worker's CPU (the job ended; its workers were killed)."""
        for extra in self._extras.values():
            self._launcher.release(extra.group)
        self._extras.clear()


def rescale(job: Job, workers: int | None, bounds: tuple[int, int] | None) -> None:
    """Give a live elastic job a new target ``workers`` and/or new ``bounds`` (MIN, MAX), persisted at once.

    Raises JobNotActive for a finished or rigid job and RequestError for a target or bounds that do
    not fit, naming what is wrong; nothing changes then.
    """
    if job.terminal:
        raise JobNotActive(f"job {job.job_id} is already {descent_pb2.JobState.Name(job.state)}: only a live job scales")
    cfg = job.config
    if not cfg.elastic:
        raise JobNotActive(
            f"job {job.job_id} is rigid (--workers {cfg.workers}): only a job submitted with --workers MIN:MAX scales"
        )
    if workers is None and bounds is None:
        raise RequestError("give the job's new workers, or new bounds min_workers and max_workers, or both")
    low, high = bounds or cfg.bounds
    values = {"min_workers": low, "max_workers": high, "strategy": cfg.strategy, "gradient": cfg.gradient,
              "workers": min(max(cfg.workers, low), high) if workers is None else workers}
    for name in ("min_workers", "max_workers", "workers"):
        check_field(BY_NAME[name], values[name])
    check_elastic(values, given_target=True)
    with job.changed:
        job.config = dataclasses.replace(cfg, workers=values["workers"], min_workers=low, max_workers=high)
        job.persist()
        job.changed.notify_all()
    events.emit("scale_requested", job.job_id, "job rescaled", workers=values["workers"], min_workers=low,
                max_workers=high)
