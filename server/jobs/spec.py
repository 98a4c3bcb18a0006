"""A job's spec on the server: ``JobConfig`` (every field filled in, modes and schedules parsed once)
and ``resolve``, which fills a client's ``JobSpec`` with defaults and validates it.

The fields, their defaults, bounds and choices are the table proto.job_fields.JOB_FIELDS, read
here field by field; this module adds only what ties fields together: rmsprop's own beta2
default, steps that are a whole number of pushes, and a search that takes no gradient settings.
Every check raises a RequestError naming the field, before any state changes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from proto import descent_pb2
from proto.job_fields import BY_NAME, JOB_FIELDS, JobField
from server.errors import RequestError, echo
from server.fields import check_range, optional
from server.params.consistency import Consistency, parse_consistency
from server.params.lr_schedules import Schedule, parse_schedule
from server.params.update_rules import RuleSpec
from worker.compress import Codec, parse_compress

#: beta2 when the client leaves it unset and the optimizer is rmsprop (the notes' decay_rate).
RMSPROP_BETA2 = 0.99


class _Parsed:
    """What JobConfig adds to its table fields: the consistency mode, the schedule and the codec, parsed once."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", parse_consistency(self.consistency))
        try:
            object.__setattr__(self, "schedule", parse_schedule(self.lr_schedule))
        except ValueError as exc:
            raise RequestError(f"lr_schedule: {exc}") from None
        try:
            object.__setattr__(self, "codec", parse_compress(self.compress))
        except ValueError as exc:
            raise RequestError(str(exc)) from None

    mode: Consistency
    schedule: Schedule
    codec: Codec

    @property
    def elastic(self) -> bool:
        """Whether the job's workers may change while it runs (--workers MIN:MAX)."""
        return self.max_workers > 0

    @property
    def bounds(self) -> tuple[int, int]:
        """(fewest, most) workers: (MIN, MAX) of an elastic job, (workers, workers) of a rigid one."""
        return (self.min_workers, self.max_workers) if self.elastic else (self.workers, self.workers)

    def rule_spec(self, first_step: int = 0) -> RuleSpec:
        """The update rule this job applies at the parameter store (numbering its first update ``first_step``:
        a job continuing another's rule; its schedule then runs over the chain's updates)."""
        given = {name: getattr(self, name) for name in RuleSpec.__dataclass_fields__ if name in BY_NAME}
        return RuleSpec(**given, schedule=self.schedule, total_steps=first_step + self.steps)

    def to_proto(self) -> descent_pb2.JobSpec:
        """The spec with every field set."""
        fields = {field.name: getattr(self, field.name) for field in JOB_FIELDS}
        return descent_pb2.JobSpec(**{name: value for name, value in fields.items() if value or not BY_NAME[name].via})


#: A fully specified training job: one attribute per JobSpec field (proto.job_fields), plus
#: ``mode`` (the parsed consistency), ``schedule`` (the parsed lr_schedule) and ``codec`` (compress).
JobConfig = dataclasses.make_dataclass(
    "JobConfig",
    [(field.name, field.kind, dataclasses.field(default=field.default)) for field in JOB_FIELDS],
    bases=(_Parsed,),
    frozen=True,
)
JobConfig.__module__ = __name__  # where pickle finds it
JobConfig.__doc__ = "A fully specified training job (its fields: proto.job_fields.JOB_FIELDS)."

DEFAULTS = JobConfig()


def check_field(field: JobField, value: Any) -> None:
    """``value`` is within ``field``'s bounds, choices and length; else RequestError naming it."""
    if field.kind is str:
        if len(value) > field.max_chars:
            raise RequestError(f"{field.name} is {len(value)} characters, at most {field.max_chars}")
        if field.choices and value not in field.choices:
            raise RequestError(f"unknown {field.name} {echo(value)}: expected one of {', '.join(field.choices)}")
    elif field.kind in (int, float) and field.low is not None:
        check_range(field.name, value, field.low, field.high, low_open=field.low_open, high_open=field.high_open)


def resolve(spec: descent_pb2.JobSpec) -> JobConfig:
    """Fill defaults into ``spec`` and validate every field; raise RequestError naming the bad one."""
    values = {field.name: optional(spec, field.name, field.default) for field in JOB_FIELDS if field.name != "dataset"}
    values["dataset"] = spec.dataset or DEFAULTS.dataset
    if values["optimizer"] == "rmsprop" and not spec.HasField("beta2"):
        values["beta2"] = RMSPROP_BETA2
    for field in JOB_FIELDS:
        if not field.via or spec.HasField(field.name):
            check_field(field, values[field.name])
    check_elastic(values, given_target=spec.HasField("workers"))
    config = JobConfig(**values)
    _check_pushes(config)
    _check_strategy(config)
    return config


def check_elastic(values: dict[str, Any], given_target: bool) -> None:
    """An elastic job's bounds (both given, MIN <= MAX) and its target within them (default: MAX); fills
    ``values["workers"]``. Raises RequestError naming what is wrong."""
    low, high = values["min_workers"], values["max_workers"]
    if not low and not high:
        return
    if not (low and high):
        raise RequestError("an elastic job needs both min_workers and max_workers (--workers MIN:MAX)")
    if low > high:
        raise RequestError(f"min_workers ({low}) is above max_workers ({high}) (--workers MIN:MAX)")
    if not given_target:
        values["workers"] = high
    elif not low <= values["workers"] <= high:
        raise RequestError(f"workers ({values['workers']}) must be within min_workers..max_workers ({low}..{high})")
    if values["strategy"] != "gradient" or values["gradient"] != "analytic":
        raise RequestError("only a job of analytic-gradient workers is elastic: leave min_workers and max_workers unset")


def _check_pushes(config: JobConfig) -> None:
    """The step target is a whole number of pushes (of sync steps); numerical jobs push nothing.

    An elastic sync job's steps average the gradients of the workers it has then, so only push_every divides it."""
    per_push = config.push_every * (config.workers if config.mode.kind == "sync" and not config.elastic else 1)
    if config.steps % per_push:
        unit = (f"workers x push_every = {per_push} (a sync step)" if config.mode.kind == "sync"
                else f"push_every = {per_push}")
        raise RequestError(f"steps ({config.steps}) must be a multiple of {unit}: every push counts as whole updates")
    if config.gradient == "numerical" and (config.mode.kind != "async" or config.push_every != 1):
        raise RequestError("a numerical-gradient job runs its steps on the server: consistency and push_every do not apply")
    if config.gradient == "numerical" and config.codec.active:
        raise RequestError("a numerical-gradient job pushes no gradients: compress does not apply")


def _check_strategy(config: JobConfig) -> None:
    """A random search follows no gradient: the fields only a gradient uses keep their defaults."""
    if config.strategy == "gradient":
        return
    fields = [field for field in JOB_FIELDS if field.gradient_only]
    if any(getattr(config, field.name) != field.default for field in fields):
        names = [field.name for field in fields]
        raise RequestError(
            f"strategy {config.strategy} uses no gradient: leave {', '.join(names[:-1])} and {names[-1]} unset"
        )
