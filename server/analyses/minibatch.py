"""``Minibatch`` requests (an Analysis): the notes' mini-batch argument, measured in one Ray task.

At a fresh random W (init_scale * randn, seeded) on a data set, or at a job's current (or
final) W on its training split: worker.minibatch computes, per batch size, the cosine
between batch and full gradient over many draws and the time per example of the
vectorized gradient. One task keeps the timings free of other tasks on the same CPU.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from formats.sizes import DataSize
from proto import descent_pb2
from proto.job_fields import MAX_BATCH_SIZES
from server.analyses.base import Analysis, Source, analysis_target, bounded, check_bound, prepare_target, read_source
from server.errors import RequestError
from server.jobs.costs import TIMING_CALLS, gradient_flops
from server.jobs.registry import JobRegistry
from worker.minibatch import DEFAULT_SIZES, MinibatchRow, batch_sizes, minibatch_rows

if TYPE_CHECKING:  # the launcher (and ray) only as a type: the analyses get one passed in
    from server.cluster.launcher import RayLauncher

@dataclass(frozen=True)
class MinibatchConfig(Source):
    """A measurement: where (data set or job, Source), draws per size and the sizes."""

    draws: int = 100
    sizes: tuple[int, ...] = DEFAULT_SIZES


@dataclass(frozen=True)
class MinibatchOutcome:
    """The rows (the last is the full split) and where they were measured."""

    rows: list[MinibatchRow]
    dataset: str
    job_id: str
    num_examples: int
    draws: int
    dtype: str
    seconds: float


class Minibatch(Analysis[MinibatchConfig, MinibatchOutcome]):
    """The notes' mini-batch argument, measured."""

    what = "this mini-batch measurement"
    shrink = "fewer --draws or smaller --sizes shrink it"

    def resolve(self, request: descent_pb2.MinibatchRequest) -> MinibatchConfig:
        cfg = MinibatchConfig(
            **read_source(request),
            draws=bounded(request, "draws", MinibatchConfig.draws),
            sizes=tuple(request.batch_sizes) or DEFAULT_SIZES,
        )
        if len(cfg.sizes) > MAX_BATCH_SIZES:
            raise RequestError(f"at most {MAX_BATCH_SIZES} batch sizes, got {len(cfg.sizes)}")
        for size in cfg.sizes:
            check_bound("batch_sizes", size)
        return cfg

    def cost_bytes(self, size: DataSize, config: MinibatchConfig) -> int:
        """Raw data, its float64 and float32 copies, and a few W-sized gradients."""
        prepared = size.num_examples * (size.num_features + 1)
        return size.raw_bytes + prepared * 12 + 8 * size.num_classes * (size.num_features + 1) * 8

    def cost_flops(self, size: DataSize, config: MinibatchConfig) -> float:
        """Per batch size: the full gradient, ``draws`` batch gradients and the timed calls."""
        n = size.num_examples
        sizes = {min(s, n) for s in config.sizes} | {n}
        draws = {s: config.draws if s < n else 0 for s in sizes}  # the full split is its own mean
        return sum(gradient_flops(size, n) + (draws[s] + TIMING_CALLS) * gradient_flops(size, s) for s in sizes)

    def run(
        self, launcher: RayLauncher, registry: JobRegistry, cfg: MinibatchConfig,
        should_stop: Callable[[], bool] | None = None,
    ) -> MinibatchOutcome:
        """The rows, measured in one Ray task (float64 cosines; timings in the job's dtype, float32 otherwise)."""
        return _measure(launcher, registry, cfg, should_stop)

    def respond(self, outcome: MinibatchOutcome) -> descent_pb2.MinibatchResponse:
        return descent_pb2.MinibatchResponse(
            rows=[
                descent_pb2.MinibatchRow(
                    batch_size=r.batch_size, cosine_mean=r.cosine_mean, cosine_std=r.cosine_std,
                    us_per_example=r.us_per_example, full=r.full,
                )
                for r in outcome.rows
            ],
            dataset=outcome.dataset, job_id=outcome.job_id, num_examples=outcome.num_examples, draws=outcome.draws,
            dtype=outcome.dtype, seconds=outcome.seconds,
        )


def _measure(
    launcher: RayLauncher, registry: JobRegistry, cfg: MinibatchConfig, should_stop: Callable[[], bool] | None
) -> MinibatchOutcome:
    target = analysis_target(registry, cfg.job_id, cfg.dataset, cfg.seed, cfg.reg)
    data = prepare_target(target)
    rng = np.random.default_rng(cfg.seed)
    W = cfg.init_scale * rng.standard_normal((data.num_classes, data.X_train.shape[1]))
    dtype = "float32"
    if target.W is not None:
        dtype = str(target.W.dtype)
        W = np.asarray(target.W, dtype=np.float64)
    sizes = batch_sizes(len(data.y_train), cfg.sizes)
    start = time.perf_counter()
    rows = launcher.run_task(
        minibatch_rows, W, data.X_train, data.y_train, target.reg, sizes, cfg.draws, rng, dtype, should_stop=should_stop
    )
    return MinibatchOutcome(
        rows=rows, dataset=target.dataset, job_id=cfg.job_id, num_examples=len(data.y_train), draws=cfg.draws,
        dtype=dtype, seconds=time.perf_counter() - start,
    )


MINIBATCH = Minibatch()
