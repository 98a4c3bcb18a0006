"""Training with the numerical gradient: each step's full numerical gradient, computed over the cluster.

The job's thread does what an analytic worker does — draw a batch (the same stream of
batches as worker 0 of an analytic job with the same seed), take the gradient at the
current W, push it into the parameter store — but the gradient is the centered finite
difference [f(W + h e) − f(W − h e)] / 2h of the batch loss at every coordinate of W, in
float64, split into ``workers`` chunks that run as parallel Ray tasks
(``worker.fdiff.loss_changes``). Steps are synchronous: step t+1 needs W after step t.
Beside it, the analytic gradient of the same batch is computed and timed in this thread,
and the job reports both costs per step: the notes' efficiency argument, measured.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from server.cluster.launcher import RayLauncher
from server.errors import Cancelled
from server.jobs.job import Job
from worker.data.rows import sample_batch
from worker.fdiff import loss_changes, numerical_from_changes
from worker.kernel import svm_loss_grad
from worker.svm import svm_loss

#: The step of the finite differences (centered).
NUMERICAL_H = 1e-5


class GradientCost:
    """Running mean seconds per step of the numerical gradient and of the analytic one (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._steps = 0
        self._numerical = 0.0
        self._analytic = 0.0

    def add(self, numerical: float, analytic: float) -> None:
        with self._lock:
            self._steps += 1
            self._numerical += numerical
            self._analytic += analytic

    def means(self) -> tuple[float, float]:
        """(numerical, analytic) mean seconds per step; zeros before the first step."""
        with self._lock:
            if not self._steps:
                return 0.0, 0.0
            return self._numerical / self._steps, self._analytic / self._steps


def train_numerically(
    job: Job,
    launcher: RayLauncher,
    X: np.ndarray,
    y: np.ndarray,
    batch_seed: int,
    grad_fn: Callable = svm_loss_grad,
) -> None:
    """Run the job's steps with numerical gradients until the store says stop (or the job is cancelled)."""
    cfg, store = job.config, job.store
    cost = job.gradient_cost = GradientCost()
    worker_id = f"{job.job_id}-numerical"
    store.register(worker_id, "")
    rng = np.random.default_rng(batch_seed)
    shape = store.shape
    parts = [p for p in np.array_split(np.arange(int(np.prod(shape))), cfg.workers) if len(p)]
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in parts])])
    W, version = store.weights()
    while version < cfg.steps and not job.cancel_requested.is_set() and not store.done:
        Xb, yb = sample_batch(X, y, cfg.batch_size, rng)
        W64, Xb64 = W.astype(np.float64), Xb.astype(np.float64)
        start = time.perf_counter()
        changes = np.empty((1, 2, offsets[-1]))
        try:
            for i, part in launcher.imap_tasks(
                loss_changes, (W64, Xb64, yb, cfg.reg), parts, should_stop=job.cancel_requested.is_set,
                hs=[NUMERICAL_H], method=cfg.numerical_method, minus=True,
            ):
                changes[:, :, offsets[i] : offsets[i + 1]] = part
        except Cancelled:
            return
        numerical_seconds = time.perf_counter() - start
        grad = numerical_from_changes(changes[0], NUMERICAL_H, "centered").reshape(shape)
        start = time.perf_counter()
        grad_fn(W, Xb, yb, cfg.reg)  # timed only: what an analytic worker computes for this batch
        cost.add(numerical_seconds, time.perf_counter() - start)
        loss = float(svm_loss(W64, Xb64, yb, cfg.reg))
        snapshot = store.push(grad.astype(store.dtype), loss, worker_id, "")
        if snapshot.stop:
            return
        W, version = store.weights()
