"""The ways a job makes its steps, behind one interface: ``TrainingMethod``.

- ``GradientWorkers`` — the notes' strategy #3 at scale: Ray workers sample batches, compute the
  analytic gradient and push it to the job's ParameterStore (placement: server.training.placement,
  replacement of dead workers: server.training.supervision);
- ``NumericalGradient`` — each step's full numerical gradient, computed over the cluster by
  this thread (server.training.numerical);
- ``RandomSearch`` — strategies #1 and #2: rounds of random candidates judged by their loss, over
  a SearchStore (server.training.searching).

A method makes the job's store (new, or from a checkpoint) and then trains until the store
says stop; the runner does the rest (data, the first-batch check, the final evaluation) the
same way for all of them. ``method_for`` picks one from the job's spec.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from proto import descent_pb2
from server.cluster.data_cache import Shared
from server.cluster.launcher import RayLauncher
from server.jobs.job import Job
from server.params.protocol import Store
from server.params.search_store import SearchStore
from server.params.snapshots import StoreObserver, StoreState
from server.params.store import ParameterStore
from server.params.update_rules import make_rule
from server.training.curve import CurveRecorder
from server.training.elastic import Crew
from server.training.numerical import train_numerically
from server.training.placement import Scheduler
from server.training.searching import search
from server.training.seeds import replacement_seed
from server.training.supervision import supervise
from worker.task.loop import LoopConfig

State = descent_pb2.JobState


@dataclass(frozen=True)
class Trained:
    """How training ended: the workers' errors on the way, and the curve's last (version, val accuracy)."""

    errors: list[str]
    curve_final: tuple[int, float] | None = None


@dataclass(frozen=True)
class Endpoint:
    """Where a job's workers push, and what they show the server: its address, token and TLS CA."""

    address: str
    token: str = ""
    tls_ca: bytes = b""


class TrainingMethod(ABC):
    """Makes a job's store, then trains the job until the store says stop."""

    def store(self, job: Job, weights: np.ndarray, observer: StoreObserver | None) -> Store:
        """The job's store: from its checkpoint when it resumes, else new around ``weights`` (a job
        continued from another's W: with that job's update rule state and count when the rule is the same)."""
        cfg, start = job.config, job.start
        same_rule = start is not None and start.optimizer_name == cfg.optimizer
        first = start.rule_offset(cfg.optimizer) if start is not None else 0
        rule = make_rule(cfg.rule_spec(first), weights.shape, weights.dtype)
        mode = dict(consistency=cfg.mode, workers=0 if cfg.elastic else cfg.workers, push_every=cfg.push_every,
                    rule=rule, observer=observer, first_step=first)
        if job.resume_state is not None:
            return ParameterStore.resume(job.resume_state, cfg.lr, cfg.steps, **mode)
        if same_rule:
            rule.load_state({name: array.astype(weights.dtype) for name, array in start.optimizer.items()})
        return ParameterStore(weights, cfg.lr, cfg.steps, **mode)

    @abstractmethod
    def train(self, job: Job, shared: Shared, seeds: list[int]) -> Trained | None:
        """Train until the store is done; None if the job ended (or was suspended) before it trained."""

    @staticmethod
    def _start(job: Job, what: str) -> bool:
        """RUNNING, unless the job was cancelled before ``what`` started (then CANCELLED)."""
        if job.cancel_requested.is_set():
            job.transition(State.CANCELLED, f"{job.cancel_reason} before {what} started")
            return False
        return job.state == State.RUNNING or job.transition(State.RUNNING)


class GradientWorkers(TrainingMethod):
    """Workers placed as one gang, each a Ray task that pulls W and pushes gradients; dead ones replaced.
    An elastic job's gang is its MIN workers; it grows and shrinks while it trains (server.training.elastic)."""

    def __init__(self, launcher: RayLauncher, scheduler: Scheduler, endpoint: Endpoint, stall_timeout: float):
        self._launcher, self._scheduler = launcher, scheduler
        self._endpoint, self._stall_timeout = endpoint, stall_timeout

    def train(self, job: Job, shared: Shared, seeds: list[int]) -> Trained | None:
        cfg = job.config
        stopping = lambda: job.cancel_requested.is_set() or job.suspended.is_set()  # noqa: E731
        group = self._scheduler.place(job, cfg.bounds[0], stopping)  # an elastic job starts with MIN
        if group is None:
            if not job.suspended.is_set():
                job.transition(State.CANCELLED, f"{job.cancel_reason} before the workers started")
            return None
        try:
            if job.state == State.RUNNING:  # resumed: it was running when its server stopped
                job.persist()
            elif not job.transition(State.RUNNING):
                return None
            recorder = CurveRecorder(job, shared.data.X_val, shared.data.y_val).start()
            crew = Crew(job, self._launcher, group, self._scheduler.queued_cpus) if cfg.elastic else None
            try:
                errors = supervise(
                    job, self._launcher, group, self._loop_configs(job, seeds), (shared.X_refs, shared.y_ref),
                    self._stall_timeout, crew=crew,
                )
            finally:
                recorder.stop()
        finally:
            self._launcher.release(group)
        return Trained(errors, recorder.final)

    def _loop_configs(self, job: Job, seeds: list[int]) -> Callable[[int, int], LoopConfig]:
        """The loop of worker ``slot``'s ``incarnation``-th start: its batch seed, and a fresh secret."""
        cfg, endpoint = job.config, self._endpoint

        def make_config(slot: int, incarnation: int) -> LoopConfig:
            fresh = incarnation == 0 and slot < len(seeds)
            seed = seeds[slot] if fresh else replacement_seed(cfg.seed, job.restarts, slot, incarnation)
            drawn = job.start.batches if job.start is not None and incarnation == job.restarts == 0 else ()
            worker_id = f"{job.job_id}-w{slot}"
            return LoopConfig(
                server_address=endpoint.address, job_id=job.job_id, worker_id=worker_id,
                node_id="", batch_size=cfg.batch_size, reg=cfg.reg, seed=int(seed), lr=cfg.lr,
                push_every=cfg.push_every, overlap=cfg.overlap and cfg.mode.kind != "sync",
                skip_batches=drawn[slot] if slot < len(drawn) else 0,
                token=endpoint.token, tls_ca=endpoint.tls_ca, secret=job.store.enroll(worker_id, incarnation),
                epoch=incarnation, compress=str(cfg.codec),
            )

        return make_config


class NumericalGradient(TrainingMethod):
    """This thread runs the steps; each step's numerical gradient is split over parallel Ray tasks."""

    def __init__(self, launcher: RayLauncher, grad_fn: Callable):
        self._launcher, self._grad_fn = launcher, grad_fn

    def train(self, job: Job, shared: Shared, seeds: list[int]) -> Trained | None:
        if not self._start(job, "training"):
            return None
        data = shared.data
        train_numerically(job, self._launcher, data.X_train, data.y_train, seeds[0], self._grad_fn)
        return Trained([])


class RandomSearch(TrainingMethod):
    """Strategies #1 and #2: rounds of candidate W evaluated in Ray tasks, the best kept by a SearchStore."""

    def __init__(self, launcher: RayLauncher):
        self._launcher = launcher

    def store(self, job: Job, weights: np.ndarray, observer: StoreObserver | None) -> Store:
        cfg = job.config
        state: StoreState | None = job.resume_state
        return SearchStore.resume(state, cfg.lr, cfg.steps) if state is not None else SearchStore(weights, cfg.steps)

    def train(self, job: Job, shared: Shared, seeds: list[int]) -> Trained | None:
        if not self._start(job, "the search"):
            return None
        data = shared.data
        recorder = CurveRecorder(job, data.X_val, data.y_val).start()
        try:
            search(job, self._launcher, data.X_train, data.y_train, seeds[0])
        finally:
            recorder.stop()
        return Trained([], recorder.final)


def method_for(job: Job, workers: GradientWorkers, numerical: NumericalGradient, searching: RandomSearch) -> TrainingMethod:
    """The method the job's spec asks for: a search strategy, the numerical gradient, or gradient workers."""
    if job.config.strategy != "gradient":
        return searching
    return numerical if job.config.gradient == "numerical" else workers
