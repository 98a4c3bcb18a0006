"""One shape for every analysis a client asks for: resolve → cost → run → respond.

- ``resolve(request)`` fills the request's defaults into a frozen config and checks every
  field (RequestError names the bad one); the fields every analysis shares — the data set or
  the job it looks at, the seed, reg and W's init scale — are read once, by ``read_source``,
  with the bounds of the job spec's table (proto.job_fields);
- ``cost_bytes(size, config)`` is the server memory it needs for a data set of that size, which
  admission holds against the server's limit before anything is allocated;
- ``run(launcher, registry, config, should_stop)`` computes the outcome in Ray tasks, and stops
  them (Cancelled) once ``should_stop()`` is true;
- ``respond(outcome)`` is the protocol message.

The Trainer servicer calls them in that order for each analysis RPC (one handler).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from formats.sizes import DataSize
from proto.job_fields import BY_NAME
from server.analyses.target import check_source
from server.cluster.launcher import RayLauncher
from server.fields import optional
from server.jobs.registry import JobRegistry
from server.jobs.spec import DEFAULTS, check_field


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


ConfigT = TypeVar("ConfigT", bound=Source)
OutcomeT = TypeVar("OutcomeT")


class Analysis(ABC, Generic[ConfigT, OutcomeT]):
    """One kind of analysis (see the module docstring for the four steps)."""

    #: How a refusal names one: "this landscape".
    what: ClassVar[str]

    @abstractmethod
    def resolve(self, request: Any) -> ConfigT:
        """The request's config, every field checked."""

    @abstractmethod
    def cost_bytes(self, size: DataSize, config: ConfigT) -> int:
        """Server memory the analysis needs on a data set of ``size``."""

    @abstractmethod
    def run(
        self, launcher: RayLauncher, registry: JobRegistry, config: ConfigT, should_stop: Callable[[], bool] | None = None
    ) -> OutcomeT:
        """The outcome, computed in Ray tasks."""

    @abstractmethod
    def respond(self, outcome: OutcomeT) -> Any:
        """The outcome as its protocol message."""
