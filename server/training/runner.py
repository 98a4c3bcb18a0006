"""Runs one training job from PENDING to a terminal state in a background thread.

Load and preprocess the data set (once per data set, kept in Ray's object store), initialise
W, make the job's store and train with the job's method (server.training.methods: gradient
workers, the numerical gradient, or a random search — all behind one interface), then
evaluate W on train/val/test and persist everything.

A job adopted after its server stopped starts from its checkpoint (W, version,
per-worker counts, losses): it applies exactly the updates it still lacks. When
training reaches the step target a last checkpoint is written before evaluation,
so a crash during evaluation does not redo training. A job suspended because this
server stops is left unfinished (the shutdown path checkpoints it), never ended.

With ``check_gradient`` the job first checks its gradient on the first batch and
ends FAILED without training if the check fails (server.analyses.first_batch_check).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from proto import descent_pb2
from server.analyses.first_batch_check import first_batch_check, refusal
from server.analyses.messages import check_summary
from server.cluster.data_cache import DataCache, Shared
from server.cluster.launcher import RayLauncher
from server.jobs.checkpoints import Checkpointer
from server.jobs.job import DataShape, Job
from server.jobs.registry import JobRegistry
from server.observe.metrics import ServerMetrics
from server.training.evaluation import split_accuracies
from server.training.methods import Endpoint, GradientWorkers, NumericalGradient, RandomSearch, Trained, method_for
from server.training.placement import Scheduler
from server.training.seeds import initial_weights, worker_seeds
from worker.data.prepare import PreparationStopped, Prepared
from worker.kernel import svm_loss_grad

State = descent_pb2.JobState
log = logging.getLogger("descent.runner")


class JobRunner:
    """Starts job threads; one per job, each owning its placement group and workers until the job ends."""

    def __init__(
        self,
        registry: JobRegistry,
        launcher: RayLauncher,
        server_address: str,
        grad_fn: Callable = svm_loss_grad,
        checkpointer: Checkpointer | None = None,
        scheduler: Scheduler | None = None,
        stall_timeout: float = 120.0,
        token: str = "",
        tls_ca: bytes = b"",
        data_cache: DataCache | None = None,
        metrics: ServerMetrics | None = None,
    ):
        """``grad_fn`` is the analytic gradient the first-batch check examines and numerical jobs time;
        ``token`` is the server's bearer token, handed to the workers with their own secrets, and
        ``tls_ca`` the PEM they verify a TLS server with (empty: plaintext)."""
        self._registry = registry
        self._checkpointer = checkpointer
        self._scheduler = scheduler or Scheduler(launcher, queue_timeout=3600.0)
        self._grad_fn = grad_fn
        self._metrics = metrics  # counts the updates the stores apply
        self._threads: dict[str, threading.Thread] = {}
        self._data = data_cache or DataCache(launcher)
        self._workers = GradientWorkers(
            launcher, self._scheduler, Endpoint(server_address, token, tls_ca), stall_timeout
        )
        self._numerical = NumericalGradient(launcher, grad_fn)
        self._searching = RandomSearch(launcher)

    def start(self, job: Job) -> None:
        thread = threading.Thread(target=self._run, args=(job,), name=f"job-{job.job_id}", daemon=True)
        self._threads[job.job_id] = thread
        thread.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait for every job thread, ``timeout`` seconds in all (used at shutdown, after jobs were suspended)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in list(self._threads.values()):
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def _run(self, job: Job) -> None:
        try:
            self._train(job)
        except Exception as exc:  # any failure ends the job with a message, never the server
            if job.suspended.is_set():
                log.info("job %s stopped while suspended: %s: %s", job.job_id, type(exc).__name__, exc)
            else:
                log.exception("job %s failed", job.job_id)
                job.transition(State.FAILED, f"{type(exc).__name__}: {exc}")
        finally:
            if job.store is not None:
                job.store.stop()
            if not job.terminal and not job.suspended.is_set():
                job.persist()

    def unmap_idle_data(self, idle_for: float) -> int:
        """Drop the server's mappings of cached data sets no job has used for ``idle_for`` s (server.cluster.data_cache)."""
        return self._data.unmap_idle(idle_for)

    def _train(self, job: Job) -> None:
        cfg = job.config
        stopping = lambda: job.cancel_requested.is_set() or job.suspended.is_set()  # noqa: E731
        try:  # prepared once, kept in the object store; a cancel or a server stopping ends it between blocks
            shared = self._data.get(cfg.dataset, cfg.seed, cfg.dtype, should_stop=stopping)
        except PreparationStopped:
            if job.suspended.is_set():
                log.info("job %s: data preparation stopped: the server stops", job.job_id)
            else:
                job.transition(State.CANCELLED, f"{job.cancel_reason} while its data set was being prepared")
            return
        try:
            self._train_on(job, shared)
        finally:
            self._data.done(shared)

    def _train_on(self, job: Job, shared: Shared) -> None:
        cfg = job.config
        data = shared.data
        num_features = data.X_train.shape[1]
        job.data_shape = DataShape(
            num_classes=data.num_classes,
            num_features=num_features,
            num_train=len(data.y_train),
            num_val=len(data.y_val),
            num_test=len(data.y_test),
        )
        # A resumed job's workers draw fresh batches: the same seed, another stream per restart; a
        # continued job's workers go on with its parent's streams (GradientWorkers skips what they drew).
        seeds = worker_seeds(cfg.seed, cfg.workers, job.restarts)
        weights = initial_weights(cfg.seed, cfg.init_scale, (data.num_classes, num_features), cfg.dtype)
        if job.start is not None:  # continued from another job: its W (the data set's shape was checked at submit)
            if job.start.weights.shape != weights.shape:
                raise ValueError(f"init_from: job {cfg.init_from}'s W {job.start.weights.shape} does not fit "
                                 f"the data set ({weights.shape})")
            weights = job.start.weights.astype(cfg.dtype)
        if job.resume_state is not None and (
            job.resume_state.weights.shape != weights.shape or job.resume_state.weights.dtype != weights.dtype
        ):
            raise ValueError(
                f"checkpoint W {job.resume_state.weights.shape} {job.resume_state.weights.dtype} does not fit "
                f"the data set ({weights.shape} {weights.dtype})"
            )
        method = method_for(job, self._workers, self._numerical, self._searching)
        job.store = method.store(job, weights, self._metrics.job_observer() if self._metrics is not None else None)
        if job.cancel_requested.is_set() or job.suspended.is_set():
            job.store.stop()
        if job.store.done and not job.suspended.is_set():  # resumed after the last update: evaluate only
            self._finish(job, data, Trained([]))
            return
        first = job.resume_state is None
        if cfg.check_gradient and first and not self._check_first_batch(job, data, weights, seeds[0]):
            return
        trained = method.train(job, shared, seeds)
        if trained is not None:
            self._finish(job, data, trained)

    def _check_first_batch(self, job: Job, data: Prepared, weights: np.ndarray, batch_seed: int) -> bool:
        """Check the gradient on worker 0's first batch; on failure end the job FAILED and return False."""
        cfg = job.config
        report = first_batch_check(
            weights, data.X_train, data.y_train, batch_size=cfg.batch_size, reg=cfg.reg,
            batch_seed=batch_seed, check_seed=cfg.seed, grad_fn=self._grad_fn,
        )
        job.first_batch_check = check_summary(report.summary)
        if report.verdict.passed:
            return True
        job.transition(State.FAILED, refusal(report))
        return False

    def _finish(self, job: Job, data: Prepared, trained: Trained) -> None:
        """The terminal state once training stopped: CANCELLED, FAILED (short of steps) or SUCCEEDED (evaluated).

        ``trained.curve_final`` is the training curve's last point (version, accuracy on the whole
        validation split): the validation accuracy of W at that version, not evaluated again.
        """
        cfg, errors, curve_final = job.config, trained.errors, trained.curve_final
        version = job.store.progress()[0]
        if job.suspended.is_set():
            return  # this server stops: the job stays unfinished, checkpointed by the shutdown path
        if job.cancel_requested.is_set():
            job.transition(State.CANCELLED, f"{job.cancel_reason} after {version} of {cfg.steps} steps")
        elif version < cfg.steps:
            job.transition(State.FAILED, f"workers stopped after {version} of {cfg.steps} steps: " + "; ".join(errors))
        else:
            if self._checkpointer is not None and job.checkpoint_version < version:
                self._checkpointer.checkpoint(job)  # a crash during evaluation does not redo training
            W, _ = job.store.weights()
            splits = {"train": (data.X_train, data.y_train), "val": (data.X_val, data.y_val), "test": (data.X_test, data.y_test)}
            known = {"val": curve_final[1]} if curve_final is not None and curve_final[0] == version else None
            job.accuracy = split_accuracies(W, splits, known)
            note = (
                f"{len(errors)} worker(s) failed on the way ({job.worker_restarts} replacements started): " + "; ".join(errors[-5:])
                if errors
                else ""
            )
            job.transition(State.SUCCEEDED, note)
