"""What every kind of store offers the rest of the server: the ``Store`` protocol.

A job holds one store: a ``ParameterStore`` (server.params.store) for jobs whose workers push
gradients, a ``SearchStore`` (server.params.search_store) for the notes' random searches.
The job, its checkpoints, the curve, the metrics and the parameter service read a store only
through these members; tests/unit/test_stores.py holds both kinds to them.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from server.params.snapshots import StoreState, VersionAlarm
from server.params.staleness import Staleness


@runtime_checkable
class Store(Protocol):
    """W of one job, its version, and what it reports as it changes."""

    #: Rings when the version reaches the next point a reader waits for (the training curve).
    alarm: VersionAlarm

    @property
    def version(self) -> int:
        """Updates applied so far."""

    @property
    def done(self) -> bool:
        """Whether the store accepts no more updates (target reached or stopped)."""

    @property
    def shape(self) -> tuple[int, ...]:
        """W's shape, (C, D+1)."""

    @property
    def dtype(self) -> np.dtype:
        """W's dtype."""

    def capture(self) -> StoreState:
        """A consistent copy of everything a checkpoint needs."""

    def stop(self) -> None:
        """Accept no more updates."""

    def weights(self) -> tuple[np.ndarray, int]:
        """A copy of W and its version."""

    def progress(self) -> tuple[int, float, dict[str, int], dict[str, str]]:
        """Version, recent mean loss, per-worker steps and per-worker nodes."""

    def staleness(self) -> Staleness:
        """The staleness of the updates applied so far."""

    def loss_history(self) -> tuple[int, list[float]]:
        """Updates per history point and the mean loss of each point."""

    def enroll(self, worker_id: str, epoch: int = 0) -> str:
        """A fresh secret for a worker the job places in its ``epoch`` (refused where no worker pushes)."""

    def authorize(self, worker_id: str, secret: str, epoch: int = 0) -> None:
        """Raise PermissionDenied unless ``worker_id`` (of ``epoch``) may push or pull with ``secret``."""
