"""Runs one training job from PENDING to a terminal state in a background thread.

Load and preprocess the data set, put the training split into Ray's object
store once, initialise W, place the worker actors, let them train against the
parameter store until it says stop, then evaluate W on train/val/test and
persist everything.

With ``check_gradient`` the job first checks its gradient on the first batch and
ends FAILED without training if the check fails (server.guard). With
``gradient = "numerical"`` no actors are placed: this thread runs the steps,
each one's full numerical gradient computed in parallel Ray tasks
(server.numerical).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from proto import descent_pb2
from server.job import DataShape, Job
from server.guard import first_batch_check, refusal
from server.launcher import RayLauncher
from server.messages import check_summary
from server.numerical import train_numerically
from server.registry import JobRegistry
from server.store import ParameterStore
from worker.actor import LoopConfig
from worker.data import Prepared, prepare
from worker.svm import accuracy, svm_loss_grad

State = descent_pb2.JobState


class JobRunner:
    """Starts job threads; one per job, each owning its actors until the job ends."""

    def __init__(
        self,
        registry: JobRegistry,
        launcher: RayLauncher,
        server_address: str,
        grad_fn: Callable = svm_loss_grad,
        token: str = "",
        tls_ca: bytes = b"",
    ):
        """``grad_fn`` is the analytic gradient the first-batch check examines and numerical jobs time;
        ``token`` is the server's bearer token, handed to the workers with their own secrets, and
        ``tls_ca`` the PEM they verify a TLS server with (empty: plaintext)."""
        self._token, self._tls_ca = token, tls_ca
        self._registry = registry
        self._launcher = launcher
        self._server_address = server_address
        self._grad_fn = grad_fn
        self._threads: dict[str, threading.Thread] = {}

    def start(self, job: Job) -> None:
        thread = threading.Thread(target=self._run, args=(job,), name=f"job-{job.job_id}", daemon=True)
        self._threads[job.job_id] = thread
        thread.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait for every job thread (used at shutdown, after jobs were cancelled)."""
        for thread in list(self._threads.values()):
            thread.join(timeout)

    def _run(self, job: Job) -> None:
        actors: list = []  # filled by _train as soon as they exist, so a failure still kills them
        try:
            self._train(job, actors)
        except Exception as exc:  # any failure ends the job with a message, never the server
            job.transition(State.FAILED, f"{type(exc).__name__}: {exc}")
        finally:
            if job.store is not None:
                job.store.stop()
            if actors:
                self._launcher.kill(actors)
            if not job.terminal:  # a terminal state was saved as it was set (Job.on_terminal)
                self._registry.save(job)

    def _train(self, job: Job, actors: list) -> None:
        cfg = job.config
        data = prepare(cfg.dataset, seed=cfg.seed, dtype=cfg.dtype)
        num_features = data.X_train.shape[1]
        job.data_shape = DataShape(
            num_classes=data.num_classes,
            num_features=num_features,
            num_train=len(data.y_train),
            num_val=len(data.y_val),
            num_test=len(data.y_test),
        )
        seeds = np.random.SeedSequence(cfg.seed).generate_state(cfg.workers + 1, dtype=np.uint64)
        init_rng = np.random.default_rng(int(seeds[0]))
        weights = (cfg.init_scale * init_rng.standard_normal((data.num_classes, num_features))).astype(cfg.dtype)
        job.store = ParameterStore(weights, cfg.lr, cfg.steps)
        if job.cancel_requested.is_set():
            job.store.stop()
        if cfg.check_gradient and not self._check_first_batch(job, data, weights, int(seeds[1])):
            return
        if cfg.gradient == "numerical":
            self._train_numerically(job, data, int(seeds[1]))
            return
        X_ref, y_ref = self._launcher.put(data.X_train), self._launcher.put(data.y_train)

        worker_ids = [f"{job.job_id}-w{i}" for i in range(cfg.workers)]
        configs = [
            LoopConfig(
                server_address=self._server_address,
                job_id=job.job_id,
                worker_id=wid,
                node_id="",
                batch_size=cfg.batch_size,
                reg=cfg.reg,
                seed=int(seed),
                token=self._token,
                tls_ca=self._tls_ca,
                secret=job.store.enroll(wid),
            )
            for wid, seed in zip(worker_ids, seeds[1:])
        ]
        actors.extend(self._launcher.start_workers(configs))
        nodes = self._launcher.wait_ready(actors, job.cancel_requested.is_set)
        if nodes is None:
            job.transition(State.CANCELLED, f"{job.cancel_reason} before the workers started")
            return
        for wid, node in zip(worker_ids, nodes):
            job.store.register(wid, node)
        if not job.transition(State.RUNNING):
            return
        self._registry.save(job)

        outcomes = self._launcher.run_workers(actors, worker_ids, X_ref, y_ref)
        errors = [f"{o.worker_id}: {o.error}" for o in outcomes if o.error]
        self._finish(job, data, errors)

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
        if not job.transition(State.RUNNING):
            return
        self._registry.save(job)
        train_numerically(job, self._launcher, data.X_train, data.y_train, batch_seed, self._grad_fn)
        self._finish(job, data, [])

    def _finish(self, job: Job, data: Prepared, errors: list[str]) -> None:
        """The terminal state once training stopped: CANCELLED, FAILED (short of steps) or SUCCEEDED (evaluated)."""
        cfg = job.config
        version = job.store.progress()[0]
        if job.cancel_requested.is_set():
            job.transition(State.CANCELLED, f"{job.cancel_reason} after {version} of {cfg.steps} steps")
        elif version < cfg.steps:
            job.transition(State.FAILED, f"workers stopped after {version} of {cfg.steps} steps: " + "; ".join(errors))
        else:
            W, _ = job.store.weights()
            splits = {"train": data.X_train, "val": data.X_val, "test": data.X_test}
            labels = {"train": data.y_train, "val": data.y_val, "test": data.y_test}
            job.accuracy = {name: accuracy(W, X, labels[name]) for name, X in splits.items() if len(X)}
            note = f"finished on the remaining workers; {len(errors)} failed: " + "; ".join(errors) if errors else ""
            job.transition(State.SUCCEEDED, note)
