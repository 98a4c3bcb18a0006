"""One shape for every analysis a client asks for: resolve → cost → run → respond, and what an
analysis looks at (its Source, resolved into an AnalysisTarget: the data and W).

- ``resolve(request)`` fills the request's defaults into a frozen config and checks every
  field (RequestError names the bad one); the fields every analysis shares — the data set or
  the job it looks at, the seed, reg and W's init scale — are read once, by ``read_source``,
  with the bounds of the job spec's table (proto.job_fields);
- ``cost_bytes(size, config)`` is the server memory it needs for a data set of that size, and
  ``cost_flops(size, config)`` the compute, which admission holds against the server's limits
  before anything is allocated or started;
- ``run(launcher, registry, config, should_stop)`` computes the outcome in Ray tasks, and stops
  them (Cancelled) once ``should_stop()`` is true;
- ``respond(outcome)`` is the protocol message.

The Trainer servicer calls them in that order for each analysis RPC (one handler).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import numpy as np

from formats.sizes import DataSize
from proto.job_fields import ANALYSIS_BY_NAME, BY_NAME
from server.errors import RequestError, echo
from server.fields import optional
from server.jobs.registry import JobRegistry
from server.jobs.spec import DEFAULTS, check_field
from worker.data.prepare import Prepared, prepare

if TYPE_CHECKING:  # the launcher (and ray) only as a type: the analyses get one passed in
    from server.cluster.launcher import RayLauncher


@dataclass(frozen=True)
class Source:
    """What an analysis looks at: a data set with a fresh random W, or a job's W (``job_id``) on its data."""

    dataset: str = DEFAULTS.dataset
    job_id: str = ""
    seed: int = DEFAULTS.seed
    reg: float | None = None  # None: the server's default, or the job's
    init_scale: float = DEFAULTS.init_scale


def read_source(request: Any) -> dict[str, Any]:
    """The Source fields of an analysis request, defaults filled in, checked like a job's."""
    check_source(request.dataset, request.job_id)
    values = dict(
        dataset=request.dataset or ("" if request.job_id else DEFAULTS.dataset),
        job_id=request.job_id,
        seed=optional(request, "seed", DEFAULTS.seed),
        reg=optional(request, "reg", None),
        init_scale=optional(request, "init_scale", DEFAULTS.init_scale),
    )
    for name in ("seed", "reg", "init_scale"):
        if values[name] is not None:
            check_field(BY_NAME[name], values[name])
    return values


def check_bound(name: str, value: Any) -> None:
    """``value`` within the one table's bounds for ``name``: an analysis's own field (proto.job_fields.ANALYSIS_FIELDS)
    or one it shares with a job (JOB_FIELDS); RequestError naming it otherwise."""
    check_field(ANALYSIS_BY_NAME.get(name) or BY_NAME[name], value)


def bounded(request: Any, name: str, default: Any) -> Any:
    """The request's ``name`` (``default`` when unset, which is not checked), within its bounds."""
    value = optional(request, name, default)
    if request.HasField(name):
        check_bound(name, value)
    return value


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


ConfigT = TypeVar("ConfigT", bound=Source)
OutcomeT = TypeVar("OutcomeT")


class Analysis(ABC, Generic[ConfigT, OutcomeT]):
    """One kind of analysis (see the module docstring for the four steps)."""

    #: How a refusal names one: "this landscape".
    what: ClassVar[str]
    #: What a refusal for its cost suggests: "fewer points or examples shrink it".
    shrink: ClassVar[str]

    @abstractmethod
    def resolve(self, request: Any) -> ConfigT:
        """The request's config, every field checked."""

    @abstractmethod
    def cost_bytes(self, size: DataSize, config: ConfigT) -> int:
        """Server memory the analysis needs on a data set of ``size``."""

    @abstractmethod
    def cost_flops(self, size: DataSize, config: ConfigT) -> float:
        """Floating-point operations the analysis computes on a data set of ``size`` (server.jobs.costs)."""

    @abstractmethod
    def run(
        self, launcher: RayLauncher, registry: JobRegistry, config: ConfigT, should_stop: Callable[[], bool] | None = None
    ) -> OutcomeT:
        """The outcome, computed in Ray tasks."""

    @abstractmethod
    def respond(self, outcome: OutcomeT) -> Any:
        """The outcome as its protocol message."""
