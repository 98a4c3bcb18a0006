"""A thread that logs Ray nodes joining and leaving the cluster (``node_joined`` / ``node_left`` events).

It polls the launcher's cluster facts every few seconds; the first poll reports
the nodes already there as joined, so a server's log starts with its cluster.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from server.observe import events

log = logging.getLogger("descent.node_watch")

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
