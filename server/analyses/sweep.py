"""``StepSizeSweep`` requests (an Analysis): the loss after one step along the negative gradient,
per step size — the notes' search for a good step size.

The gradient is computed once (one task), then the step sizes are evaluated in parallel tasks,
at a fresh random W (init_scale * randn; the notes use 0.001) on a data set, or at a job's
current (or final) W on its training split, with the job's reg unless one is given.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from formats.sizes import DataSize
from proto import descent_pb2
from server.analyses.base import Analysis, Source, analysis_target, bounded, check_bound, prepare_target, read_source
from server.errors import RequestError
from server.fields import optional
from server.jobs.costs import SCORE_COPIES, W_COPIES, gradient_flops, loss_flops, prepared_bytes, weights_bytes
from server.jobs.registry import JobRegistry
from worker.data.rows import sample_batch
from worker.sweep import DECADES, SweepResult, finish, step_sizes, sweep_direction, sweep_losses

if TYPE_CHECKING:  # the launcher (and ray) only as a type: the analyses get one passed in
    from server.cluster.launcher import RayLauncher

#: Sweep defaults once any of step_min / step_max / points is given.
SWEEP_MIN, SWEEP_MAX = 1e-10, 1e3


@dataclass(frozen=True)
class SweepConfig(Source):
    """A step-size sweep: where (Source), the range of step sizes and the examples in the loss."""

    step_min: float | None = None  # all three None: open-ended decades
    step_max: float | None = None
    points: int | None = None
    batch_size: int | None = None  # None: the whole training split

    @property
    def open_ended(self) -> bool:
        return self.points is None


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


class Sweep(Analysis[SweepConfig, SweepOutcome]):
    """The notes' step-size sweep."""

    what = "this sweep"
    shrink = "fewer --points or a --batch-size shrink it"

    def resolve(self, request: descent_pb2.StepSizeSweepRequest) -> SweepConfig:
        ranged = any(request.HasField(name) for name in ("step_min", "step_max", "points"))
        step_min = optional(request, "step_min", SWEEP_MIN) if ranged else None
        step_max = optional(request, "step_max", SWEEP_MAX) if ranged else None
        points = None
        if ranged:
            check_bound("step_min", step_min)
            check_bound("step_max", step_max)
            decades = math.log10(step_max) - math.log10(step_min) if step_max > step_min else 1.0  # no overflow
            points = optional(request, "points", max(2, round(decades) + 1))
            try:
                step_sizes(step_min, step_max, points)
            except ValueError as error:  # a bad range in the request
                raise RequestError(str(error)) from None
        cfg = SweepConfig(
            **read_source(request), step_min=step_min, step_max=step_max, points=points,
            batch_size=bounded(request, "batch_size", None),
        )
        return cfg

    def cost_bytes(self, size: DataSize, cfg: SweepConfig) -> int:
        """Raw data, its float64 copy and the object store's copy of the examples, W, dW and the scores."""
        examples = size.num_examples if cfg.batch_size is None else min(cfg.batch_size, size.num_examples)
        scores = examples * SCORE_COPIES * size.num_classes * 8
        return (size.raw_bytes + prepared_bytes(size, 8) + examples * (size.num_features + 1) * 8
                + W_COPIES * weights_bytes(size, 8) + scores)

    def cost_flops(self, size: DataSize, cfg: SweepConfig) -> float:
        """The gradient once, then a loss per step size, on the examples."""
        examples = size.num_examples if cfg.batch_size is None else cfg.batch_size
        points = len(DECADES) if cfg.points is None else cfg.points
        return gradient_flops(size, examples) + points * loss_flops(size, examples)

    def run(
        self, launcher: RayLauncher, registry: JobRegistry, cfg: SweepConfig, should_stop: Callable[[], bool] | None = None
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

    def respond(self, outcome: SweepOutcome) -> descent_pb2.StepSizeSweepResponse:
        """The sweep's rows in step-size order and its best step size."""
        result = outcome.result
        return descent_pb2.StepSizeSweepResponse(
            loss_original=result.loss_original,
            rows=[descent_pb2.SweepRow(step_size=s, loss=loss) for s, loss in result.rows],
            best_step_size=result.best_step_size,
            dataset=outcome.dataset,
            num_examples=outcome.num_examples,
            job_id=outcome.job_id,
            open_ended=outcome.open_ended,
            seconds=outcome.seconds,
            tasks=outcome.tasks,
        )


SWEEP = Sweep()
