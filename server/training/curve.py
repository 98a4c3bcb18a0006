"""A job's training curve: validation accuracy of W at regular points while it trains, off the hot path.

A ``CurveRecorder`` thread sleeps until the store's version reaches the next point (the
store's ``VersionAlarm``: one comparison per update, no wake-up per update) and every
``every`` updates takes a copy of W (``store.weights()``: the one short hold of
the store's lock), evaluates it on the validation split (the points between the first and
the last on its first ``SAMPLE`` examples) and appends a CurvePoint to
``job.curve``: the step, the wall seconds since the job started running, the validation
accuracy and the mean batch loss of the updates since the previous point. Workers never
wait for it: pushes go on while the point is evaluated. A point at the first W and one
at the last are always recorded; the first one's time is the last moment W was still
the initial W (placing the workers takes a moment).
"""

from __future__ import annotations

import threading
import time

import numpy as np

from proto import descent_pb2
from worker.svm import accuracy

#: Points a job's curve aims for over its steps (the step between points is steps // POINTS).
POINTS = 50
#: Seconds between looks at the store while its alarm is quiet (also how fresh the first point's time is).
POLL = 0.05
#: Validation examples a point between the first and the last is evaluated on (the split is a
#: random permutation, so its first rows are a random sample: the same rows at every point, so
#: the curve is smooth, within ~1.5 % of the whole split's accuracy). On the CIFAR-shaped
#: synthetic set a point on all 7,500 took ~15 ms of the server's core, on 2,048 ~7 ms, on
#: 1,024 ~3.5 ms; 50 per job, on a core the workers need (on 2,048: ~45 µs of server CPU per
#: update of a 10,000-step job).
SAMPLE = 1024


def point_every(steps: int, points: int = POINTS) -> int:
    """Updates between two points of a ``steps``-update job."""
    return max(1, steps // max(1, points))


def mean_since(block: int, means: list[float], start: int, end: int) -> float:
    """Mean batch loss of updates start+1..end from a history of per-block means (nan if none)."""
    if end <= start or not means:
        return float("nan")
    first, last = start // block, min(len(means), -(-end // block))
    values = means[first:last]
    return float(np.mean(values)) if values else float("nan")


class CurveRecorder:
    """Records ``job.curve`` in a background thread while the job's store trains (start, then stop)."""

    def __init__(self, job, X_val: np.ndarray, y_val: np.ndarray, every: int | None = None, poll: float = POLL):
        self._job = job
        self._X, self._y = X_val, y_val
        self._full_last = True  # the last point was evaluated on the whole split
        self._every = every or point_every(job.config.steps)
        self._poll = poll
        self._last = -1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"curve-{job.job_id}", daemon=True)

    def start(self) -> CurveRecorder:
        self._record()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching and record the last W on the whole split (if it is not the last point already)."""
        self._stop.set()
        if self._job.store is not None:
            self._job.store.alarm.ring()
        self._thread.join()
        self._record(full=True)

    @property
    def final(self) -> tuple[int, float] | None:
        """After ``stop``: the last point's version and its accuracy on the whole validation split (None if none)."""
        if not self._stop.is_set() or not self._full_last or self._last < 0 or not self._job.curve:
            return None
        return self._last, float(self._job.curve[-1].val_accuracy)

    def _run(self) -> None:
        while not self._stop.is_set():
            store = self._job.store
            mark = self._last + self._every
            # Sleep until the store reaches the next point (its alarm), looking at least every poll.
            store.alarm.arm(mark, lambda: store.version).wait(self._poll)
            if self._stop.is_set():
                return
            version = store.version
            if version == 0 and self._job.curve and self._job.started_at:
                # Workers are still starting: the first point's W is unchanged until now.
                self._job.curve[0].seconds = max(0.0, time.time() - self._job.started_at)
            elif version >= mark:
                self._record()

    def _record(self, full: bool = False) -> None:
        """Append a point for W now; the first and the last on the whole split, the others on SAMPLE."""
        store = self._job.store
        if store is None or len(self._y) == 0:
            return
        W, version = store.weights()
        full = full or self._last < 0 or len(self._y) <= SAMPLE
        if version == self._last:
            if full and not self._full_last:  # the loop's last point, on the sample: evaluate it whole
                self._job.curve[-1].val_accuracy = accuracy(W, self._X, self._y)
                self._full_last = True
            return
        X, y = (self._X, self._y) if full else (self._X[:SAMPLE], self._y[:SAMPLE])
        block, means = store.loss_history()
        started = self._job.started_at
        point = descent_pb2.CurvePoint(
            step=version,
            seconds=max(0.0, time.time() - started) if started else 0.0,
            val_accuracy=accuracy(W, X, y),
            loss=mean_since(block, means, max(self._last, 0), version),
        )
        self._job.curve.append(point)
        self._last, self._full_last = version, full
