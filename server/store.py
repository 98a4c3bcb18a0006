"""The parameter store of one job: W, its version, the lock, and the update rule.

Asynchronous SGD: every pushed gradient is applied as it arrives with the job's
update rule (server/update_rules.py; vanilla ``W += -lr * dW`` unless the job
names another), whose state travels with W in StoreState. The store stops
accepting updates once ``target_steps`` have been applied (or it was stopped),
so the number of updates is exact however many workers push at once.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass, field

import numpy as np

from server.errors import PermissionDenied, RequestError
from server.fields import echo
from server.losses import LossHistory
from server.update_rules import RuleSpec, UpdateRule, make_rule


@dataclass(frozen=True)
class StoreState:
    """Everything a checkpoint needs to continue a job exactly: W, its version, per-worker counts, losses."""

    weights: np.ndarray
    version: int
    worker_steps: dict[str, int]
    worker_nodes: dict[str, str]
    loss_sums: np.ndarray
    loss_count: int
    optimizer: dict[str, np.ndarray] = field(default_factory=dict)  # the update rule's state arrays


@dataclass(frozen=True)
class Snapshot:
    """W as bytes (C order, native little-endian), its version and whether workers should stop."""

    data: bytes
    version: int
    stop: bool


class ParameterStore:
    """W, version and per-worker bookkeeping behind one lock."""

    def __init__(self, weights: np.ndarray, lr: float, target_steps: int, rule: UpdateRule | None = None):
        self._w = np.array(weights, copy=True, order="C")
        if rule is None:  # plain SGD at a constant lr
            rule = make_rule(RuleSpec(lr=float(lr), total_steps=int(target_steps)), self._w.shape, self._w.dtype)
        self._rule = rule
        self._target = int(target_steps)
        self._version = 0
        self._stopped = False
        self._losses = LossHistory(target_steps)
        self._worker_steps: dict[str, int] = {}
        self._worker_nodes: dict[str, str] = {}
        self._secrets: dict[str, str] = {}
        self._lock = threading.Lock()

    @classmethod
    def resume(
        cls, state: StoreState, lr: float, target_steps: int, rule: UpdateRule | None = None
    ) -> ParameterStore:
        """A store that goes on from a checkpoint: same W, version, per-worker counts and losses."""
        if not 0 <= state.version <= target_steps or state.loss_count != state.version:
            raise ValueError(f"checkpoint at version {state.version} does not fit a {target_steps}-step job")
        if sum(state.worker_steps.values()) != state.version:
            raise ValueError("checkpoint's per-worker steps do not add up to its version")
        store = cls(state.weights, lr, target_steps, rule)
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

    @property
    def shape(self) -> tuple[int, ...]:
        return self._w.shape

    @property
    def dtype(self) -> np.dtype:
        return self._w.dtype

    def _done(self) -> bool:
        return self._stopped or self._version >= self._target

    def check_gradient(self, grad: np.ndarray) -> None:
        """Raise RequestError unless ``grad`` matches W's shape and dtype and is finite."""
        if grad.shape != self._w.shape:
            raise RequestError(f"gradient shape {list(grad.shape)[:8]} does not match W shape {list(self._w.shape)}")
        if grad.dtype != self._w.dtype:
            raise RequestError(f"gradient dtype {grad.dtype} does not match W dtype {self._w.dtype}")
        if not np.isfinite(grad).all():
            raise RequestError("gradient contains NaN or Inf")

    def enroll(self, worker_id: str) -> str:
        """A fresh secret for a worker the job places; only enrolled workers may push or pull."""
        secret = secrets.token_hex(16)
        with self._lock:
            self._secrets[worker_id] = secret
        return secret

    def authorize(self, worker_id: str, secret: str) -> None:
        """Raise PermissionDenied unless ``secret`` is the one ``worker_id`` was enrolled with."""
        with self._lock:
            expected = self._secrets.get(worker_id)
        if expected is None or not hmac.compare_digest(expected.encode(), secret.encode("utf-8", "replace")):
            raise PermissionDenied(
                f"worker {echo(worker_id)} is not one this job placed (or its secret is wrong): "
                "only the job's own workers may push or pull"
            )

    def register(self, worker_id: str, node_id: str) -> None:
        """Make a worker known (with 0 steps) so it is listed even before its first update."""
        with self._lock:
            self._worker_steps.setdefault(worker_id, 0)
            if node_id:
                self._worker_nodes[worker_id] = node_id

    def pull(self) -> Snapshot:
        """The current W."""
        with self._lock:
            return Snapshot(self._w.tobytes(), self._version, self._done())

    def push(self, grad: np.ndarray, loss: float, worker_id: str, node_id: str) -> Snapshot:
        """Validate and apply one gradient (unless the job is over); return the new W."""
        self.check_gradient(grad)
        if not np.isfinite(loss):
            raise RequestError(f"batch loss must be finite, got {loss}")
        if not worker_id:
            raise RequestError("worker_id is empty")
        with self._lock:
            if not self._done():
                self._rule.apply(self._w, grad, self._version)
                self._version += 1
                self._losses.add(float(loss))
                self._worker_steps[worker_id] = self._worker_steps.get(worker_id, 0) + 1
                if node_id:
                    self._worker_nodes[worker_id] = node_id
            done = self._done()
            return Snapshot(b"" if done else self._w.tobytes(), self._version, done)

    def stop(self) -> None:
        """Accept no more updates; the next push or pull tells workers to stop."""
        with self._lock:
            self._stopped = True

    def weights(self) -> tuple[np.ndarray, int]:
        """A copy of W and its version."""
        with self._lock:
            return self._w.copy(), self._version

    def progress(self) -> tuple[int, float, dict[str, int], dict[str, str]]:
        """Version, mean of the last 10% of pushed batch losses (nan before the first), per-worker steps and nodes."""
        with self._lock:
            return self._version, self._losses.recent_mean(0.1), dict(self._worker_steps), dict(self._worker_nodes)

    def loss_history(self) -> tuple[int, list[float]]:
        """Updates per history point and the mean batch loss of each point (see LossHistory)."""
        with self._lock:
            return self._losses.block, self._losses.means()
