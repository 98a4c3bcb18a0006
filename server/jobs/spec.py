"""Job specifications: the server's defaults and the validation of what a client asks for.

A ``JobSpec`` message leaves optional fields unset to mean "the default";
``resolve`` fills them in and rejects bad values with a RequestError that names
the field, before any state changes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from proto import descent_pb2
from server.params.consistency import parse_consistency
from server.errors import RequestError
from server.fields import check_range, echo, optional
from server.params.lr_schedules import parse_schedule
from server.params.update_rules import OPTIMIZERS, RuleSpec
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
    consistency: str = "async"
    push_every: int = 1
    overlap: bool = True
    optimizer: str = "sgd"
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    lr_schedule: str = "constant"

    def rule_spec(self) -> RuleSpec:
        """The update rule this job applies at the parameter store (its schedule parsed)."""
        return RuleSpec(
            optimizer=self.optimizer, lr=self.lr, momentum=self.momentum, beta1=self.beta1, beta2=self.beta2,
            eps=self.eps, schedule=parse_schedule(self.lr_schedule), total_steps=self.steps,
        )
    strategy: str = "gradient"

    def to_proto(self) -> descent_pb2.JobSpec:
        """The spec with every field set."""
        return descent_pb2.JobSpec(**asdict(self))


DEFAULTS = JobConfig()

#: Upper bounds that keep one request from exhausting the server.
MAX_WORKERS = 128
MAX_BATCH = 1 << 20
MAX_STEPS = 10**9
MAX_PUSH_EVERY = 10_000
MAX_SCHEDULE_CHARS = 64
#: beta2 when the client leaves it unset and the optimizer is rmsprop (the notes' decay_rate).
RMSPROP_BETA2 = 0.99


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
        consistency=_field(spec, "consistency"),
        push_every=_field(spec, "push_every"),
        overlap=_field(spec, "overlap"),
        optimizer=_field(spec, "optimizer"),
        momentum=_field(spec, "momentum"),
        beta1=_field(spec, "beta1"),
        beta2=optional(spec, "beta2", RMSPROP_BETA2 if spec.optimizer == "rmsprop" else DEFAULTS.beta2),
        eps=_field(spec, "eps"),
        lr_schedule=_field(spec, "lr_schedule"),
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
    _check_consistency(config)
    _check_rule(config)
    if config.strategy not in STRATEGIES:
        raise RequestError(f"strategy must be one of {', '.join(STRATEGIES)}, got {echo(config.strategy)}")
    if config.strategy != "gradient" and (
        config.gradient != "analytic" or config.check_gradient or config.consistency != "async" or config.push_every != 1
        or config.optimizer != "sgd" or config.lr_schedule != "constant"
    ):
        raise RequestError(
            f"strategy {config.strategy} uses no gradient: leave gradient, check_gradient, consistency, push_every, "
            "optimizer and lr_schedule unset"
        )
    return config


def _check_consistency(config: JobConfig) -> None:
    """The consistency mode parses, and the step target is a whole number of pushes (of steps, for sync)."""
    mode = parse_consistency(config.consistency)
    check_range("push_every", config.push_every, 1, MAX_PUSH_EVERY)
    per_push = config.push_every * (config.workers if mode.kind == "sync" else 1)
    if config.steps % per_push:
        unit = f"workers x push_every = {per_push} (a sync step)" if mode.kind == "sync" else f"push_every = {per_push}"
        raise RequestError(f"steps ({config.steps}) must be a multiple of {unit}: every push counts as whole updates")
    if config.gradient == "numerical" and (mode.kind != "async" or config.push_every != 1):
        raise RequestError("a numerical-gradient job runs its steps on the server: consistency and push_every do not apply")


def _check_rule(config: JobConfig) -> None:
    """The update rule's fields: a known optimizer, decays in [0, 1), eps > 0, a well-formed schedule."""
    if config.optimizer not in OPTIMIZERS:
        raise RequestError(f"unknown optimizer {echo(config.optimizer)}: expected one of {', '.join(OPTIMIZERS)}")
    for name in ("momentum", "beta1", "beta2"):
        value = getattr(config, name)
        if not 0.0 <= value < 1.0:  # also false for NaN
            raise RequestError(f"{name} must be in [0, 1), got {value}")
    check_range("eps", config.eps, 0.0, 1.0, low_open=True)
    if len(config.lr_schedule) > MAX_SCHEDULE_CHARS:
        raise RequestError(f"lr_schedule is {len(config.lr_schedule)} characters, at most {MAX_SCHEDULE_CHARS}")
    try:
        parse_schedule(config.lr_schedule)
    except ValueError as exc:
        raise RequestError(f"lr_schedule: {exc}") from None

