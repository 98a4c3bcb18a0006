"""The supervisor counts a replaced worker when the replacement runs, not when it is asked for.

``supervise`` over a real ParameterStore and a launcher stand-in whose workers the test
drives: a worker dies, its replacement is started but does not run (no CPU, say), and only once
it opens its stream to the server (``store.register``) do ``worker_restarts`` and the
``worker_replaced`` event count it.
"""

from __future__ import annotations

import logging
import threading
import time
from types import SimpleNamespace

import numpy as np

from server.params.store import ParameterStore
from server.training.supervision import supervise
from worker.task.loop import LoopConfig

POLL = 0.01


class Launcher:
    """Workers as futures the test ends (``die``, ``finish``); what the supervisor started, in order."""

    def __init__(self):
        self.started: list[tuple[int, str]] = []  # (future, worker id)
        self.ended: dict[int, str | None] = {}  # future -> error (None: a clean end)
        self.lock = threading.Lock()

    def start_worker(self, config, group, slot, *refs):
        with self.lock:
            self.started.append((len(self.started), config.worker_id))
            return len(self.started) - 1

    def wait_any(self, futures, timeout):
        time.sleep(timeout)
        with self.lock:
            return [f for f in futures if f in self.ended]

    def outcome(self, future):
        return None, self.ended[future]

    def kill(self, futures):
        with self.lock:
            for future in futures:
                self.ended.setdefault(future, "killed")

    def end(self, future, error=None):
        with self.lock:
            self.ended[future] = error


def _config(slot: int, incarnation: int) -> LoopConfig:
    return LoopConfig(server_address="", job_id="job-1", worker_id=f"job-1-w{slot}", node_id="", batch_size=1,
                      reg=0.0, seed=slot, lr=0.1, push_every=1, overlap=False, token="", tls_ca=b"", secret="s")


def _eventually(condition, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "not within 5 s"
        time.sleep(POLL)


def test_a_replacement_counts_once_it_runs_not_when_it_is_started(caplog):
    store = ParameterStore(np.zeros((2, 3), dtype=np.float32), 0.1, 10**6, workers=2)
    config = SimpleNamespace(workers=2, steps=10**6, max_worker_failures=10)
    job = SimpleNamespace(job_id="job-1", store=store, config=config, worker_restarts=0)
    launcher = Launcher()
    errors: list[str] = []
    thread = threading.Thread(
        target=lambda: errors.extend(supervise(job, launcher, None, _config, ((), None), 60.0, poll=POLL))
    )
    caplog.set_level(logging.INFO, logger="descent.events")
    thread.start()
    try:
        _eventually(lambda: len(launcher.started) == 2)
        for _, worker_id in launcher.started:
            store.register(worker_id, "node-a")  # both run
        launcher.end(0, "worker crashed")
        _eventually(lambda: len(launcher.started) == 3)  # the replacement was asked for ...
        assert launcher.started[2][1] == "job-1-w0"
        time.sleep(20 * POLL)
        assert job.worker_restarts == 0  # ... but it does not run yet
        assert "worker replaced" not in caplog.text
        store.register("job-1-w0", "node-b")  # now it runs: its stream is open
        _eventually(lambda: job.worker_restarts == 1)
        _eventually(lambda: "worker replaced" in caplog.text)
    finally:
        store.stop()
        for future, _ in list(launcher.started):
            launcher.end(future) if future not in launcher.ended else None
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert errors == ["job-1-w0: worker crashed"] and job.worker_restarts == 1
