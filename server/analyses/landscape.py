"""``Landscape`` requests (an Analysis): the loss along a random line and over a random plane through W, in parallel Ray tasks.

At a fresh random W (init_scale * randn, seeded) on a data set, or at a job's current (or
final) W on its training split (directions then scaled to W's Frobenius norm, so a = 1
moves as far as W is from the origin; at a random W they are standard normal, as in the
notes). ``examples`` keeps the first examples of the training split: 1 shows the one
example's piecewise-linear loss. The line is one task; the plane's rows are split into
one task per CPU.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from formats.sizes import DataSize
from proto import descent_pb2
from proto.tensor import to_tensor
from server.analyses.base import Analysis, Source, analysis_target, bounded, prepare_target, read_source
from server.jobs.costs import loss_flops
from server.jobs.registry import JobRegistry
from worker.landscape import directions, grid, line_losses, loss_at, plane_rows

if TYPE_CHECKING:  # the launcher (and ray) only as a type: the analyses get one passed in
    from server.cluster.launcher import RayLauncher


@dataclass(frozen=True)
class LandscapeConfig(Source):
    """A landscape: where (Source), how many examples, the grid's points and span."""

    examples: int | None = None  # None: the whole training split
    points: int = 41
    span: float = 1.0


@dataclass(frozen=True)
class LandscapeOutcome:
    """L(W), the line and the plane, and where they were evaluated."""

    center_loss: float
    a: np.ndarray
    line: np.ndarray
    b: np.ndarray
    plane: np.ndarray
    dataset: str
    job_id: str
    num_examples: int
    direction_scale: float
    seconds: float
    tasks: int


class Landscape(Analysis[LandscapeConfig, LandscapeOutcome]):
    """The loss along a random line and over a random plane through W."""

    what = "this landscape"
    shrink = "fewer --points, or fewer --examples, shrink it"

    def resolve(self, request: descent_pb2.LandscapeRequest) -> LandscapeConfig:
        cfg = LandscapeConfig(
            **read_source(request),
            examples=bounded(request, "examples", None),
            points=bounded(request, "points", LandscapeConfig.points),
            span=bounded(request, "span", LandscapeConfig.span),
        )
        return cfg

    def cost_bytes(self, size: DataSize, config: LandscapeConfig) -> int:
        """Raw data, its float64 copy, the object store's copy, a few W-sized arrays per task."""
        prepared = size.num_examples * (size.num_features + 1) * 8
        return size.raw_bytes + 2 * prepared + 16 * size.num_classes * (size.num_features + 1) * 8

    def cost_flops(self, size: DataSize, config: LandscapeConfig) -> float:
        """A loss on the examples at every point of the plane and the line, and at W."""
        examples = size.num_examples if config.examples is None else config.examples
        return (config.points**2 + config.points + 1) * loss_flops(size, examples)

    def run(
        self, launcher: RayLauncher, registry: JobRegistry, cfg: LandscapeConfig,
        should_stop: Callable[[], bool] | None = None,
    ) -> LandscapeOutcome:
        """The line in one task and the plane's rows in parallel tasks (float64)."""
        return _evaluate(launcher, registry, cfg, should_stop)

    def respond(self, outcome: LandscapeOutcome) -> descent_pb2.LandscapeResponse:
        """The plane as a float64 tensor, rows a, columns b."""
        return descent_pb2.LandscapeResponse(
            center_loss=outcome.center_loss,
            line=[descent_pb2.LinePoint(a=float(a), loss=float(v)) for a, v in zip(outcome.a, outcome.line)],
            plane_a=outcome.a.tolist(), plane_b=outcome.b.tolist(), plane_loss=to_tensor(outcome.plane),
            dataset=outcome.dataset, job_id=outcome.job_id, num_examples=outcome.num_examples,
            direction_scale=outcome.direction_scale, seconds=outcome.seconds, tasks=outcome.tasks,
        )


def _evaluate(
    launcher: RayLauncher, registry: JobRegistry, cfg: LandscapeConfig, should_stop: Callable[[], bool] | None
) -> LandscapeOutcome:
    target = analysis_target(registry, cfg.job_id, cfg.dataset, cfg.seed, cfg.reg)
    data = prepare_target(target)
    rng = np.random.default_rng(cfg.seed)
    X, y = data.X_train, data.y_train
    if cfg.examples is not None:
        X, y = X[: cfg.examples], y[: cfg.examples]
    if target.W is None:
        W = cfg.init_scale * rng.standard_normal((data.num_classes, X.shape[1]))
        W1, W2 = directions(W, rng)
    else:
        W = np.asarray(target.W, dtype=np.float64)
        norm = float(np.linalg.norm(W))
        W1, W2 = directions(W, rng, norm if norm > 0 else None)
    values = grid(cfg.points, cfg.span)
    start = time.perf_counter()
    X_ref, y_ref = launcher.put(X), launcher.put(y)
    tasks = min(len(values), max(1, int(launcher.total_cpus())))
    parts = np.array_split(np.arange(len(values)), tasks)
    shared = (W, W1, W2, X_ref, y_ref, target.reg, values)
    plane = np.empty((len(values), len(values)))
    for i, rows in launcher.imap_tasks(plane_rows, shared, [values[p] for p in parts], should_stop=should_stop):
        plane[parts[i]] = rows
    line = launcher.run_task(line_losses, W, W1, X_ref, y_ref, target.reg, values, should_stop=should_stop)
    return LandscapeOutcome(
        center_loss=loss_at(W, X, y, target.reg), a=values, line=line, b=values, plane=plane, dataset=target.dataset,
        job_id=cfg.job_id, num_examples=len(y), direction_scale=float(np.linalg.norm(W1)),
        seconds=time.perf_counter() - start, tasks=tasks + 1,
    )


LANDSCAPE = Landscape()
