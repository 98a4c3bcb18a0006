"""Admission of training jobs to the cluster: first come, first served, gang-placed, never hanging.

A job asks for one CPU per worker. If the live cluster has them free and no job of
this server is ahead of it, it gets them at once as a Ray placement group (all
bundles or none). Otherwise it waits QUEUED, its message saying what for ("waiting
for 2 CPUs, 0 free, 1 job ahead"), and starts when capacity frees. A reservation
that Ray cannot complete in time (a node that died but is not yet known to be dead,
say) is given back and tried again: a job waits, it never fails for a dead node.
One that waits past the queue timeout fails with the reason. An elastic job is placed
with its MIN workers and grows later; while a job waits here it gives back the CPUs it
holds above its MIN (``queued_cpus``; server.training.elastic).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from proto import descent_pb2
from server.cluster.launcher import RayLauncher
from server.errors import ResourcesExhausted
from server.jobs.job import Job

State = descent_pb2.JobState


class QueueTimeout(ResourcesExhausted):
    """A job waited for CPUs longer than the server's queue timeout."""


class Scheduler:
    """The queue of this server's jobs waiting for CPUs."""

    def __init__(self, launcher: RayLauncher, queue_timeout: float, placement_timeout: float = 10.0, poll: float = 0.5):
        self._launcher = launcher
        self._queue_timeout = queue_timeout
        self._placement_timeout = placement_timeout
        self._poll = poll
        self._queue: list[str] = []
        self._asks: dict[str, int] = {}  # job id -> the CPUs it waits for
        self._lock = threading.Lock()

    def place(self, job: Job, cpus: int, should_stop: Callable[[], bool]) -> Any | None:
        """Wait (QUEUED if need be) for ``cpus`` free CPUs; return the placement group, None if stopped.

        Raises QueueTimeout after the queue timeout.
        """
        with self._lock:
            self._queue.append(job.job_id)
            self._asks[job.job_id] = cpus
        started = time.monotonic()
        try:
            while not should_stop():
                with self._lock:
                    ahead = self._queue.index(job.job_id)
                free = self._launcher.free_cpus()
                if ahead == 0 and free >= cpus:
                    group = self._launcher.reserve(cpus, self._placement_timeout, should_stop)
                    if group is not None:
                        return group
                    why = f"placing {cpus} workers: Ray has not placed them yet (a node may have just died)"
                else:
                    jobs = "job" if ahead == 1 else "jobs"
                    why = f"waiting for {cpus} CPUs, {free:g} free, {ahead} {jobs} ahead"
                if job.state != State.QUEUED:
                    job.transition(State.QUEUED, why)
                else:
                    job.set_message(why)
                waited = time.monotonic() - started
                if waited > self._queue_timeout:
                    raise QueueTimeout(f"queued for {waited:.0f} s (--queue-timeout {self._queue_timeout:g}); {why}")
                time.sleep(self._poll)
            return None
        finally:
            with self._lock:
                self._queue.remove(job.job_id)
                self._asks.pop(job.job_id, None)

    def queued_cpus(self) -> int:
        """The CPUs the first job in the queue waits for (0: none waits): what an elastic job gives back first."""
        with self._lock:
            return self._asks[self._queue[0]] if self._queue else 0
