"""One training job: its state machine, metrics and the status message built from them.

States move PENDING → RUNNING → SUCCEEDED / FAILED / CANCELLED (PENDING may go
straight to FAILED or CANCELLED). Every change wakes watchers through one
condition variable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from proto import descent_pb2
from server.jobspec import JobConfig
from server.store import ParameterStore

State = descent_pb2.JobState
TERMINAL = frozenset({State.SUCCEEDED, State.FAILED, State.CANCELLED})

_ALLOWED = {
    State.PENDING: {State.RUNNING, State.FAILED, State.CANCELLED},
    State.RUNNING: {State.SUCCEEDED, State.FAILED, State.CANCELLED},
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

    def __init__(self, job_id: str, config: JobConfig, on_terminal: Callable[[Job], None] | None = None):
        """``on_terminal`` persists the job: it runs when a terminal state is set, before anyone can see it."""
        self.job_id = job_id
        self._on_terminal = on_terminal
        self.config = config
        self.state = State.PENDING
        self.message = ""
        self.created_at = time.time()
        self.started_at = 0.0
        self.finished_at = 0.0
        self.store: ParameterStore | None = None
        self.data_shape: DataShape | None = None
        self.accuracy: dict[str, float] = {}
        # Numerical-gradient jobs: a server.numerical.GradientCost (mean seconds per step).
        self.gradient_cost = None
        # Jobs with check_gradient: the first-batch check's CheckSummary message.
        self.first_batch_check: descent_pb2.CheckSummary | None = None
        self.cancel_requested = threading.Event()
        self.cancel_reason = ""
        # Reentrant: on_terminal reads status() while the transition holds the lock.
        self.changed = threading.Condition(threading.RLock())

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    def transition(self, new_state: int, message: str = "") -> bool:
        """Move to ``new_state`` if allowed from the current one; return whether it moved."""
        with self.changed:
            if new_state not in _ALLOWED.get(self.state, ()):
                return False
            self.state = new_state
            if message:
                self.message = message
            now = time.time()
            if new_state == State.RUNNING:
                self.started_at = now
            if new_state in TERMINAL:
                self.finished_at = now
                if self._on_terminal is not None:
                    self._on_terminal(self)
            self.changed.notify_all()
            return True

    def request_cancel(self, reason: str) -> None:
        """Ask the job to stop: workers are told to stop at their next push."""
        self.cancel_reason = reason
        self.cancel_requested.set()
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
            return self._status(include_history)

    def _status(self, include_history: bool) -> descent_pb2.JobStatus:
        status = descent_pb2.JobStatus(
            job_id=self.job_id,
            spec=self.config.to_proto(),
            state=self.state,
            message=self.message,
            created_at=self.created_at,
            started_at=self.started_at,
            finished_at=self.finished_at,
        )
        if self.data_shape is not None:
            shape = self.data_shape
            status.num_classes = shape.num_classes
            status.num_features = shape.num_features
            status.num_train, status.num_val, status.num_test = shape.num_train, shape.num_val, shape.num_test
        for split, value in self.accuracy.items():
            setattr(status, f"{split}_accuracy", value)
        if self.first_batch_check is not None:
            status.first_batch_check.CopyFrom(self.first_batch_check)
        if self.gradient_cost is not None:
            status.gradient_seconds_per_step, status.analytic_seconds_per_step = self.gradient_cost.means()
        if self.store is None:
            return status
        version, loss, steps, nodes = self.store.progress()
        status.steps = status.version = version
        status.loss = loss
        for worker_id in sorted(steps):
            status.per_worker.add(worker_id=worker_id, node_id=nodes.get(worker_id, ""), steps=steps[worker_id])
        if self.started_at:
            end = self.finished_at or time.time()
            status.seconds = max(end - self.started_at, 0.0)
            if status.seconds > 0:
                status.examples_per_second = version * self.config.batch_size / status.seconds
        if include_history:
            status.loss_history.extend(self.store.loss_history()[1])
        return status
