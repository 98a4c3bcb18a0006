"""The job registry: the jobs this server runs (in memory) over the durable job store.

This is the one place a job's record is written (``Job`` calls ``save`` on every state
change; the checkpointer calls it after each checkpoint). The server instance holds a
lease in the job database, renewed by ``heartbeat``; jobs whose owner's lease ran out
(or whose owner is provably dead: its process is gone, or it had this very PID on this
host) are orphans, and ``adopt`` takes one over — compare-and-set in one transaction,
so two servers never both adopt a job. A save that finds the job owned by another
server suspends it here: a job is trained by one server at a time.

Jobs run by another live server sharing the state directory (an embedded server of
another CLI command, say) are read from the database on each request.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import sqlite3
import threading
import time
import uuid
from pathlib import Path

import numpy as np
from google.protobuf import json_format

from proto import descent_pb2
from server.errors import JobNotActive, JobNotFound, StorageUnavailable
from server.jobs.job import TERMINAL, Job
from server.jobs.lineage import end_point
from server.jobs.spec import JobConfig, resolve
from server.observe import events
from server.params.snapshots import StartPoint
from server.state.database import JobDatabase, Row
from server.state.files import CheckpointUnreadable, JobFiles

log = logging.getLogger("descent.registry")
State = descent_pb2.JobState

_JOB_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")

#: Seconds without a heartbeat after which a server's unfinished jobs are orphans.
LEASE_SECONDS = 5.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobRegistry:
    """Creates, finds, saves and adopts jobs; owns this server's lease."""

    def __init__(self, state_dir: Path, lease: float = LEASE_SECONDS):
        self.files = JobFiles(state_dir)
        self._db = JobDatabase(Path(state_dir) / "jobs.db")
        self.lease = lease
        self._host, self._pid = socket.gethostname(), os.getpid()
        self.instance_id = f"{self._host}-{self._pid}-{uuid.uuid4().hex[:8]}"
        self._db.prune_instances(lease)  # servers long gone (their jobs are orphans either way)
        self._db.register_instance(self.instance_id, self._host, self._pid)
        self._jobs: dict[str, Job] = {}
        self._unsaved: set[str] = set()
        self._lock = threading.Lock()
        self._import_legacy()

    # -- this server's jobs -----------------------------------------------------------

    def create(self, config: JobConfig, start: StartPoint | None = None) -> Job:
        """Register a new PENDING job (continuing from ``start``), owned by this server, and write it
        (StorageUnavailable if it cannot)."""
        job = Job(f"job-{uuid.uuid4().hex[:12]}", config, on_change=self.save)
        job.start = start
        try:
            self._db.insert(job.status(), self.instance_id)
        except (sqlite3.Error, OSError) as exc:
            log.error("cannot record a new job: %s: %s", type(exc).__name__, exc)
            raise StorageUnavailable(f"the server cannot record the job in its state directory ({exc})") from exc
        with self._lock:
            self._jobs[job.job_id] = job
        events.submitted(job)
        return job

    def save(self, job: Job) -> None:
        """Persist the job's record (and, once finished, its W and loss history first).

        Never raises: a failed write is logged and retried by ``heartbeat``. If another
        server owns the job now, this one stops training it.
        """
        try:
            status = job.status(include_history=job.terminal)
            if job.terminal and job.store is not None:
                state = job.store.capture()
                rule = job.config.optimizer if job.config.strategy == "gradient" else ""
                end = end_point(job.job_id, rule, job.start, state)
                self.files.write_result(job.job_id, state.weights, list(status.loss_history), state.version, end)
            if not self._db.update(status, self.instance_id):
                if not job.suspended.is_set():
                    log.warning("job %s is owned by another server now; stopping it here", job.job_id)
                job.suspend()
            elif job.terminal:  # its result and record are written: the checkpoint is not needed any more
                self.files.remove_checkpoint(job.job_id)
            with self._lock:
                self._unsaved.discard(job.job_id)
        except Exception as exc:
            log.error("saving job %s failed (%s: %s); retrying", job.job_id, type(exc).__name__, exc)
            with self._lock:
                self._unsaved.add(job.job_id)

    def live(self, job_id: str) -> Job | None:
        """The in-memory job, if this server runs or ran it."""
        with self._lock:
            return self._jobs.get(job_id)

    def live_jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def forget(self, job: Job) -> None:
        """Drop a suspended job from memory (the next server resumes it from the database)."""
        with self._lock:
            self._jobs.pop(job.job_id, None)

    # -- the lease ----------------------------------------------------------------------

    def heartbeat(self) -> None:
        """Renew this server's lease and retry the saves that failed."""
        try:
            self._db.heartbeat(self.instance_id)
        except Exception as exc:
            log.error("renewing the lease failed: %s: %s", type(exc).__name__, exc)
        with self._lock:
            retry = [self._jobs[i] for i in self._unsaved if i in self._jobs]
        for job in retry:
            self.save(job)

    def retire(self) -> None:
        """A clean shutdown: release every unfinished job at once and end the lease."""
        try:
            self._db.retire_instance(self.instance_id)
        except Exception as exc:
            log.error("releasing this server's jobs failed (%s); they are free once the lease expires", exc)

    def close(self) -> None:
        self._db.close()

    # -- orphans ------------------------------------------------------------------------

    def orphans(self) -> list[Row]:
        """Unfinished jobs whose server is gone: no owner, an expired lease, or a dead process."""
        instances = self._db.instances()
        now = time.time()
        found = []
        for row in self._db.unfinished():
            if row.owner == self.instance_id:
                continue
            owner = instances.get(row.owner) if row.owner else None
            if owner is None or now - owner.heartbeat_at > self.lease:
                found.append(row)
            elif owner.host == self._host and (owner.pid == self._pid or not _pid_alive(owner.pid)):
                found.append(row)  # its process is gone (or this process reuses its PID, as in a container)
        return found

    def adopt(self, row: Row) -> Job | None:
        """Take over an orphaned job; return it ready to run again, or None if another server was faster."""
        if not self._db.claim(row.job_id, row.owner, self.instance_id):
            return None
        stored = row.status
        reason = f"the result of the job it continues ({stored.spec.init_from}) is gone"
        try:
            config = resolve(stored.spec)
        except ValueError as exc:
            config = None
            reason = f"its stored spec is no longer valid: {exc}"
        state = State.RUNNING if stored.state == State.RUNNING else State.PENDING
        job = Job(row.job_id, config or JobConfig(), on_change=self.save, state=state, created_at=stored.created_at)
        job.started_at = stored.started_at
        job.restarts = stored.restarts + 1
        job.worker_restarts = stored.worker_restarts
        job.membership = list(stored.membership)  # an elastic job's joins and leaves so far
        job.checkpoint_version, job.checkpoint_at = stored.checkpoint_version, stored.checkpoint_at
        if config is not None:  # where it resumes from, before anyone can see it RUNNING again
            try:
                job.resume_state = self.files.read_checkpoint(job.job_id)
            except CheckpointUnreadable as exc:
                log.error("job %s: %s; it starts again from the beginning", job.job_id, exc)
            try:  # a continued job goes on counting from its parent's end
                job.start = self.files.read_end(config.init_from) if config.init_from else None
            except CheckpointUnreadable as exc:
                reason = f"its parent's result is unreadable: {exc}"
            job.resumed_from = job.resume_state.version if job.resume_state is not None else 0
            job.message = job.resume_note = (
                f"resumed from version {job.resumed_from} of {config.steps} after its server stopped "
                f"(restart {job.restarts})"
            )
        with self._lock:
            self._jobs[job.job_id] = job
        if config is None or (config.init_from and job.start is None):
            job.transition(State.FAILED, reason)
            return None
        job.persist()
        return job

    def fail_orphan(self, row: Row, reason: str) -> None:
        """End an orphaned job FAILED (``serve --no-resume``)."""
        job = self.adopt(row)
        if job is not None:
            job.transition(State.FAILED, reason)

    # -- reading any job ----------------------------------------------------------------

    def status(self, job_id: str, include_history: bool = False) -> descent_pb2.JobStatus:
        """The status of any known job; raises JobNotFound."""
        job = self.live(job_id)
        if job is not None and not job.suspended.is_set():
            return job.status(include_history)
        if not _JOB_ID.match(job_id):
            raise JobNotFound(f"no job {job_id[:80]!r}")
        row = self._db.get(job_id)
        if row is None:
            raise JobNotFound(f"no job {job_id!r}")
        orphan_ids = {r.job_id for r in self.orphans()} if row.state not in TERMINAL else set()
        status = self._explained(row, orphan_ids)
        if include_history and status.state in TERMINAL:
            result = self.files.read_result(job_id)
            if result is not None:
                status.loss_history.extend(result[1])
        return status

    @staticmethod
    def _explained(row: Row, orphan_ids: set[str]) -> descent_pb2.JobStatus:
        """A stored status; an orphan says so (it is waiting for a server, not running)."""
        status = row.status
        if row.job_id in orphan_ids:
            status.state = State.QUEUED
            status.message = (
                f"its server stopped at version {status.checkpoint_version}; "
                "a descent server started on this state directory resumes it"
            )
        return status

    def list(self) -> list[descent_pb2.JobStatus]:
        """Every known job, oldest first; damaged records are listed as DAMAGED."""
        live = {job.job_id: job.status() for job in self.live_jobs() if not job.suspended.is_set()}
        orphan_ids = {r.job_id for r in self.orphans()}
        statuses = list(live.values())
        for row in self._db.all():
            if row.job_id in live:
                continue
            statuses.append(self._explained(row, orphan_ids))
        return sorted(statuses, key=lambda s: s.created_at)

    def weights(self, job_id: str) -> tuple[np.ndarray, int]:
        """The job's current (running) or final W and its version; raises JobNotFound."""
        job = self.live(job_id)
        if job is not None and job.store is not None:
            return job.store.weights()
        status = self.status(job_id)
        result = self.files.read_result(job_id)
        if result is not None:
            return result[0], status.version
        try:
            checkpoint = self.files.read_checkpoint(job_id)
        except CheckpointUnreadable:
            checkpoint = None
        if checkpoint is not None:
            return checkpoint.weights, checkpoint.version
        raise JobNotActive(f"job {job_id} has no weights (state {State.Name(status.state)})")

    # -- descent 0.1 state directories ----------------------------------------------------

    def _import_legacy(self) -> None:
        """Import the records of a descent 0.1 state directory (jobs/*.json) once; unfinished ones as FAILED."""
        for path in sorted(self.files.legacy.glob("*.json")):
            try:
                record = json.loads(path.read_text())
                status = json_format.ParseDict(record["status"], descent_pb2.JobStatus())
                if status.job_id != path.stem:
                    raise ValueError("the record names another job")
            except Exception as exc:
                status = descent_pb2.JobStatus(
                    job_id=path.stem, state=State.DAMAGED, message=f"old record {path.name} is damaged ({exc})"[:300]
                )
            if status.state not in TERMINAL and status.state != State.DAMAGED:
                status.state = State.FAILED
                status.message = "its server stopped before descent kept durable jobs; it cannot be resumed"
            self._db.import_record(status)
