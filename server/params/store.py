"""The parameter store of one job: W, its version, the lock, and the update rule.

Every update goes through ``_apply``, the one place W changes, with the job's update rule
(server.params.update_rules; its state in StoreState for checkpoints). The consistency mode
(server.params.consistency) says how pushes reach it: ``async`` at once; ``sync`` the mean of one
gradient per worker; ``ssp:S`` at once, holding the reply until its worker is ≤ S clocks ahead of
the slowest. A push of ``updates`` local steps counts as that many (the rule and schedule count
updates); after ``target_steps`` (or a stop) nothing more is applied, so the count is exact. An
elastic job's workers join (enroll) and ``leave`` while it runs: the sync barrier and ssp clocks
re-form at once; a worker that left gets stop (its push applied first unless sync).

The reply to a push is W after it, encoded once per version (``encode``) and shared, or written
into the worker's own shared memory (``uncached``: server.rpc.shm_lane). A re-sent push or one of a
fenced worker epoch is not applied (server.params.pushes).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from server.errors import Cancelled, RequestError
from server.fields import check_gradient
from server.params.consistency import ASYNC, Consistency, SyncStep
from server.params.enrollment import Enrollment
from server.params.loss_history import LossHistory
from server.params.pushes import PushRecord
from server.params.snapshots import Snapshot, StoreObserver, StoreState, VersionAlarm, raw_bytes
from server.params.staleness import Staleness, StalenessHistogram
from server.params.update_rules import RuleSpec, UpdateRule, make_rule

#: Seconds between checks that a waiting push's caller is still there.
WAIT_POLL = 0.25


class ParameterStore:
    """W, version and per-worker bookkeeping behind one lock."""

    def __init__(
        self, weights: np.ndarray, lr: float, target_steps: int, consistency: Consistency = ASYNC, workers: int = 1,
        push_every: int = 1, rule: UpdateRule | None = None, observer: StoreObserver | None = None,
        first_step: int = 0,
    ):
        """``workers``: how many gradients a sync step waits for (0: the members of an elastic job at the time)."""
        self._w = np.array(weights, copy=True, order="C")
        self._first_step = int(first_step)  # the rule's number of update 0 (a continued job counts on)
        if rule is None:  # plain SGD at a constant lr
            rule = make_rule(RuleSpec(lr=float(lr), total_steps=int(target_steps)), self._w.shape, self._w.dtype)
        self._rule = rule
        self._observer = observer
        self._target = int(target_steps)
        self._mode = consistency
        self._workers = int(workers)
        self._push_every = int(push_every)
        self._version = 0
        self._stopped = False
        self._losses = LossHistory(target_steps)
        self._staleness = StalenessHistogram()
        self._worker_steps: dict[str, int] = {}
        self._worker_nodes: dict[str, str] = {}
        self._enrollment = Enrollment()
        self.pushes = PushRecord()  # (worker, epoch, sequence): no push applied twice, none of a fenced epoch
        self._step = SyncStep()  # sync: this step's gradients by worker
        self._encoded: tuple[int, Callable, bytes] | None = None
        self._max_spread = 0  # ssp: the largest clock spread ever seen after an update
        self._lock = threading.Condition(threading.Lock())
        self.alarm = VersionAlarm()  # wakes the training curve's recorder at its next point (server.training.curve)

    @classmethod
    def resume(cls, state: StoreState, lr: float, target_steps: int, **mode: Any) -> ParameterStore:
        """A store that goes on from a checkpoint: same W, version, per-worker counts and losses (``mode``: as __init__)."""
        if not 0 <= state.version <= target_steps or state.loss_count != state.version:
            raise ValueError(f"checkpoint at version {state.version} does not fit a {target_steps}-step job")
        if sum(state.worker_steps.values()) != state.version:
            raise ValueError("checkpoint's per-worker steps do not add up to its version")
        store = cls(state.weights, lr, target_steps, **mode)
        store._rule.load_state(state.optimizer)
        store._version = int(state.version)
        store._losses = LossHistory.restore(target_steps, state.loss_sums, state.loss_count)
        store._worker_steps = dict(state.worker_steps)
        store._worker_nodes = dict(state.worker_nodes)
        return store

    def capture(self) -> StoreState:
        """A consistent copy of everything a checkpoint needs (taken under the lock, O(W) copy)."""
        with self._lock:
            sums, count = self._losses.state()
            return StoreState(
                self._w.copy(), self._version, dict(self._worker_steps), dict(self._worker_nodes), sums, count,
                self._rule.state(),
            )

    @property
    def version(self) -> int:
        """Updates applied so far (read without the lock: an int read is atomic)."""
        return self._version

    @property
    def done(self) -> bool:
        """Whether the store accepts no more updates (target reached or stopped)."""
        return self._done()

    shape = property(lambda self: self._w.shape)
    dtype = property(lambda self: self._w.dtype)

    @property
    def max_clock_spread(self) -> int:
        """The most clocks (pushes) any worker was ever ahead of the slowest when it got W for its next step."""
        return self._max_spread

    def _done(self) -> bool:
        return self._stopped or self._version >= self._target

    def check_gradient(self, grad: np.ndarray) -> None:
        """Raise RequestError unless ``grad`` matches W's shape and dtype and is finite (no copy of it)."""
        check_gradient(grad, self._w.shape, self._w.dtype)

    def enroll(self, worker_id: str, epoch: int = 0) -> str:
        """A fresh secret for a worker the job places (its ``epoch``'s: older ones are fenced); only enrolled workers may push or pull."""
        self.pushes.fence(worker_id, epoch)
        return self._enrollment.enroll(worker_id)

    def authorize(self, worker_id: str, secret: str, epoch: int = 0) -> None:
        """Raise PermissionDenied unless ``secret`` is the one ``worker_id`` was enrolled with (a fenced epoch counted)."""
        self.pushes.guard(lambda: self._enrollment.authorize(worker_id, secret), worker_id, epoch)

    def register(self, worker_id: str, node_id: str) -> None:
        """Make a worker known (with 0 steps) so it is listed even before its first update; count the contact."""
        with self._lock:
            self.pushes.contact(worker_id)
            self._worker_steps.setdefault(worker_id, 0)
            if node_id:
                self._worker_nodes[worker_id] = node_id

    def _snapshot(self, encode: Callable) -> Snapshot:
        """W after the latest update, encoded once per version and encoding (under the lock)."""
        done = self._done()
        if done:
            return Snapshot(b"", self._version, True)
        if getattr(encode, "uncached", False):  # a target of its own (server.rpc.shm_lane): encode every time
            return Snapshot(encode(self._w, self._version), self._version, False)
        cached = self._encoded
        if cached is None or cached[0] != self._version or cached[1] is not encode:
            cached = self._encoded = (self._version, encode, encode(self._w, self._version))
        return Snapshot(cached[2], self._version, False)

    def pull(self, encode: Callable = raw_bytes) -> Snapshot:
        """The current W."""
        with self._lock:
            return self._snapshot(encode)

    def _apply(self, grad: np.ndarray, updates: int) -> None:
        """The one place W changes: the update rule in place (``grad`` may be a read-only view)."""
        self._rule.apply(self._w, grad, self._first_step + self._version)
        self._version += updates
        if self._observer is not None:
            self._observer.applied(updates)
        self.alarm.check(self._version)
        self._lock.notify_all()

    def _stale(self, updates_behind: int, times: int = 1) -> None:
        """Record the staleness of ``times`` applied gradients."""
        self._staleness.add(updates_behind, times=times)
        if self._observer is not None:
            self._observer.stale(updates_behind, times)

    def _count(self, worker_id: str, node_id: str, loss: float, updates: int) -> None:
        for _ in range(updates):
            self._losses.add(loss)
        self._worker_steps[worker_id] = self._worker_steps.get(worker_id, 0) + updates
        if node_id:
            self._worker_nodes[worker_id] = node_id

    def _clocks(self) -> list[int]:
        """Pushes per enrolled worker (a worker not seen yet is at clock 0)."""
        clocks = [self._worker_steps.get(worker, 0) // self._push_every for worker in self._enrollment.workers()]
        return clocks + [0] * max(self._workers - len(clocks), 0)

    def _wait(self, ready: Callable[[], bool], alive: Callable[[], bool]) -> None:
        """Wait (under the lock) until ``ready()`` or the store is done; raise Cancelled if the caller left."""
        while not ready() and not self._done():
            if not alive():
                raise Cancelled("the worker's call ended while its push waited")
            self._lock.wait(WAIT_POLL)

    def push(
        self,
        grad: np.ndarray,
        loss: float,
        worker_id: str,
        node_id: str,
        version: int | None = None,
        updates: int = 1,
        encode: Callable = raw_bytes,
        alive: Callable[[], bool] = lambda: True,
        epoch: int = 0, sequence: int = 0,
    ) -> Snapshot:
        """Validate one gradient (computed on W at ``version``; None: the current one) and apply it
        as the consistency mode says, unless the job is over; return the W to continue from.

        ``updates`` is the number of local steps the gradient accumulates (it must be the job's
        push_every). A push that waits (sync, ssp) gives up with Cancelled once ``alive()`` is false.
        """
        self.check_gradient(grad)
        if not np.isfinite(loss):
            raise RequestError(f"batch loss must be finite, got {loss}")
        if not worker_id:
            raise RequestError("worker_id is empty")
        if updates != self._push_every:
            raise RequestError(f"a push must carry {self._push_every} update(s) (the job's push_every), got {updates}")
        with self._lock:
            computed_on = self._version if version is None else int(version)
            if computed_on > self._version or computed_on < 0:
                raise RequestError(f"gradient computed on version {computed_on}, but W is at version {self._version}")
            if not self.pushes.check(worker_id, epoch, sequence):
                return self._snapshot(encode)
            left = self._enrollment.has_left(worker_id)
            if self._mode.kind == "sync":
                if not left:
                    self._push_sync(grad, loss, worker_id, node_id, alive)
            elif not self._done():
                self._stale(self._version - computed_on)
                self._apply(grad, updates)
                self._count(worker_id, node_id, float(loss), updates)
                mine = self._worker_steps[worker_id] // self._push_every
                if self._mode.kind == "ssp" and not left:  # the next step starts at most S clocks ahead of the slowest
                    bound, gone = self._mode.bound, self._enrollment.has_left
                    self._wait(lambda: mine - min(self._clocks(), default=mine) <= bound or gone(worker_id), alive)
                self._max_spread = max(self._max_spread, mine - min(self._clocks(), default=mine))
            return Snapshot(b"", self._version, True) if self._enrollment.has_left(worker_id) else self._snapshot(encode)

    def _push_sync(self, grad: np.ndarray, loss: float, worker_id: str, node_id: str, alive: Callable) -> None:
        """Hold this step's gradient; the last of the step's workers applies their mean; wait for that."""
        if self._done():
            return
        step = self._version
        self._step.add(worker_id, grad, float(loss))
        if node_id:
            self._worker_nodes[worker_id] = node_id
        if not self._close_step():
            self._wait(lambda: self._version != step or self._enrollment.has_left(worker_id), alive)

    def _close_step(self) -> bool:
        """Apply the mean of this sync step's gradients if every worker it waits for has pushed (under the lock)."""
        pushes_left = (self._target - self._version) // self._push_every
        if not self._step.complete(self._workers, len(self._enrollment.workers()), pushes_left):
            return False
        mean, losses = self._step.take(self._w.dtype)
        self._stale(0, times=len(losses))
        for worker, loss in losses:
            self._count(worker, "", loss, self._push_every)
        self._apply(mean, self._push_every * len(losses))
        return True

    def leave(self, worker_id: str) -> None:
        """An elastic job's worker leaves: its unapplied sync gradient is dropped, barriers and clocks re-form."""
        with self._lock:
            if self._enrollment.leave(worker_id):
                self._step.drop(worker_id)
                _ = self._done() or self._close_step()  # sync: the step may be complete without it
                self._lock.notify_all()

    def members(self) -> tuple[str, ...]:
        """The workers that are members now (enrolled, not left)."""
        return self._enrollment.workers()

    def stop(self) -> None:
        """Accept no more updates; the next push or pull tells workers to stop (waiting pushes wake)."""
        with self._lock:
            self._stopped = True
            self._lock.notify_all()
        self.alarm.ring()

    def weights(self) -> tuple[np.ndarray, int]:
        """A copy of W and its version."""
        with self._lock:
            return self._w.copy(), self._version

    def staleness(self) -> Staleness:
        """The staleness histogram of the gradients applied so far and its p50, p99 and max."""
        with self._lock:
            return self._staleness.summary()

    def progress(self) -> tuple[int, float, dict[str, int], dict[str, str]]:
        """Version, mean of the last 10% of pushed batch losses (nan before the first), per-worker steps and nodes."""
        with self._lock:
            return self._version, self._losses.recent_mean(0.1), dict(self._worker_steps), dict(self._worker_nodes)

    def loss_history(self) -> tuple[int, list[float]]:
        """Updates per history point and the mean batch loss of each point (see LossHistory)."""
        with self._lock:
            return self._losses.block, self._losses.means()
