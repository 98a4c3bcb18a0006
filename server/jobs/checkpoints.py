"""Checkpoints of running jobs: when to take one, and taking it off the push hot path.

A checkpoint copies W and the store's bookkeeping under the store's lock (one O(W)
copy, microseconds for 10 x 3073), then writes the file and the job's record from
the housekeeping thread, never from a push. A failed write is logged, shown in the
job's status (``checkpoint_error``) and retried on the next tick; training goes on.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from proto import descent_pb2
from server.jobs.job import Job
from server.jobs.registry import JobRegistry
from server.observe import events

log = logging.getLogger("descent.checkpoints")
State = descent_pb2.JobState

#: Seconds between retries of a checkpoint that failed.
RETRY_SECONDS = 1.0


@dataclass(frozen=True)
class CheckpointPolicy:
    """Checkpoint a running job every ``every_updates`` updates or ``every_seconds`` seconds, whichever is first."""

    every_updates: int = 5000
    every_seconds: float = 5.0
    enabled: bool = True


class Checkpointer:
    """Writes checkpoints of this server's running jobs."""

    def __init__(self, registry: JobRegistry, policy: CheckpointPolicy):
        self._registry = registry
        self._policy = policy
        self._failed_at: dict[str, float] = {}

    def due(self, job: Job, now: float) -> bool:
        """Whether ``job`` should be checkpointed now."""
        store = job.store
        if not self._policy.enabled or store is None or job.state != State.RUNNING or job.suspended.is_set():
            return False
        if now - self._failed_at.get(job.job_id, 0.0) < RETRY_SECONDS:
            return False
        behind = store.version - job.checkpoint_version
        if behind <= 0:
            return False
        return behind >= self._policy.every_updates or now - max(job.checkpoint_at, job.started_at) >= self._policy.every_seconds

    def tick(self) -> None:
        """Checkpoint every running job that is due."""
        now = time.time()
        for job in self._registry.live_jobs():
            if self.due(job, now):
                self.checkpoint(job)

    def checkpoint(self, job: Job) -> bool:
        """Write a checkpoint of ``job`` now and record it; return whether the file was written."""
        store = job.store
        if store is None:
            return False
        state = store.capture()
        try:
            self._registry.files.write_checkpoint(job.job_id, state)
        except Exception as exc:
            self._failed_at[job.job_id] = time.time()
            job.checkpoint_error = f"checkpoint at version {state.version} failed: {type(exc).__name__}: {exc}"[:500]
            log.error("job %s: %s", job.job_id, job.checkpoint_error)
            events.checkpoint_failed(job)
            self._registry.save(job)
            return False
        self._failed_at.pop(job.job_id, None)
        job.checkpoint_version, job.checkpoint_at, job.checkpoint_error = state.version, time.time(), ""
        self._registry.save(job)
        return True
