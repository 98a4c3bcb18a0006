"""The parameter store of a search job (strategies #1 and #2): the best W so far, judged by loss.

Where a gradient job's store applies pushed gradients, this one is offered evaluated
candidates and keeps W only by ``worker.search.accepts``: a candidate replaces W when its
loss is strictly below W's loss on the same examples, so the kept W's loss never rises.
``version`` (the job's steps, its budget) counts every loss evaluated: candidates and
the re-evaluations of W on each round's fresh batch alike, so jobs of any strategy with
the same steps have the same budget of loss evaluations (a gradient job evaluates one
loss, with its gradient, per update). It
offers the read side a ParameterStore offers (weights, progress, loss history, capture
and resume for checkpoints), so status, watch, weights and checkpoints work unchanged;
no worker pushes to it.
"""

from __future__ import annotations

import threading

import numpy as np

from server.errors import PermissionDenied
from server.params.loss_history import LossHistory
from server.params.snapshots import StoreState, VersionAlarm
from server.params.staleness import Staleness
from worker.search import accepts

#: The per-worker count a checkpoint keeps for a search job (candidates are not pushed by workers).
SEARCH_WORKER = "search"


class SearchStore:
    """The best W, its loss, and counts, behind one lock."""

    def __init__(self, weights: np.ndarray, target_steps: int):
        self._w = np.array(weights, copy=True, order="C")
        self._target = int(target_steps)
        self._version = 0
        self.alarm = VersionAlarm()  # wakes the training curve's recorder at its next point (server.training.curve)
        self._loss = float("inf")  # W's loss where it was last evaluated
        self._losses = LossHistory(target_steps)
        self._accepted = 0
        self._stopped = False
        self._lock = threading.Lock()

    @classmethod
    def resume(cls, state: StoreState, lr: float, target_steps: int) -> SearchStore:
        """A store that goes on from a checkpoint: same W, candidates counted, loss history."""
        if not 0 <= state.version <= target_steps or state.loss_count != state.version:
            raise ValueError(f"checkpoint at version {state.version} does not fit a {target_steps}-step search")
        store = cls(state.weights, target_steps)
        store._version = int(state.version)
        store._losses = LossHistory.restore(target_steps, state.loss_sums, state.loss_count)
        return store

    def capture(self) -> StoreState:
        """A consistent copy of what a checkpoint needs."""
        with self._lock:
            sums, count = self._losses.state()
            steps = {SEARCH_WORKER: self._version} if self._version else {}
            return StoreState(self._w.copy(), self._version, steps, {}, sums, count)

    @property
    def version(self) -> int:
        """Losses evaluated so far (candidates and re-evaluations of W)."""
        return self._version

    @property
    def done(self) -> bool:
        with self._lock:
            return self._stopped or self._version >= self._target

    @property
    def shape(self) -> tuple[int, ...]:
        return self._w.shape

    @property
    def dtype(self) -> np.dtype:
        return self._w.dtype

    @property
    def loss_evaluations(self) -> int:
        """Losses evaluated so far: the version."""
        return self._version

    @property
    def accepted(self) -> int:
        """Candidates that replaced W."""
        with self._lock:
            return self._accepted

    def remaining(self) -> int:
        """Candidates still to evaluate (0 once stopped)."""
        with self._lock:
            return 0 if self._stopped else max(0, self._target - self._version)

    def current(self) -> tuple[np.ndarray, float]:
        """A copy of W and its loss where it was last evaluated (inf before the first)."""
        with self._lock:
            return self._w.copy(), self._loss

    def set_loss(self, loss: float) -> None:
        """W's loss evaluated again (on this round's batch): one more loss evaluation, one step of the budget."""
        with self._lock:
            if self._stopped or self._version >= self._target:
                return
            self._loss = float(loss)
            self._losses.add(self._loss)
            self._version += 1
            self.alarm.check(self._version)

    def offer(self, candidates: list[tuple[np.ndarray, float]], evaluated: int) -> bool:
        """One round: ``evaluated`` candidates were judged; the best of ``candidates`` (W, loss) replaces W if
        its loss is below W's. Return whether it did. Candidates beyond the step target are not counted."""
        with self._lock:
            if self._stopped or self._version >= self._target:
                return False
            evaluated = min(evaluated, self._target - self._version)
            best = min(candidates, key=lambda c: c[1]) if candidates else None
            taken = best is not None and accepts(self._loss, best[1])
            if taken:
                self._w[...] = best[0]
                self._loss = float(best[1])
                self._accepted += 1
            for _ in range(evaluated):
                self._losses.add(self._loss)
            self._version += evaluated
            self.alarm.check(self._version)
            return taken

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
        self.alarm.ring()

    def weights(self) -> tuple[np.ndarray, int]:
        """A copy of W and its version."""
        with self._lock:
            return self._w.copy(), self._version

    def progress(self) -> tuple[int, float, dict[str, int], dict[str, str]]:
        """Version, mean of the last 10% of W's losses, and the search's count as its one "worker"."""
        with self._lock:
            steps = {SEARCH_WORKER: self._version} if self._version else {}
            return self._version, self._losses.recent_mean(0.1), steps, {}

    def staleness(self) -> Staleness:
        """No gradient is ever applied to a search's W: an empty staleness summary."""
        return Staleness([], 0, 0, 0)

    def loss_history(self) -> tuple[int, list[float]]:
        """Candidates per history point and W's loss after each (see LossHistory)."""
        with self._lock:
            return self._losses.block, self._losses.means()

    # A search job has no workers that pull or push: the parameter service refuses them.
    def enroll(self, worker_id: str, epoch: int = 0) -> str:
        raise PermissionDenied("a search job takes no pushed gradients")

    def authorize(self, worker_id: str, secret: str, epoch: int = 0) -> None:
        raise PermissionDenied("a search job takes no pushed gradients")
