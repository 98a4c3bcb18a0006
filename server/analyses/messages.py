"""A gradient check's outcome and its protocol messages: the summary of one check (also a job's
first-batch check), the whole response, and the stream's progress."""

from __future__ import annotations

from dataclasses import dataclass

from proto import descent_pb2
from proto.names import FORMULA_VALUES, METHOD_VALUES
from worker.checks import CheckReport, CheckSummary


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


def check_summary(summary: CheckSummary) -> descent_pb2.CheckSummary:
    """The figures of one check."""
    return descent_pb2.CheckSummary(
        h=summary.h,
        formula=FORMULA_VALUES[summary.formula],
        num_checked=summary.num_checked,
        num_smooth=summary.num_smooth,
        num_kink=summary.num_kink,
        num_below_resolution=summary.num_below_resolution,
        max_rel_error=summary.max_rel_error,
        max_rel_error_smooth=summary.max_rel_error_smooth,
        mean_rel_error_smooth=summary.mean_rel_error_smooth,
        max_rel_error_kink=summary.max_rel_error_kink,
        max_abs_error_smooth=summary.max_abs_error_smooth,
        threshold=summary.threshold,
        resolution=summary.resolution,
        passed=summary.passed,
        level=summary.level,
        forward_error_expected=summary.forward_error_expected,
    )


def gradcheck_response(outcome: GradcheckOutcome) -> descent_pb2.GradientCheckResponse:
    """The whole check: per-coordinate rows, summary, verdict and notes, the error-vs-h table."""
    report = outcome.report
    result = report.result
    response = descent_pb2.GradientCheckResponse(
        formula=FORMULA_VALUES[result.formula],
        h=result.h,
        max_rel_error=result.max_rel_error,
        max_rel_error_smooth=result.max_rel_error_smooth,
        passed=report.verdict.passed,
        loss=result.loss,
        dataset=outcome.dataset,
        num_examples=outcome.num_examples,
        threshold=result.threshold,
        method=METHOD_VALUES[report.method],
        full=outcome.full,
        job_id=outcome.job_id,
        summary=check_summary(report.summary),
        verdict=report.verdict.level,
        notes=report.verdict.notes,
        by_h=[
            descent_pb2.ErrorVsH(h=row.h, centered=check_summary(row.centered), forward=check_summary(row.forward))
            for row in report.by_h
        ],
        num_coordinates=report.num_coordinates,
        seconds=outcome.seconds,
        tasks=outcome.tasks,
    )
    response.checks.extend(
        descent_pb2.CoordinateCheck(
            c=check.c,
            d=check.d,
            analytic=check.analytic,
            numeric=check.numeric,
            rel_error=check.rel_error,
            kink=check.kink,
            below_resolution=check.below_resolution,
        )
        for check in result.checks
    )
    return response


def gradcheck_progress(event: Progress | GradcheckOutcome) -> descent_pb2.GradientCheckProgress:
    """One message of the check's stream: progress, or the final result."""
    if isinstance(event, Progress):
        return descent_pb2.GradientCheckProgress(done=event.done, total=event.total)
    total = len(event.report.result.checks)
    return descent_pb2.GradientCheckProgress(done=total, total=total, result=gradcheck_response(event))
