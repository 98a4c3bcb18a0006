"""One training job: its state machine, metrics and the status message built from them.

States move PENDING → (QUEUED →) RUNNING → SUCCEEDED / FAILED / CANCELLED
(PENDING and QUEUED may end at once as FAILED or CANCELLED). Every change is
persisted by the ``on_change`` hook (the registry: the one place a job's state is
written) before anyone can see it, and wakes watchers through one condition variable.

A job adopted after its server stopped comes back with its restart count, the
version it resumes from and, while it runs, its checkpoint bookkeeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from proto import descent_pb2
from server.jobs.spec import JobConfig
from server.observe import events
from server.params.protocol import Store

State = descent_pb2.JobState
TERMINAL = frozenset({State.SUCCEEDED, State.FAILED, State.CANCELLED})

_ALLOWED = {
    State.PENDING: {State.QUEUED, State.RUNNING, State.FAILED, State.CANCELLED},
    State.QUEUED: {State.RUNNING, State.FAILED, State.CANCELLED},
    # RUNNING → QUEUED: a resumed job waiting for CPUs again.
    State.RUNNING: {State.QUEUED, State.SUCCEEDED, State.FAILED, State.CANCELLED},
}


@dataclass(frozen=True)
class DataShape:
    """Sizes of the prepared data set a job trains on."""

    num_classes: int
    num_features: int
    num_train: int
    num_val: int
    num_test: int


class Job:
    """A training job held in memory by the server that runs it."""

    def __init__(
        self,
        job_id: str,
        config: JobConfig,
        on_change: Callable[[Job], None] | None = None,
        state: int = State.PENDING,
        created_at: float | None = None,
    ):
        """``on_change`` persists the job: it runs on every state change, before anyone can see it."""
        self.job_id = job_id
        self._on_change = on_change
        self.config = config
        self.state = state
        self.message = ""
        self.created_at = time.time() if created_at is None else created_at
        self.started_at = 0.0
        self.finished_at = 0.0
        self.store: Store | None = None
        self.data_shape: DataShape | None = None
        self.accuracy: dict[str, float] = {}
        # Numerical-gradient jobs: a server.training.numerical.GradientCost (mean seconds per step).
        self.gradient_cost = None
        # Jobs with check_gradient: the first-batch check's CheckSummary message.
        self.first_batch_check: descent_pb2.CheckSummary | None = None
        # Validation accuracy at regular points while training (server.training.curve appends CurvePoints).
        self.curve: list[descent_pb2.CurvePoint] = []
        # Elastic jobs: the workers training now and every join and leave (server.training.elastic).
        self.current_workers = 0
        self.membership: list[descent_pb2.MembershipChange] = []
        self.cancel_requested = threading.Event()
        self.cancel_reason = ""
        # Set when this server stops (or lost the job to another server): the job is left
        # unfinished for the next server to resume, not ended.
        self.suspended = threading.Event()
        # Durability: restarts after a server stopped, the version resumed from, workers
        # placed again, and the newest checkpoint (version, unix time, last error).
        self.restarts = 0
        self.resumed_from = 0
        self.worker_restarts = 0
        self.checkpoint_version = 0
        self.checkpoint_at = 0.0
        self.checkpoint_error = ""
        # A store state to start from (a resumed job's checkpoint), used once by the runner,
        # and the message that says so (shown again once the job leaves QUEUED).
        self.resume_state = None
        self.resume_note = ""
        # A job continued from another (init_from): where it starts (server.params.snapshots.StartPoint).
        self.start = None
        # Reentrant: on_terminal reads status() while the transition holds the lock.
        self.changed = threading.Condition(threading.RLock())
        # Gradient payload bytes pushed over gRPC (after compression), counted by the servicer.
        self.push_bytes = 0
        self._push_bytes_lock = threading.Lock()

    def count_push_bytes(self, count: int) -> None:
        """Add one push's payload bytes (pushes arrive on several threads)."""
        with self._push_bytes_lock:
            self.push_bytes += count

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    def transition(self, new_state: int, message: str = "") -> bool:
        """Move to ``new_state`` if allowed from the current one; return whether it moved."""
        with self.changed:
            if new_state not in _ALLOWED.get(self.state, ()):
                return False
            leaving_queue = self.state == State.QUEUED
            self.state = new_state
            if message or leaving_queue:  # what a queued job waited for is no longer true
                self.message = message or self.resume_note
            now = time.time()
            if new_state == State.RUNNING and not self.started_at:
                self.started_at = now
            if new_state in TERMINAL:
                self.finished_at = now
            self.persist()
            self.changed.notify_all()
        events.state_changed(self)
        return True

    def persist(self) -> None:
        """Write the job's record now (the registry's hook; a failure is logged and retried there)."""
        if self._on_change is not None:
            with self.changed:
                self._on_change(self)

    def set_message(self, message: str) -> None:
        """Change the message (what a queued job waits for, say) and wake watchers."""
        with self.changed:
            if message != self.message:
                self.message = message
                self.changed.notify_all()

    def request_cancel(self, reason: str) -> None:
        """Ask the job to stop: workers are told to stop at their next push."""
        self.cancel_reason = reason
        self.cancel_requested.set()
        if self.store is not None:
            self.store.stop()

    def suspend(self) -> None:
        """Stop training without ending the job: it stays unfinished for the next server to resume."""
        self.suspended.set()
        if self.store is not None:
            self.store.stop()

    def wait_for_change(self, timeout: float) -> None:
        """Block until a state change or ``timeout`` seconds."""
        with self.changed:
            if not self.terminal:
                self.changed.wait(timeout)

    def status(self, include_history: bool = False) -> descent_pb2.JobStatus:
        """The job's status message, computed from the live store when there is one."""
        with self.changed:  # a terminal state is visible only once it has been persisted
            status = self._status(include_history)
        first = self.start.rule_offset(self.config.optimizer) if self.start is not None else 0
        rule = self.config.rule_spec(first)
        status.effective_lr = rule.lr_at(first + min(status.version, max(self.config.steps - 1, 0)))
        return status

    def _status(self, include_history: bool) -> descent_pb2.JobStatus:
        status = descent_pb2.JobStatus(
            job_id=self.job_id,
            spec=self.config.to_proto(),
            state=self.state,
            message=self.message,
            created_at=self.created_at,
            started_at=self.started_at,
            finished_at=self.finished_at,
            resumed_from=self.resumed_from,
            restarts=self.restarts,
            worker_restarts=self.worker_restarts,
            checkpoint_version=self.checkpoint_version,
            checkpoint_at=self.checkpoint_at,
            checkpoint_error=self.checkpoint_error,
            push_bytes=self.push_bytes,
            parent=self.config.init_from,
            parent_steps=self.start.steps if self.start is not None else 0,
        )
        if self.data_shape is not None:
            shape = self.data_shape
            status.num_classes = shape.num_classes
            status.num_features = shape.num_features
            status.num_train, status.num_val, status.num_test = shape.num_train, shape.num_val, shape.num_test
        for split, value in self.accuracy.items():
            setattr(status, f"{split}_accuracy", value)
        status.curve.extend(list(self.curve))
        status.current_workers = self.current_workers
        status.membership.extend(list(self.membership))
        if self.first_batch_check is not None:
            status.first_batch_check.CopyFrom(self.first_batch_check)
        if self.gradient_cost is not None:
            status.gradient_seconds_per_step, status.analytic_seconds_per_step = self.gradient_cost.means()
        if self.store is None:
            if self.resume_state is not None:  # adopted, not training yet: where it will go on from
                status.steps = status.version = self.resume_state.version
                for worker_id, steps in sorted(self.resume_state.worker_steps.items()):
                    status.per_worker.add(worker_id=worker_id, steps=steps)
            return status
        version, loss, steps, nodes = self.store.progress()
        status.steps = status.version = version
        status.loss = loss
        status.loss_evaluations = getattr(self.store, "loss_evaluations", version)  # a gradient job: one per update
        pushes = getattr(self.store, "pushes", None)  # the push record of a gradient job (server.params.pushes)
        if pushes is not None:
            status.refused_stale_pushes, status.duplicate_pushes = pushes.refused_stale, pushes.duplicates
        for worker_id in sorted(steps):
            status.per_worker.add(worker_id=worker_id, node_id=nodes.get(worker_id, ""), steps=steps[worker_id])
        if self.started_at:
            end = self.finished_at or time.time()
            status.seconds = max(end - self.started_at, 0.0)
            if status.seconds > 0:
                status.examples_per_second = version * self.config.batch_size / status.seconds
        staleness = self.store.staleness()
        status.staleness_histogram.extend(staleness.histogram)
        status.staleness_p50, status.staleness_p99, status.staleness_max = staleness.p50, staleness.p99, staleness.max
        if include_history:
            status.loss_history.extend(self.store.loss_history()[1])
        return status
