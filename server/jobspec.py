"""Job specifications: the server's defaults and the validation of what a client asks for.

A ``JobSpec`` message leaves optional fields unset to mean "the default";
``resolve`` fills them in and rejects bad values with a RequestError that names
the field, before any state changes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from proto import descent_pb2
from server.errors import RequestError
from server.fields import check_range, echo, optional
from worker.search import STRATEGIES

DTYPES = ("float32", "float64")
GRADIENTS = ("analytic", "numerical")
NUMERICAL_METHODS = ("incremental", "brute")


@dataclass(frozen=True)
class JobConfig:
    """A fully specified training job."""

    dataset: str = "digits"
    workers: int = 2
    batch_size: int = 256
    steps: int = 2000
    lr: float = 5e-3
    reg: float = 1e-5
    seed: int = 0
    dtype: str = "float32"
    init_scale: float = 1e-3
    gradient: str = "analytic"
    check_gradient: bool = False
    numerical_method: str = "incremental"
    strategy: str = "gradient"

    def to_proto(self) -> descent_pb2.JobSpec:
        """The spec with every field set."""
        return descent_pb2.JobSpec(**asdict(self))


DEFAULTS = JobConfig()

#: Upper bounds that keep one request from exhausting the server.
MAX_WORKERS = 128
MAX_BATCH = 1 << 20
MAX_STEPS = 10**9


def _field(spec: descent_pb2.JobSpec, name: str):
    return optional(spec, name, getattr(DEFAULTS, name))


def resolve(spec: descent_pb2.JobSpec) -> JobConfig:
    """Fill defaults into ``spec`` and validate every field; raise RequestError naming the bad one."""
    config = JobConfig(
        dataset=spec.dataset or DEFAULTS.dataset,
        workers=_field(spec, "workers"),
        batch_size=_field(spec, "batch_size"),
        steps=_field(spec, "steps"),
        lr=_field(spec, "lr"),
        reg=_field(spec, "reg"),
        seed=_field(spec, "seed"),
        dtype=_field(spec, "dtype"),
        init_scale=_field(spec, "init_scale"),
        gradient=_field(spec, "gradient"),
        check_gradient=_field(spec, "check_gradient"),
        numerical_method=_field(spec, "numerical_method"),
        strategy=_field(spec, "strategy"),
    )
    check_range("workers", config.workers, 1, MAX_WORKERS)
    check_range("batch_size", config.batch_size, 1, MAX_BATCH)
    check_range("steps", config.steps, 1, MAX_STEPS)
    check_range("lr", config.lr, 0.0, 1e6, low_open=True)
    check_range("reg", config.reg, 0.0, 1e6)
    check_range("init_scale", config.init_scale, 0.0, 1e6)
    check_range("seed", config.seed, 0, 2**63 - 1)
    if config.dtype not in DTYPES:
        raise RequestError(f"dtype must be one of {', '.join(DTYPES)}, got {echo(config.dtype)}")
    if config.gradient not in GRADIENTS:
        raise RequestError(f"gradient must be one of {', '.join(GRADIENTS)}, got {echo(config.gradient)}")
    if config.numerical_method not in NUMERICAL_METHODS:
        raise RequestError(
            f"numerical_method must be one of {', '.join(NUMERICAL_METHODS)}, got {echo(config.numerical_method)}"
        )
    if config.strategy not in STRATEGIES:
        raise RequestError(f"strategy must be one of {', '.join(STRATEGIES)}, got {echo(config.strategy)}")
    if config.strategy != "gradient" and (config.gradient != "analytic" or config.check_gradient):
        raise RequestError(f"strategy {config.strategy} uses no gradient: leave gradient and check_gradient unset")
    return config

