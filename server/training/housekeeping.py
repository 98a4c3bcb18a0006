"""The server's housekeeping thread: checkpoints, the lease heartbeat, and adopting orphaned jobs.

Every tick it checkpoints the running jobs that are due; every ``heartbeat`` seconds
it renews this server's lease (and retries failed saves), looks for orphaned jobs —
unfinished jobs whose server stopped — which it resumes (or, with ``--no-resume``,
ends FAILED with the reason), and drops the server's mappings of cached data sets no
job has used for ``data_idle`` seconds (server.cluster.data_cache). The first look happens as
the thread starts, so a restarted server picks its jobs up at once. Every ``board_every``
seconds it writes what is new of each job into its TensorBoard event files (the ``board``,
server.observe.tensorboard): here, off the push path.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from server.jobs.checkpoints import Checkpointer
from server.jobs.job import Job
from server.jobs.registry import JobRegistry
from server.observe.tensorboard import JobBoard

log = logging.getLogger("descent.housekeeping")


class Runs(Protocol):
    """What housekeeping needs of the job runner (server.training.runner.JobRunner)."""

    def start(self, job: Job) -> None:
        """Run an adopted job from its checkpoint."""

    def unmap_idle_data(self, idle_for: float) -> int:
        """Drop the mappings of data sets no job used for ``idle_for`` s; how many."""


class Housekeeping:
    """One background thread; ``start`` and ``stop`` it around serving."""

    def __init__(
        self,
        registry: JobRegistry,
        runner: Runs,
        checkpointer: Checkpointer,
        resume: bool = True,
        tick: float = 0.25,
        heartbeat: float = 1.0,
        data_idle: float = 2.0,
        board: JobBoard | None = None,
        board_every: float = 2.0,
    ):
        self._registry = registry
        self._runner = runner
        self._checkpointer = checkpointer
        self._resume = resume
        self._tick = tick
        self._heartbeat = heartbeat
        self._data_idle = data_idle
        self._board = board
        self._board_every = board_every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="housekeeping", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._board is not None and not self._thread.is_alive():
            self.write_board()  # what ended since the last tick
            self._board.close()

    def _loop(self) -> None:
        next_beat = next_board = 0.0
        while not self._stop.is_set():
            try:
                now = time.monotonic()
                beat = now >= next_beat
                if beat:
                    next_beat = now + self._heartbeat
                    self._registry.heartbeat()
                    self.adopt_orphans()
                self._checkpointer.tick()
                if beat:
                    advised = self._runner.unmap_idle_data(self._data_idle)
                    if advised:
                        log.debug("unmapped %.0f MiB of idle cached data sets", advised / 2**20)
                if self._board is not None and now >= next_board:
                    next_board = now + self._board_every
                    self.write_board()
            except Exception:  # housekeeping must outlive any one failure
                log.exception("housekeeping tick failed")
            self._stop.wait(self._tick)

    def write_board(self) -> None:
        """Write what is new of every job this server runs into its TensorBoard events (never raises)."""
        for job in self._registry.live_jobs():
            if self._stop.is_set() or not self._board.wants(job.job_id):
                continue
            status = job.status()
            store = job.store
            if store is None:  # not training yet; or ended before it did (its hyperparameters and end only)
                if job.terminal:
                    self._board.sync(status, 1, None)
                continue
            block, means = store.loss_history()
            status.loss_history.extend(means)
            self._board.sync(status, block, lambda store=store: store.weights()[0])

    def adopt_orphans(self) -> None:
        """Resume (or fail, with --no-resume) every unfinished job whose server is gone."""
        for row in self._registry.orphans():
            if self._stop.is_set():
                return
            if not self._resume:
                self._registry.fail_orphan(row, "its server stopped, and this server runs with --no-resume")
                log.info("job %s: orphaned, marked FAILED (--no-resume)", row.job_id)
                continue
            job = self._registry.adopt(row)
            if job is not None:
                log.info("job %s: adopted; %s", job.job_id, job.message)
                self._runner.start(job)
