"""Gradient checks and step-size sweeps requested by clients: validate, load data, run as Ray tasks.

A check's numerical gradient is split into chunks of coordinates, one Ray task per
chunk (``worker.fdiff.loss_changes``), as many at once as the cluster has CPUs; the
chunks' results are put back in coordinate order and compared with the analytic
gradient (``worker.checks.assemble``). ``run_gradcheck`` is a generator: it yields
Progress as chunks finish and the GradcheckOutcome last, so the streaming RPC reports
progress and the unary one keeps only the last item. A sweep computes the gradient
once (one task), then evaluates its step sizes in parallel tasks.

Both look at a fresh random W on a data set, or at a job's current (or final) W on the
job's data set and training split (``job_id``), with the job's reg unless one is given.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from proto import descent_pb2
from proto.names import FORMULA_NAMES, METHOD_NAMES
from server.errors import RequestError
from server.fields import non_negative, optional, positive
from server.jobs.spec import DEFAULTS
from server.cluster.launcher import RayLauncher
from server.analyses.target import analysis_target, check_source, prepare_target
from server.jobs.registry import JobRegistry
from worker.checks import CheckReport, assemble, needs_minus, setup
from worker.data.prepare import sample_batch
from worker.fdiff import loss_changes
from worker.sweep import DECADES, SweepResult, finish, step_sizes, sweep_direction, sweep_losses


#: At most this many h values in one request, and coordinates in one full check.
MAX_H_VALUES = 16
MAX_FULL_COORDINATES = 1 << 21
#: Chunks per CPU of the cluster (load balance, and progress steps), and the smallest
#: chunk worth a task: ~20 ms of work for incremental, ~10 ms for brute at CIFAR scale.
TASKS_PER_CPU = 8
MIN_TASK_COORDINATES = {"incremental": 2048, "brute": 8}
#: Sweep defaults once any of step_min / step_max / points is given.
SWEEP_MIN, SWEEP_MAX = 1e-10, 1e3


@dataclass(frozen=True)
class GradcheckConfig:
    """A gradient check: where, how many coordinates, which formula, method and step(s) h."""

    dataset: str = DEFAULTS.dataset
    checks: int = 20
    hs: tuple[float, ...] = (1e-5,)
    formula: str = "centered"
    seed: int = DEFAULTS.seed
    reg: float | None = None  # None: the server's default, or the job's
    batch_size: int = DEFAULTS.batch_size
    init_scale: float = DEFAULTS.init_scale
    full: bool = False
    method: str = "incremental"
    job_id: str = ""


@dataclass(frozen=True)
class SweepConfig:
    """A step-size sweep at a random W = init_scale * randn (the notes use 0.001) or a job's W."""

    dataset: str = DEFAULTS.dataset
    seed: int = DEFAULTS.seed
    reg: float | None = None
    init_scale: float = 1e-3
    step_min: float | None = None  # all three None: open-ended decades
    step_max: float | None = None
    points: int | None = None
    job_id: str = ""
    batch_size: int | None = None  # None: the whole training split

    @property
    def open_ended(self) -> bool:
        return self.points is None


@dataclass(frozen=True)
class Progress:
    """Coordinates evaluated so far, of ``total``."""

    done: int
    total: int


@dataclass(frozen=True)
class GradcheckOutcome:
    """A finished check and where it ran."""

    report: CheckReport
    dataset: str
    num_examples: int
    job_id: str
    full: bool
    seconds: float
    tasks: int


@dataclass(frozen=True)
class SweepOutcome:
    """A finished sweep and where it ran."""

    result: SweepResult
    dataset: str
    num_examples: int
    job_id: str
    open_ended: bool
    seconds: float
    tasks: int


def _hs(request: descent_pb2.GradientCheckRequest) -> tuple[float, ...]:
    if request.h_values:
        hs = tuple(request.h_values)
        if request.HasField("h") and request.h != hs[0]:
            raise RequestError(f"h ({request.h:g}) and h_values (first {hs[0]:g}) disagree: give one of them")
    else:
        hs = (optional(request, "h", 1e-5),)
    if len(hs) > MAX_H_VALUES:
        raise RequestError(f"at most {MAX_H_VALUES} h values, got {len(hs)}")
    for h in hs:
        positive("h", h)
    return hs


def resolve_gradcheck(request: descent_pb2.GradientCheckRequest) -> GradcheckConfig:
    """Defaults filled in, every field validated (RequestError names the bad one), data set path checked."""
    d = GradcheckConfig()
    if request.formula not in FORMULA_NAMES:
        raise RequestError(f"unknown formula {request.formula}")
    if request.method not in METHOD_NAMES:
        raise RequestError(f"unknown numerical gradient method {request.method}")
    cfg = GradcheckConfig(
        dataset=request.dataset or ("" if request.job_id else d.dataset),
        checks=optional(request, "checks", d.checks),
        hs=_hs(request),
        formula=FORMULA_NAMES[request.formula],
        seed=optional(request, "seed", d.seed),
        reg=optional(request, "reg", None),
        batch_size=optional(request, "batch_size", d.batch_size),
        init_scale=optional(request, "init_scale", d.init_scale),
        full=request.full,
        method=METHOD_NAMES[request.method],
        job_id=request.job_id,
    )
    positive("checks", cfg.checks)
    positive("batch_size", cfg.batch_size)
    if cfg.reg is not None:
        non_negative("reg", cfg.reg)
    non_negative("init_scale", cfg.init_scale)
    non_negative("seed", cfg.seed)
    check_source(request.dataset, request.job_id)
    return cfg


def resolve_sweep(request: descent_pb2.StepSizeSweepRequest) -> SweepConfig:
    """Defaults filled in, every field validated, data set path checked."""
    ranged = any(request.HasField(name) for name in ("step_min", "step_max", "points"))
    step_min = optional(request, "step_min", SWEEP_MIN) if ranged else None
    step_max = optional(request, "step_max", SWEEP_MAX) if ranged else None
    points = None
    if ranged:
        positive("step_min", step_min)
        positive("step_max", step_max)
        decades = math.log10(step_max) - math.log10(step_min) if step_max > step_min else 1.0  # no overflow
        points = optional(request, "points", max(2, round(decades) + 1))
        try:
            step_sizes(step_min, step_max, points)
        except ValueError as error:  # a bad range in the request
            raise RequestError(str(error)) from None
    cfg = SweepConfig(
        dataset=request.dataset or ("" if request.job_id else SweepConfig.dataset),
        seed=optional(request, "seed", SweepConfig.seed),
        reg=optional(request, "reg", None),
        init_scale=optional(request, "init_scale", SweepConfig.init_scale),
        step_min=step_min,
        step_max=step_max,
        points=points,
        job_id=request.job_id,
        batch_size=optional(request, "batch_size", None),
    )
    if cfg.reg is not None:
        non_negative("reg", cfg.reg)
    non_negative("init_scale", cfg.init_scale)
    non_negative("seed", cfg.seed)
    if cfg.batch_size is not None:
        positive("batch_size", cfg.batch_size)
    check_source(request.dataset, request.job_id)
    return cfg


def plan_tasks(coordinates: int, method: str, cpus: float) -> int:
    """How many chunk tasks: TASKS_PER_CPU per CPU, none smaller than MIN_TASK_COORDINATES."""
    worth = math.ceil(coordinates / MIN_TASK_COORDINATES[method])
    return max(1, min(worth, TASKS_PER_CPU * max(1, int(cpus))))


def run_gradcheck(
    launcher: RayLauncher,
    registry: JobRegistry,
    cfg: GradcheckConfig,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[Progress | GradcheckOutcome]:
    """Yield Progress while the chunk tasks run, then the GradcheckOutcome."""
    target = analysis_target(registry, cfg.job_id, cfg.dataset, cfg.seed, cfg.reg)
    data = prepare_target(target)
    try:
        problem = setup(
            data.X_train, data.y_train, data.num_classes, reg=target.reg, seed=cfg.seed, init_scale=cfg.init_scale,
            batch_size=cfg.batch_size, checks=cfg.checks, full=cfg.full, W=target.W,
        )
    except ValueError as error:  # the request's W, data set and settings do not fit together
        raise RequestError(str(error)) from None
    total = len(problem.flat)
    if total > MAX_FULL_COORDINATES:
        raise RequestError(f"a full check of {total:,} coordinates is too large (at most {MAX_FULL_COORDINATES:,}); use checks")
    tasks = plan_tasks(total, cfg.method, launcher.total_cpus())
    parts = np.array_split(problem.flat, tasks)
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in parts])])
    changes = np.empty((len(cfg.hs), 2, total))
    yield Progress(0, total)
    start, done = time.perf_counter(), 0
    results = launcher.imap_tasks(
        loss_changes, (problem.W, problem.X, problem.y, problem.reg), parts, should_stop=should_stop,
        hs=list(cfg.hs), method=cfg.method, minus=needs_minus(cfg.hs, cfg.formula),
    )
    for i, part in results:
        changes[:, :, offsets[i] : offsets[i + 1]] = part
        done += len(parts[i])
        yield Progress(done, total)
    seconds = time.perf_counter() - start
    report = assemble(problem, changes, cfg.hs, cfg.formula, cfg.method)
    yield GradcheckOutcome(
        report=report, dataset=target.dataset, num_examples=len(problem.y), job_id=cfg.job_id, full=cfg.full,
        seconds=seconds, tasks=tasks,
    )


def run_sweep(
    launcher: RayLauncher, registry: JobRegistry, cfg: SweepConfig, should_stop: Callable[[], bool] | None = None
) -> SweepOutcome:
    """The sweep (float64): the gradient in one task, the step sizes in parallel tasks.

    If ``should_stop()`` turns true (the client went away or its deadline passed) the
    tasks are cancelled and Cancelled is raised.
    """
    target = analysis_target(registry, cfg.job_id, cfg.dataset, cfg.seed, cfg.reg)
    data = prepare_target(target)
    rng = np.random.default_rng(cfg.seed)
    fresh = cfg.init_scale * rng.standard_normal((data.num_classes, data.X_train.shape[1]))
    W = fresh if target.W is None else np.asarray(target.W, dtype=np.float64)
    X, y = data.X_train, data.y_train
    if cfg.batch_size is not None:
        X, y = sample_batch(X, y, min(cfg.batch_size, len(y)), rng)
    sizes = np.array(DECADES) if cfg.open_ended else step_sizes(cfg.step_min, cfg.step_max, cfg.points)
    start = time.perf_counter()
    X_ref, y_ref = launcher.put(X), launcher.put(y)
    loss_original, dW = launcher.run_task(sweep_direction, W, X_ref, y_ref, target.reg, should_stop=should_stop)
    tasks = min(len(sizes), max(1, int(launcher.total_cpus())))
    parts = np.array_split(np.arange(len(sizes)), tasks)
    losses = np.empty(len(sizes))
    shared = (W, dW, X_ref, y_ref, target.reg)
    for i, part in launcher.imap_tasks(sweep_losses, shared, [sizes[p] for p in parts], should_stop=should_stop):
        losses[parts[i]] = part
    result = finish(loss_original, sizes, losses, cfg.open_ended)
    return SweepOutcome(
        result=result, dataset=target.dataset, num_examples=len(y), job_id=cfg.job_id, open_ended=cfg.open_ended,
        seconds=time.perf_counter() - start, tasks=tasks + 1,
    )
