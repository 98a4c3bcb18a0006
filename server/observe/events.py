"""One log line per job event, the story of each job in ``docker compose logs server``.

Events (the ``event`` field; every line also has ``job``):

- ``submitted``: the full spec (``dataset``, ``workers``, ``steps``, ...).
- ``queued``: what the job waits for (``reason``).
- ``running``: the job left the queue or started (``restarts`` when it was resumed).
- ``placed``: its workers run, with the Ray ``nodes`` they run on.
- ``progress``: every PROGRESS_EVERY_S seconds while training (``updates``, ``of``,
  ``loss``, ``updates_per_s``), and once at the end of training.
- ``worker_lost`` / ``worker_replaced``: a worker died (``worker``, ``reason``) /
  its replacement started (``worker``, ``incarnation``).
- ``checkpoint_failed``: ``reason``.
- ``finished`` (SUCCEEDED: ``test_accuracy``, ``val_accuracy``, ``seconds``), ``failed``
  (``reason``, ``seconds``) or ``cancelled`` (``reason``).

And, with no ``job``, the cluster's Ray nodes as they come and go (server.cluster.node_watch):
``node_joined`` (``node``, ``address``, ``cpus``, ``head``) and ``node_left``.

Lines are written through the ``descent.events`` logger with their fields attached
(server.observe.logs renders them as logfmt or JSON). Callers in the job control plane
(registry, job, supervisor, checkpoints) call these functions in one line each.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict

from proto import descent_pb2

log = logging.getLogger("descent.events")

State = descent_pb2.JobState
#: Seconds between two progress lines of a running job.
PROGRESS_EVERY_S = 5.0
_ENDINGS = {State.SUCCEEDED: "finished", State.FAILED: "failed", State.CANCELLED: "cancelled"}


def emit(event: str, job_id: str, message: str, level: int = logging.INFO, **fields) -> None:
    """Write one event line: ``event`` and ``job`` (unless empty) first, then ``fields`` in the order given."""
    head = {"event": event, "job": job_id} if job_id else {"event": event}
    log.log(level, message, extra={"descent_fields": {**head, **fields}})


def _round(value: float, digits: int = 6):
    return round(value, digits) if isinstance(value, float) and math.isfinite(value) else value


def submitted(job) -> None:
    """A job was accepted: its whole spec."""
    emit("submitted", job.job_id, "job submitted", **asdict(job.config))


def state_changed(job) -> None:
    """Called by Job.transition after every change of state: queued, running, or the job's end."""
    state = job.state
    if state == State.QUEUED:
        emit("queued", job.job_id, "job queued", reason=job.message)
    elif state == State.RUNNING:
        emit("running", job.job_id, "job running", restarts=job.restarts)
    elif state in _ENDINGS:
        seconds = _round(max(0.0, job.finished_at - (job.started_at or job.created_at)), 3)
        if state == State.SUCCEEDED:
            accuracy = getattr(job, "accuracy", None) or {}
            emit("finished", job.job_id, "job finished", test_accuracy=_round(accuracy.get("test", float("nan"))),
                 val_accuracy=_round(accuracy.get("val", float("nan"))), seconds=seconds,
                 worker_restarts=job.worker_restarts, note=job.message)
        elif state == State.FAILED:
            emit("failed", job.job_id, "job failed", logging.WARNING, reason=job.message, seconds=seconds)
        else:
            emit("cancelled", job.job_id, "job cancelled", reason=job.message)


def worker_lost(job, worker_id: str, reason: str) -> None:
    """A worker died (its process or node went away, or it failed)."""
    emit("worker_lost", job.job_id, "worker lost", logging.WARNING, worker=worker_id, reason=reason)


def scaled(job, worker_id: str, change: str, reason: str, workers: int, node: str) -> None:
    """An elastic job's worker joined or left (``change``: "join" or "leave"); ``workers``: how many it has now."""
    emit("scaled", job.job_id, f"worker {'joined' if change == 'join' else 'left'}", worker=worker_id, change=change,
         workers=workers, target=job.config.workers, node=node, reason=reason)


def worker_replaced(job, worker_id: str, incarnation: int) -> None:
    """A replacement worker was started for a lost worker's slot."""
    emit("worker_replaced", job.job_id, "worker replaced", worker=worker_id, incarnation=incarnation)


def checkpoint_failed(job) -> None:
    """Writing a checkpoint failed (the job goes on; ``job.checkpoint_error`` says why)."""
    emit("checkpoint_failed", job.job_id, "checkpoint failed", logging.ERROR, reason=job.checkpoint_error)


def node_joined(node: dict) -> None:
    """A Ray node is alive in the cluster (seen by server.cluster.node_watch)."""
    emit("node_joined", "", "node joined", node=node["node_id"][:12], address=node["address"], cpus=node["cpus"],
         head=node["is_head"])


def node_left(node: dict) -> None:
    """A Ray node that was alive is dead or gone."""
    emit("node_left", "", "node left", logging.WARNING, node=node["node_id"][:12], address=node["address"])


class JobProgress:
    """The ``placed`` line (once every worker has reported its node), then ``progress`` lines, of one running job.

    The supervisor calls ``tick()`` on each pass of its loop and ``close()`` when training stops.
    """

    def __init__(self, job, every_s: float = PROGRESS_EVERY_S, clock=time.monotonic):
        self._job, self._every, self._clock = job, every_s, clock
        self._placed = False
        self._last_time = clock()
        self._last_version = job.store.version
        self._next = self._last_time + every_s

    def tick(self) -> None:
        """Write what is due: ``placed`` once the nodes are known, ``progress`` every ``every_s`` seconds."""
        version, loss, _, nodes = self._job.store.progress()
        if not self._placed and len(nodes) >= self._job.config.workers:
            self._emit_placed(nodes)
        now = self._clock()
        if self._placed and now >= self._next:  # the story reads placed, then progress
            self._emit_progress(now, version, loss)

    def close(self) -> None:
        """Training stopped: write ``placed`` if it never was, and a last ``progress`` line."""
        version, loss, _, nodes = self._job.store.progress()
        if not self._placed:
            self._emit_placed(nodes)
        self._emit_progress(self._clock(), version, loss)

    def _emit_placed(self, nodes: dict) -> None:
        self._placed = True
        emit("placed", self._job.job_id, "job placed", workers=self._job.config.workers,
             nodes=sorted({node[:12] for node in nodes.values()}))

    def _emit_progress(self, now: float, version: int, loss: float) -> None:
        elapsed = max(now - self._last_time, 1e-9)
        rate = (version - self._last_version) / elapsed
        emit("progress", self._job.job_id, "job progress", updates=version, of=self._job.config.steps,
             loss=_round(float(loss)), updates_per_s=_round(rate, 1))
        self._last_time, self._last_version, self._next = now, version, now + self._every
