"""The job registry: jobs this server runs (in memory) plus every job in the state directory.

Jobs run by another server that shares the state directory (an embedded server
of another CLI command, say) are read from disk on each request. A stored job
that is not finished but whose server process is gone is reported as FAILED.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import uuid
from pathlib import Path

import numpy as np

from proto import descent_pb2
from server.errors import JobNotActive, JobNotFound
from server.job import TERMINAL, Job
from server.jobspec import JobConfig
from server.persist import StateDir

_JOB_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def _owner_alive(owner: str) -> bool:
    """Whether the server process named ``host:pid`` still runs (unknown hosts count as alive)."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobRegistry:
    """Creates jobs, finds them by id, and persists them atomically."""

    def __init__(self, state_dir: Path):
        self._disk = StateDir(state_dir)
        self._owner = f"{socket.gethostname()}:{os.getpid()}"
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def create(self, config: JobConfig) -> Job:
        """Register a new PENDING job and write it to disk."""
        job = Job(f"job-{uuid.uuid4().hex[:12]}", config, on_terminal=self.save)
        with self._lock:
            self._jobs[job.job_id] = job
        self.save(job)
        return job

    def save(self, job: Job) -> None:
        """Persist the job's status and, once it is terminal, its final W."""
        if job.terminal and job.store is not None:
            weights, _ = job.store.weights()
            self._disk.save_weights(job.job_id, weights)
        self._disk.save_status(job.status(), self._owner)

    def live(self, job_id: str) -> Job | None:
        """The in-memory job, if this server runs or ran it."""
        with self._lock:
            return self._jobs.get(job_id)

    def live_jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def status(self, job_id: str, include_history: bool = False) -> descent_pb2.JobStatus:
        """The status of any known job; raises JobNotFound."""
        job = self.live(job_id)
        if job is not None:
            return job.status(include_history)
        return self._stored_status(job_id)

    def _stored_status(self, job_id: str) -> descent_pb2.JobStatus:
        if not _JOB_ID.match(job_id):
            raise JobNotFound(f"no job {job_id!r}")
        stored = self._disk.load_status(job_id)
        if stored is None:
            raise JobNotFound(f"no job {job_id!r}")
        status, owner = stored
        if status.state not in TERMINAL and owner != self._owner and not _owner_alive(owner):
            status.state = descent_pb2.FAILED
            status.message = f"the server that ran this job ({owner}) stopped before it finished"
        return status

    def list(self) -> list[descent_pb2.JobStatus]:
        """Every known job, oldest first."""
        live = {job.job_id: job.status() for job in self.live_jobs()}
        statuses = list(live.values())
        for job_id in self._disk.job_ids():
            if job_id not in live:
                try:
                    statuses.append(self._stored_status(job_id))
                except (JobNotFound, ValueError):
                    continue  # a file removed or unreadable since the listing
        return sorted(statuses, key=lambda s: s.created_at)

    def weights(self, job_id: str) -> tuple[np.ndarray, int]:
        """The job's current (running) or final W and its version; raises JobNotFound."""
        job = self.live(job_id)
        if job is not None and job.store is not None:
            return job.store.weights()
        status = self.status(job_id)
        weights = self._disk.load_weights(job_id)
        if weights is None:
            raise JobNotActive(f"job {job_id} has no weights (state {descent_pb2.JobState.Name(status.state)})")
        return weights, status.version
