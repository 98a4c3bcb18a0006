"""Runs one training job from PENDING to a terminal state in a background thread.

Load and preprocess the data set, put the training split into Ray's object
store once, initialise W, wait for the job's CPUs (server.training.placement: QUEUED if
need be), run the workers (Ray tasks) and replace any that dies (server.training.supervision)
until the parameter store says stop, then evaluate W on train/val/test and
persist everything.

A job adopted after its server stopped starts from its checkpoint (W, version,
per-worker counts, losses): it applies exactly the updates it still lacks. When
training reaches the step target a last checkpoint is written before evaluation,
so a crash during evaluation does not redo training. A job suspended because this
server stops is left unfinished (the shutdown path checkpoints it), never ended.

With ``check_gradient`` the job first checks its gradient on the first batch and
ends FAILED without training if the check fails (server.analyses.first_batch_check). With
``gradient = "numerical"`` no workers are placed: this thread runs the steps,
each one's full numerical gradient computed in parallel Ray tasks
(server.training.numerical). A search job (``strategy`` random-search or random-local-search)
places no workers either: this thread runs rounds of candidates in Ray tasks
(server.training.searching) over a SearchStore. Jobs with workers and search jobs record the validation
curve while they train (server.training.curve).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from proto import descent_pb2
from server.jobs.job import DataShape, Job
from server.analyses.first_batch_check import first_batch_check, refusal
from server.jobs.checkpoints import Checkpointer
from server.training.curve import CurveRecorder
from server.cluster.launcher import RayLauncher
from server.analyses.messages import check_summary
from server.training.numerical import train_numerically
from server.jobs.registry import JobRegistry
from server.training.placement import Scheduler
from server.observe.metrics import ServerMetrics
from server.params.search_store import SearchStore
from server.training.searching import search
from server.training.seeds import initial_weights, replacement_seed, worker_seeds
from server.params.store import ParameterStore
from server.params.update_rules import make_rule
from server.training.supervision import supervise
from worker.task.loop import LoopConfig
from server.cluster.data_cache import DataCache, Shared
from server.training.evaluation import split_accuracies
from worker.data.prepare import Prepared
from worker.svm import svm_loss_grad

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
        self._token, self._tls_ca = token, tls_ca
        self._registry = registry
        self._checkpointer = checkpointer
        self._scheduler = scheduler or Scheduler(launcher, queue_timeout=3600.0)
        self._stall_timeout = stall_timeout
        self._launcher = launcher
        self._server_address = server_address
        self._grad_fn = grad_fn
        self._metrics = metrics  # counts the updates the stores apply
        self._threads: dict[str, threading.Thread] = {}
        self._data = data_cache or DataCache(launcher)

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
        shared = self._data.get(cfg.dataset, cfg.seed, cfg.dtype)  # prepared once, kept in the object store
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
        # A resumed job's workers draw fresh batches: the same seed, another stream per restart.
        seeds = worker_seeds(cfg.seed, cfg.workers, job.restarts)
        weights = initial_weights(cfg.seed, cfg.init_scale, (data.num_classes, num_features), cfg.dtype)
        mode = dict(
            consistency=cfg.mode, workers=cfg.workers, push_every=cfg.push_every,
            rule=make_rule(cfg.rule_spec(), weights.shape, weights.dtype),
            observer=self._metrics.job_observer() if self._metrics is not None else None,
        )
        searching = cfg.strategy != "gradient"
        if job.resume_state is not None:
            if job.resume_state.weights.shape != weights.shape or job.resume_state.weights.dtype != weights.dtype:
                raise ValueError(
                    f"checkpoint W {job.resume_state.weights.shape} {job.resume_state.weights.dtype} does not fit "
                    f"the data set ({weights.shape} {weights.dtype})"
                )
            if searching:
                job.store = SearchStore.resume(job.resume_state, cfg.lr, cfg.steps)
            else:
                job.store = ParameterStore.resume(job.resume_state, cfg.lr, cfg.steps, **mode)
        elif searching:
            job.store = SearchStore(weights, cfg.steps)
        else:
            job.store = ParameterStore(weights, cfg.lr, cfg.steps, **mode)
        if job.cancel_requested.is_set() or job.suspended.is_set():
            job.store.stop()
        if job.store.done and not job.suspended.is_set():  # resumed after the last update: evaluate only
            self._finish(job, data, [])
            return
        first = job.resume_state is None
        if cfg.check_gradient and first and not self._check_first_batch(job, data, weights, seeds[0]):
            return
        if cfg.gradient == "numerical":
            self._train_numerically(job, data, seeds[0])
            return
        if searching:
            self._search(job, data, seeds[0])
            return
        stopping = lambda: job.cancel_requested.is_set() or job.suspended.is_set()  # noqa: E731
        group = self._scheduler.place(job, cfg.workers, stopping)
        if group is None:
            if not job.suspended.is_set():
                job.transition(State.CANCELLED, f"{job.cancel_reason} before the workers started")
            return
        try:
            if job.state == State.RUNNING:  # resumed: it was running when its server stopped
                job.persist()
            elif not job.transition(State.RUNNING):
                return

            def make_config(slot: int, incarnation: int) -> LoopConfig:
                seed = seeds[slot] if incarnation == 0 else replacement_seed(cfg.seed, job.restarts, slot, incarnation)
                worker_id = f"{job.job_id}-w{slot}"
                return LoopConfig(
                    server_address=self._server_address, job_id=job.job_id, worker_id=worker_id,
                    node_id="", batch_size=cfg.batch_size, reg=cfg.reg, seed=int(seed), lr=cfg.lr,
                    push_every=cfg.push_every, overlap=cfg.overlap and mode["consistency"].kind != "sync",
                    token=self._token, tls_ca=self._tls_ca, secret=job.store.enroll(worker_id),  # a fresh secret per incarnation
                )

            recorder = CurveRecorder(job, data.X_val, data.y_val).start()
            try:
                errors = supervise(job, self._launcher, group, make_config, (shared.X_refs, shared.y_ref), self._stall_timeout)
            finally:
                recorder.stop()
        finally:
            self._launcher.release(group)
        self._finish(job, data, errors, recorder.final)

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

    def _train_numerically(self, job: Job, data: Prepared, batch_seed: int) -> None:
        if job.cancel_requested.is_set():
            job.transition(State.CANCELLED, f"{job.cancel_reason} before training started")
            return
        if job.state != State.RUNNING and not job.transition(State.RUNNING):
            return
        train_numerically(job, self._launcher, data.X_train, data.y_train, batch_seed, self._grad_fn)
        self._finish(job, data, [])

    def _search(self, job: Job, data: Prepared, batch_seed: int) -> None:
        """Strategies #1 and #2: rounds of candidates in Ray tasks (server.training.searching), with the curve recorded."""
        if job.cancel_requested.is_set():
            job.transition(State.CANCELLED, f"{job.cancel_reason} before the search started")
            return
        if job.state != State.RUNNING and not job.transition(State.RUNNING):
            return
        recorder = CurveRecorder(job, data.X_val, data.y_val).start()
        try:
            search(job, self._launcher, data.X_train, data.y_train, batch_seed)
        finally:
            recorder.stop()
        self._finish(job, data, [], recorder.final)

    def _finish(
        self, job: Job, data: Prepared, errors: list[str], curve_final: tuple[int, float] | None = None
    ) -> None:
        """The terminal state once training stopped: CANCELLED, FAILED (short of steps) or SUCCEEDED (evaluated).

        ``curve_final`` is the training curve's last point (version, accuracy on the whole
        validation split): the validation accuracy of W at that version, not evaluated again.
        """
        cfg = job.config
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
