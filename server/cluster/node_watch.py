"""A thread that logs Ray nodes joining and leaving the cluster (``node_joined`` / ``node_left`` events).

It polls the launcher's cluster facts every few seconds; the first poll reports
the nodes already there as joined, so a server's log starts with its cluster. How soon Ray
itself calls a node dead is ``NODE_HEALTH``, the GCS's health check, set where a head starts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from server.observe import events

log = logging.getLogger("descent.node_watch")

#: How the GCS checks its nodes: each second, 1 s to answer, dead after 5 misses in a row. A node
#: whose raylet was killed is listed dead ~9 s later (gRPC's reconnect backoff spaces the misses out;
#: measured 9.1-9.5 s); with Ray's defaults (every 3 s, 10 s to answer) 17 s here, ~30 s under
#: compose. Fewer misses would be faster, but a node called dead ends itself: 5 s of silence it is.
#: The compose head sets the same as RAY_* variables.
NODE_HEALTH = {
    "health_check_period_ms": 1000,
    "health_check_timeout_ms": 1000,
    "health_check_failure_threshold": 5,
}

#: Seconds between two looks at Ray's node table.
POLL_S = 2.0


class NodeWatch:
    """``start`` and ``stop`` it around serving; ``poll`` is one look (also called by tests)."""

    def __init__(self, cluster: Callable[[], dict], every_s: float = POLL_S):
        self._cluster = cluster
        self._every = every_s
        self._alive: dict[str, dict] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="node-watch", daemon=True)

    def poll(self) -> None:
        """Compare the live nodes with the last look and log the differences."""
        alive = {n["node_id"]: n for n in self._cluster()["nodes"] if n["alive"]}
        for node_id, node in alive.items():
            if node_id not in self._alive:
                events.node_joined(node)
        for node_id, node in self._alive.items():
            if node_id not in alive:
                events.node_left(node)
        self._alive = alive

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
            except Exception as exc:  # Ray's node table unreadable for a moment: look again later
                log.warning("cannot read the cluster's nodes: %s: %s", type(exc).__name__, exc)
            self._stop.wait(self._every)
