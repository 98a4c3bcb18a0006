"""What an analysis (gradient check, sweep, minibatch, landscape) looks at, and its data.

A fresh random W on a data set, or a job's current (or final) W on the job's own data set
and split seed, with the job's reg unless the request gives one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from server.errors import RequestError
from server.fields import echo
from server.jobs.registry import JobRegistry
from server.jobs.spec import DEFAULTS
from worker.data.prepare import Prepared, prepare


@dataclass(frozen=True, eq=False)
class AnalysisTarget:
    """A data set (split with data_seed), W (None: random) and reg."""

    dataset: str
    data_seed: int
    W: np.ndarray | None
    reg: float


def analysis_target(registry: JobRegistry, job_id: str, dataset: str, seed: int, reg: float | None) -> AnalysisTarget:
    """The data set and seed given, or job ``job_id``'s (JobNotFound; JobNotActive while it has no W yet)."""
    if not job_id:
        return AnalysisTarget(dataset=dataset, data_seed=seed, W=None, reg=DEFAULTS.reg if reg is None else reg)
    status = registry.status(job_id)
    weights, _ = registry.weights(job_id)
    spec = status.spec
    return AnalysisTarget(dataset=spec.dataset, data_seed=spec.seed, W=weights, reg=spec.reg if reg is None else reg)


def prepare_target(target: AnalysisTarget) -> Prepared:
    """The target's data set in float64; a malformed file the request named is a RequestError."""
    try:
        return prepare(target.dataset, seed=target.data_seed, dtype="float64")
    except ValueError as error:
        raise RequestError(str(error)) from None


def check_source(dataset: str, job_id: str) -> None:
    """A job's W or a data set, not both (server.rpc.admission confines the data set and checks it exists)."""
    if job_id and dataset:
        raise RequestError(
            f"give a data set or a job, not both (dataset {echo(dataset)}, job {echo(job_id)}): a job brings its own"
        )
