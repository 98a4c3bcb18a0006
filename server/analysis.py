"""Gradient checks and step-size sweeps requested by clients: validate, load data, run as a Ray task."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from proto import descent_pb2
from server.jobspec import DEFAULTS
from server.launcher import RayLauncher
from worker.checks import svm_gradient_check
from worker.data import check_spec, prepare
from worker.numgrad import GradCheckResult
from worker.sweep import SweepResult, step_size_sweep

FORMULAS = {descent_pb2.FORMULA_UNSPECIFIED: "centered", descent_pb2.CENTERED: "centered", descent_pb2.FORWARD: "forward"}


@dataclass(frozen=True)
class GradcheckConfig:
    """A gradient check: where, how many coordinates, which formula and step h."""

    dataset: str = DEFAULTS.dataset
    checks: int = 20
    h: float = 1e-5
    formula: str = "centered"
    seed: int = DEFAULTS.seed
    reg: float = DEFAULTS.reg
    batch_size: int = DEFAULTS.batch_size
    init_scale: float = DEFAULTS.init_scale


@dataclass(frozen=True)
class SweepConfig:
    """A step-size sweep at a random W = init_scale * randn (the notes use 0.001)."""

    dataset: str = DEFAULTS.dataset
    seed: int = DEFAULTS.seed
    reg: float = DEFAULTS.reg
    init_scale: float = 1e-3


def _get(request, name: str, default):
    return getattr(request, name) if request.HasField(name) else default


def _positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value}")


def _non_negative(name: str, value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a non-negative finite number, got {value}")


def resolve_gradcheck(request: descent_pb2.GradientCheckRequest) -> GradcheckConfig:
    """Defaults filled in, every field validated (ValueError names the bad one), data set path checked."""
    d = GradcheckConfig()
    if request.formula not in FORMULAS:
        raise ValueError(f"unknown formula {request.formula}")
    cfg = GradcheckConfig(
        dataset=request.dataset or d.dataset,
        checks=_get(request, "checks", d.checks),
        h=_get(request, "h", d.h),
        formula=FORMULAS[request.formula],
        seed=_get(request, "seed", d.seed),
        reg=_get(request, "reg", d.reg),
        batch_size=_get(request, "batch_size", d.batch_size),
        init_scale=_get(request, "init_scale", d.init_scale),
    )
    _positive("checks", cfg.checks)
    _positive("h", cfg.h)
    _positive("batch_size", cfg.batch_size)
    _non_negative("reg", cfg.reg)
    _non_negative("init_scale", cfg.init_scale)
    _non_negative("seed", cfg.seed)
    check_spec(cfg.dataset)
    return cfg


def resolve_sweep(request: descent_pb2.StepSizeSweepRequest) -> SweepConfig:
    """Defaults filled in, every field validated, data set path checked."""
    d = SweepConfig()
    cfg = SweepConfig(
        dataset=request.dataset or d.dataset,
        seed=_get(request, "seed", d.seed),
        reg=_get(request, "reg", d.reg),
        init_scale=_get(request, "init_scale", d.init_scale),
    )
    _non_negative("reg", cfg.reg)
    _non_negative("init_scale", cfg.init_scale)
    _non_negative("seed", cfg.seed)
    check_spec(cfg.dataset)
    return cfg


def run_gradcheck(launcher: RayLauncher, cfg: GradcheckConfig) -> tuple[GradCheckResult, int]:
    """The check's result and the number of examples in its batch."""
    data = prepare(cfg.dataset, seed=cfg.seed, dtype="float64")
    result = launcher.run_task(
        svm_gradient_check,
        data.X_train,
        data.y_train,
        data.num_classes,
        reg=cfg.reg,
        checks=cfg.checks,
        h=cfg.h,
        formula=cfg.formula,
        seed=cfg.seed,
        init_scale=cfg.init_scale,
        batch_size=cfg.batch_size,
    )
    return result, min(cfg.batch_size, len(data.y_train))


def run_sweep(launcher: RayLauncher, cfg: SweepConfig) -> tuple[SweepResult, int]:
    """The sweep over the full training split (float64) and its number of examples."""
    data = prepare(cfg.dataset, seed=cfg.seed, dtype="float64")
    rng = np.random.default_rng(cfg.seed)
    W = cfg.init_scale * rng.standard_normal((data.num_classes, data.X_train.shape[1]))
    result = launcher.run_task(step_size_sweep, W, data.X_train, data.y_train, cfg.reg)
    return result, len(data.y_train)
