"""The values a parameter store hands out: its checkpointable state, W snapshots, and what it reports to.

Shared by server.params.store (gradient jobs), server.params.search_store (search jobs), server.state.files
(checkpoint files) and server.rpc.parameter_servicer (replies).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


def raw_bytes(weights: np.ndarray, version: int) -> bytes:
    """The default encoding of W: its C-order bytes."""
    return weights.tobytes()


class StoreObserver(Protocol):
    """What a store reports as it applies updates (the server's metrics; server.observe.metrics.JobObserver)."""

    def applied(self, updates: int) -> None: ...

    def stale(self, updates_behind: int, times: int) -> None: ...


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
    """W encoded (by default its C-order bytes; empty when stopping), its version and whether workers should stop."""

    data: bytes
    version: int
    stop: bool


class VersionAlarm:
    """An event set once a store's version reaches a mark: lets a watcher sleep until then, at the
    cost of one comparison per update (``check``) instead of a wake-up per update or a polling loop."""

    def __init__(self):
        self._at = float("inf")
        self.event = threading.Event()

    def arm(self, mark: int, version: Callable[[], int]) -> threading.Event:
        """The event, cleared, to be set when the version reaches ``mark`` (at once if it has)."""
        self.event.clear()
        self._at = mark
        if version() >= mark:  # read after the mark is set: an update in between sets it either way
            self.event.set()
        return self.event

    def check(self, version: int) -> None:
        """Called by the store after each update (under its lock)."""
        if version >= self._at:
            self._at = float("inf")
            self.event.set()

    def ring(self) -> None:
        """Wake the watcher now (the store stopped, or the watcher is leaving)."""
        self._at = float("inf")
        self.event.set()


@dataclass(frozen=True)
class StartPoint:
    """Where a job continued from another (``init_from``) starts: the parent's final W, its update rule's
    name, state and update count, the updates of the whole chain so far, and the batches each worker
    slot of the chain drew."""

    parent: str
    weights: np.ndarray
    steps: int
    optimizer_name: str = ""
    optimizer: dict[str, np.ndarray] = field(default_factory=dict)
    rule_steps: int = 0
    batches: tuple[int, ...] = ()

    def rule_offset(self, optimizer: str) -> int:
        """The number a continuing rule gives its first update: the parent rule's count if it is the same
        optimizer (its state goes on), else 0 (a fresh rule from the parent's W)."""
        return self.rule_steps if optimizer == self.optimizer_name else 0
