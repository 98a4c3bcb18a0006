"""Nodes set aside after their workers failed: 2 s after the first failure, 4 s after the second, … at most 30 s.

An elastic job places each extra worker where Ray finds a free CPU; a node whose workers keep
dying (a bad disk, a full /dev/shm, a machine going away) would take every new worker again.
Until a failed node's time is up, a worker placed there is given back and placed again later.
Pure bookkeeping: the caller passes the clock.
"""

from __future__ import annotations

#: Seconds a node is set aside after its first failure, doubling with each further one, at most BACKOFF_MAX.
BACKOFF_FIRST, BACKOFF_MAX = 2.0, 30.0


class NodeBackoff:
    """Failures per node and until when each is set aside."""

    def __init__(self, first: float = BACKOFF_FIRST, most: float = BACKOFF_MAX):
        self._first, self._most = first, most
        self._failures: dict[str, int] = {}
        self._until: dict[str, float] = {}

    def failed(self, node: str, now: float) -> float:
        """A worker on ``node`` failed at ``now``: set the node aside; return for how many seconds."""
        if not node:
            return 0.0
        count = self._failures[node] = self._failures.get(node, 0) + 1
        wait = min(self._most, self._first * 2 ** (count - 1))
        self._until[node] = now + wait
        return wait

    def set_aside(self, node: str, now: float) -> float:
        """Seconds ``node`` is still set aside at ``now`` (0: new workers may go there)."""
        return max(0.0, self._until.get(node, 0.0) - now)

    def failures(self, node: str) -> int:
        return self._failures.get(node, 0)
