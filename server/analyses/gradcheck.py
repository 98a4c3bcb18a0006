"""``GradientCheck`` requests (an Analysis): the analytic gradient against the numerical one, in Ray tasks.

A check's numerical gradient is split into chunks of coordinates, one Ray task per
chunk (``worker.fdiff.loss_changes``), as many at once as the cluster has CPUs; the
chunks' results are put back in coordinate order and compared with the analytic
gradient (``worker.checks.assemble``). ``GradientCheck.events`` is a generator: it yields
Progress as chunks finish and the GradcheckOutcome last, so the streaming RPC reports
progress and the unary one keeps only the last item.

A check looks at a fresh random W on a data set, or at a job's current (or final) W on the
job's data set and training split (``job_id``), with the job's reg unless one is given.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from formats.sizes import DataSize
from proto import descent_pb2
from proto.names import FORMULA_NAMES, METHOD_NAMES
from server.analyses.base import Analysis, Source, analysis_target, bounded, check_bound, prepare_target, read_source
from server.analyses.messages import GradcheckOutcome, Progress, gradcheck_progress, gradcheck_response
from server.errors import RequestError
from server.fields import optional
from server.jobs.costs import SCORE_COPIES, W_COPIES, finite_difference_flops, prepared_bytes, weights_bytes
from server.jobs.registry import JobRegistry
from server.jobs.spec import DEFAULTS
from worker.checks import assemble, needs_minus, setup
from worker.fdiff import loss_changes

if TYPE_CHECKING:  # the launcher (and ray) only as a type: the analyses get one passed in
    from server.cluster.launcher import RayLauncher

#: At most this many h values in one request, and coordinates in one full check.
MAX_H_VALUES = 16
MAX_FULL_COORDINATES = 1 << 21
#: Chunks per CPU of the cluster (load balance, and progress steps), and the smallest
#: chunk worth a task: ~20 ms of work for incremental, ~10 ms for brute at CIFAR scale.
TASKS_PER_CPU = 8
MIN_TASK_COORDINATES = {"incremental": 2048, "brute": 8}


@dataclass(frozen=True)
class GradcheckConfig(Source):
    """A gradient check: where (Source), how many coordinates, which formula, method and step(s) h."""

    checks: int = 20
    hs: tuple[float, ...] = (1e-5,)
    formula: str = "centered"
    batch_size: int = DEFAULTS.batch_size
    full: bool = False
    method: str = "incremental"


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
        check_bound("h", h)
    return hs


class GradientCheck(Analysis[GradcheckConfig, GradcheckOutcome]):
    """The notes' gradient check, sparse (``checks`` coordinates) or full."""

    what = "this gradient check"
    shrink = "--checks instead of --full, fewer --h values, a smaller --batch-size or the incremental method shrink it"

    def resolve(self, request: descent_pb2.GradientCheckRequest) -> GradcheckConfig:
        if request.formula not in FORMULA_NAMES:
            raise RequestError(f"unknown formula {request.formula}")
        if request.method not in METHOD_NAMES:
            raise RequestError(f"unknown numerical gradient method {request.method}")
        cfg = GradcheckConfig(
            **read_source(request),
            checks=bounded(request, "checks", GradcheckConfig.checks),
            hs=_hs(request),
            formula=FORMULA_NAMES[request.formula],
            batch_size=bounded(request, "batch_size", GradcheckConfig.batch_size),
            full=request.full,
            method=METHOD_NAMES[request.method],
        )
        return cfg

    def cost_bytes(self, size: DataSize, cfg: GradcheckConfig) -> int:
        """Raw data and its float64 copy, W's copies, the batch and its scores, the table of loss changes."""
        coordinates = size.num_classes * (size.num_features + 1) if cfg.full else min(cfg.checks, 1 << 40)
        batch = min(cfg.batch_size, size.num_examples) * (size.num_features + 1 + SCORE_COPIES * size.num_classes) * 8
        changes = len(cfg.hs) * 2 * coordinates * 8
        return size.raw_bytes + prepared_bytes(size, 8) + W_COPIES * weights_bytes(size, 8) + batch + changes

    def cost_flops(self, size: DataSize, cfg: GradcheckConfig) -> float:
        """Each coordinate's finite differences (h values × sides) on the batch, and the analytic gradient."""
        coordinates = size.num_classes * (size.num_features + 1) if cfg.full else cfg.checks
        sides = 2 if needs_minus(cfg.hs, cfg.formula) else 1
        return finite_difference_flops(size, coordinates, len(cfg.hs) * sides, cfg.batch_size, cfg.method)

    def run(
        self, launcher: RayLauncher, registry: JobRegistry, cfg: GradcheckConfig,
        should_stop: Callable[[], bool] | None = None,
    ) -> GradcheckOutcome:
        """The finished check (the last of ``events``)."""
        *_, outcome = self.events(launcher, registry, cfg, should_stop)
        return outcome

    def respond(self, outcome: GradcheckOutcome) -> descent_pb2.GradientCheckResponse:
        return gradcheck_response(outcome)

    @staticmethod
    def progress(event: Progress | GradcheckOutcome) -> descent_pb2.GradientCheckProgress:
        """One message of the streaming RPC."""
        return gradcheck_progress(event)

    def events(
        self, launcher: RayLauncher, registry: JobRegistry, cfg: GradcheckConfig,
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


def plan_tasks(coordinates: int, method: str, cpus: float) -> int:
    """How many chunk tasks: TASKS_PER_CPU per CPU, none smaller than MIN_TASK_COORDINATES."""
    worth = math.ceil(coordinates / MIN_TASK_COORDINATES[method])
    return max(1, min(worth, TASKS_PER_CPU * max(1, int(cpus))))


GRADIENT_CHECK = GradientCheck()
