"""The verdict of a gradient check on the notes' scale, with its reasons in words.

The CS231n notes judge the relative error of a gradient check like this:
relative error > 1e-2 usually means the gradient is wrong; 1e-2 > error > 1e-4 should
make you uncomfortable; 1e-4 > error is usually okay for objectives with kinks but too
high without them; < 1e-7 you should be happy. ``judge`` applies that scale to the
largest error over *smooth* coordinates — those whose ±h perturbation crossed no kink of
the hinge and whose gradient is above the finite difference's resolution — and explains
the rest: kink crossings (a mismatch is expected there and not held against the analytic
gradient), below-resolution coordinates (compared absolutely), and the forward formula's
truncation error. For the SVM the loss is exactly quadratic along a coordinate between
kinks, with f'' = 2·reg, so the forward difference is off by exactly reg·h on every smooth
coordinate, while the centered difference has no truncation error at all there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from worker.numgrad import RESOLUTION_FACTOR, GradCheckResult

#: (upper bound, level) on the largest smooth relative error, from the notes.
LEVELS = ((1e-7, "fine"), (1e-4, "suspicious"), (1e-2, "uncomfortable"), (np.inf, "wrong"))
SCALE = "< 1e-7 fine, 1e-7 ... 1e-4 suspicious, 1e-4 ... 1e-2 uncomfortable, > 1e-2 wrong"

#: Slack on the forward formula's predicted absolute error reg·h (on top of rounding).
FORWARD_SLACK = 1.5


@dataclass(frozen=True)
class Verdict:
    """``level`` on the notes' scale (or "inconclusive"), whether the check passed, and why.

    ``passed``: the smooth errors are below the formula's threshold, or (forward formula)
    they are all explained by its truncation error reg·h.
    """

    level: str
    passed: bool
    notes: tuple[str, ...]


def level_of(max_rel_error_smooth: float) -> str:
    """The notes' word for a largest smooth relative error ("inconclusive" for nan)."""
    if not np.isfinite(max_rel_error_smooth):
        return "inconclusive"
    return next(name for bound, name in LEVELS if max_rel_error_smooth < bound)


def forward_explained(result: GradCheckResult, reg: float) -> bool:
    """Whether every smooth coordinate's error fits what the forward formula itself causes.

    Allowed: FORWARD_SLACK·reg·h plus the rounding floor eps·|f|/h of a float64 loss.
    """
    if result.formula != "forward" or result.num_smooth == 0:
        return False
    rounding = result.resolution / RESOLUTION_FACTOR
    return result.max_abs_error_smooth <= FORWARD_SLACK * reg * result.h + rounding


def _worst_smooth(result: GradCheckResult):
    smooth = [ch for ch in result.checks if ch.smooth]
    return max(smooth, key=lambda ch: ch.rel_error) if smooth else None


def judge(result: GradCheckResult, reg: float) -> Verdict:
    """Judge a check of the SVM loss with L2 strength ``reg``; never blame kinks on the gradient."""
    level = level_of(result.max_rel_error_smooth)
    notes = []
    if level == "inconclusive":
        notes.append(
            "no smooth coordinate: every checked coordinate crossed a kink or lies below resolution; "
            "check more coordinates (--checks, --full) or use a smaller h"
        )
    else:
        notes.append(
            f"max relative error {result.max_rel_error_smooth:.1e} (mean {result.mean_rel_error_smooth:.1e}) "
            f"over {result.num_smooth:,} smooth coordinates: {level} on the notes' scale ({SCALE})"
        )
    if result.formula == "forward":
        notes.append(_forward_note(result, reg))
    elif level not in ("fine", "inconclusive"):
        worst = _worst_smooth(result)
        notes.append(
            f"where the loss is smooth the centered difference has no truncation error, so the analytic "
            f"gradient is likely wrong: worst at W[{worst.c}, {worst.d}], analytic {worst.analytic:.6e} "
            f"vs numeric {worst.numeric:.6e}"
        )
    if result.num_kink:
        notes.append(
            f"{result.num_kink:,} coordinate(s) crossed a kink of the hinge within ±h (a margin moved across 0): "
            f"the finite difference straddles a corner there, so a mismatch is expected (max relative error "
            f"{result.max_rel_error_kink:.1e}) and is not held against the analytic gradient"
        )
    if result.num_below_resolution:
        notes.append(
            f"{result.num_below_resolution:,} coordinate(s) lie below resolution (|analytic| + |numeric| < "
            f"{result.resolution:.1e} = {_resolution_words(result)}): rounding dominates their relative error, "
            f"so they are compared absolutely (max |analytic − numeric| "
            f"{result.max_abs_error_below_resolution:.1e})"
        )
    explained = forward_explained(result, reg)
    if result.passed:
        notes.append(f"passed: {result.max_rel_error_smooth:.1e} < the {result.formula} threshold {result.threshold:g}")
    elif explained:
        notes.append(
            f"passed: above the forward threshold {result.threshold:g} only by the forward formula's own error "
            "(truncation reg·h, rounding), which says nothing against the analytic gradient"
        )
    else:
        notes.append(
            f"failed: the largest smooth relative error is not below the {result.formula} threshold {result.threshold:g}"
            if level != "inconclusive"
            else "failed: nothing to compare"
        )
    return Verdict(level=level, passed=result.passed or explained, notes=tuple(notes))


def _resolution_words(result: GradCheckResult) -> str:
    return f"{RESOLUTION_FACTOR:g}·eps·|f|/h at |f| = {abs(result.loss):.3g}, h = {result.h:g}"


def _forward_note(result: GradCheckResult, reg: float) -> str:
    truncation = reg * result.h
    if result.num_smooth == 0:
        return f"forward difference: its truncation error is reg·h = {truncation:.1e} per coordinate"
    smallest = result.min_abs_gradient_smooth
    relative = truncation / max(2 * smallest, np.finfo(float).tiny)
    why = (
        f"forward difference [f(w+h) − f(w)]/h: between kinks the SVM loss is quadratic along a coordinate "
        f"with f'' = 2·reg, so its truncation error is h·f''/2 = reg·h = {truncation:.1e} on every smooth "
        f"coordinate — relative {relative:.1e} at the smallest smooth |gradient| {smallest:.1e}; the centered "
        f"difference cancels that term (its O(h²) error is exactly 0 for a piecewise-quadratic loss)"
    )
    if forward_explained(result, reg):
        return why + f"; the largest absolute error here, {result.max_abs_error_smooth:.1e}, is that truncation error"
    return why + (
        f"; but the largest absolute error here, {result.max_abs_error_smooth:.1e}, is more than truncation "
        "explains: the analytic gradient is likely wrong"
    )
