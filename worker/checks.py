"""Gradient checks of the SVM loss: what is checked, and the report that compares and judges.

A check looks at f(W) = svm_loss(W, X_batch, y_batch, reg) in float64: W is a fresh
``init_scale · randn`` (as in the notes) or a given one (a job's, copied — never changed),
the batch is drawn from the training split, and the coordinates are K random ones or
all of them (``full``). ``setup`` makes that problem from a seed; the numerical side is
worker.fdiff.loss_changes over the problem's coordinates (in one process, or in chunks
on many workers); ``assemble`` computes the analytic gradient, the kink and resolution
flags, the result at every h and formula, and the verdict. ``check`` runs it all here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from worker.data.rows import sample_batch
from worker.fdiff import loss_changes, numerical_from_changes
from worker.kernel import svm_loss_grad
from worker.numgrad import FORMULAS, GradCheckResult, make_result
from worker.svm import kink_mask, svm_loss
from worker.verdict import Verdict, forward_explained, judge, level_of


@dataclass(frozen=True, eq=False)
class CheckProblem:
    """f = svm_loss(·, X, y, reg) at W (float64 copies), checked at the flat indices ``flat``."""

    W: np.ndarray
    X: np.ndarray
    y: np.ndarray
    reg: float
    flat: np.ndarray

    @property
    def coords(self) -> np.ndarray:
        """The checked coordinates as an int64 (K, 2) array of (c, d)."""
        return np.stack(np.unravel_index(self.flat, self.W.shape), axis=1).astype(np.int64)


def setup(
    X: np.ndarray,
    y: np.ndarray,
    num_classes: int,
    *,
    reg: float,
    seed: int,
    init_scale: float,
    batch_size: int,
    checks: int,
    full: bool = False,
    W: np.ndarray | None = None,
) -> CheckProblem:
    """The problem a seed defines: W = init_scale·randn(C, D+1) unless W is given, a batch, coordinates.

    One generator draws, in order, the random W (drawn even when W is given, so the batch
    and coordinates depend on the seed only), the batch of min(batch_size, N) examples,
    and ``checks`` distinct coordinates (all of them, in order, when ``full``).
    """
    rng = np.random.default_rng(seed)
    X = np.asarray(X, dtype=np.float64)
    fresh = init_scale * rng.standard_normal((num_classes, X.shape[1]))
    if W is None:
        W = fresh
    else:
        W = np.array(W, dtype=np.float64, copy=True)
        if W.shape != fresh.shape:
            raise ValueError(f"W has shape {W.shape} but the data set needs ({num_classes}, {X.shape[1]})")
    Xb, yb = sample_batch(X, y, min(batch_size, len(y)), rng)
    if full:
        flat = np.arange(W.size, dtype=np.int64)
    else:
        if int(checks) < 1:
            raise ValueError(f"checks must be >= 1, got {checks}")
        flat = rng.choice(W.size, size=min(int(checks), W.size), replace=False).astype(np.int64)
    return CheckProblem(W=W, X=np.ascontiguousarray(Xb), y=yb, reg=float(reg), flat=flat)


def needs_minus(hs: Sequence[float], formula: str) -> bool:
    """Whether f(W − h e) is needed: for the centered formula, and for the side-by-side table of several h."""
    return formula == "centered" or len(hs) > 1


@dataclass(frozen=True)
class CheckSummary:
    """The figures of one (h, formula) check without its per-coordinate rows."""

    h: float
    formula: str
    num_checked: int
    num_smooth: int
    num_kink: int
    num_below_resolution: int
    max_rel_error: float
    max_rel_error_smooth: float
    mean_rel_error_smooth: float
    max_rel_error_kink: float
    max_abs_error_smooth: float
    threshold: float
    resolution: float
    passed: bool
    level: str
    forward_error_expected: bool  # forward: every smooth error within truncation reg·h + rounding eps·|f|/h

    @classmethod
    def of(cls, result: GradCheckResult, reg: float) -> CheckSummary:
        """The summary of ``result``, a check of the SVM loss with L2 strength ``reg``."""
        explained = forward_explained(result, reg)
        return cls(
            h=result.h, formula=result.formula, num_checked=len(result.checks), num_smooth=result.num_smooth,
            num_kink=result.num_kink, num_below_resolution=result.num_below_resolution,
            max_rel_error=result.max_rel_error, max_rel_error_smooth=result.max_rel_error_smooth,
            mean_rel_error_smooth=result.mean_rel_error_smooth, max_rel_error_kink=result.max_rel_error_kink,
            max_abs_error_smooth=result.max_abs_error_smooth, threshold=result.threshold,
            resolution=float(result.resolution), passed=result.passed or explained,
            level=level_of(result.max_rel_error_smooth), forward_error_expected=explained,
        )


@dataclass(frozen=True)
class ErrorVsH:
    """One row of the error-vs-h table: the centered and forward checks at one h, side by side."""

    h: float
    centered: CheckSummary
    forward: CheckSummary


@dataclass(frozen=True)
class CheckReport:
    """A whole check: the main result (first h, requested formula), its verdict, and the h table."""

    result: GradCheckResult
    summary: CheckSummary  # of result
    verdict: Verdict
    method: str
    by_h: tuple[ErrorVsH, ...]
    num_coordinates: int


def assemble(
    problem: CheckProblem,
    changes: np.ndarray,
    hs: Sequence[float],
    formula: str,
    method: str,
    grad_fn: Callable = svm_loss_grad,
) -> CheckReport:
    """Compare ``changes`` (from loss_changes over problem.flat) with the analytic gradient, and judge.

    grad_fn(W, X, y, reg) -> (loss, dW) is the analytic gradient under test (the real
    one unless a test plants a bug). With several h, every h is checked with both
    formulas (the ``by_h`` table); the main result is the first h with ``formula``.
    """
    if formula not in FORMULAS:
        raise ValueError(f"formula must be one of {FORMULAS}, got {formula!r}")
    hs = [float(h) for h in hs]
    changes = np.asarray(changes, dtype=np.float64)
    if changes.shape != (len(hs), 2, len(problem.flat)):
        raise ValueError(f"changes have shape {changes.shape}, expected {(len(hs), 2, len(problem.flat))}")
    loss = float(svm_loss(problem.W, problem.X, problem.y, problem.reg))
    _, dW = grad_fn(problem.W, problem.X, problem.y, problem.reg)
    analytic = np.asarray(dW, dtype=np.float64).reshape(-1)[problem.flat]
    coords = problem.coords
    formulas = FORMULAS if len(hs) > 1 else (formula,)
    results = {}
    for a, h in enumerate(hs):
        kinks = kink_mask(problem.W, problem.X, problem.y, coords, h)
        for name in formulas:
            numeric = numerical_from_changes(changes[a], h, name)
            results[h, name] = make_result(name, h, loss, coords, analytic, numeric, kinks)
    main = results[hs[0], formula]
    by_h = ()
    if len(hs) > 1:
        by_h = tuple(
            ErrorVsH(h, CheckSummary.of(results[h, "centered"], problem.reg), CheckSummary.of(results[h, "forward"], problem.reg))
            for h in hs
        )
    return CheckReport(
        result=main, summary=CheckSummary.of(main, problem.reg), verdict=judge(main, problem.reg), method=method,
        by_h=by_h, num_coordinates=int(problem.W.size),
    )


def check(
    problem: CheckProblem,
    hs: Sequence[float] = (1e-5,),
    formula: str = "centered",
    method: str = "incremental",
    grad_fn: Callable = svm_loss_grad,
) -> CheckReport:
    """The whole check in this process (no chunks): loss changes, then ``assemble``."""
    changes = loss_changes(
        problem.W, problem.X, problem.y, problem.reg, problem.flat, hs, method=method, minus=needs_minus(hs, formula)
    )
    return assemble(problem, changes, hs, formula, method, grad_fn)
