"""Click parameter types, help texts and the job options the ``descent`` commands share.

The options of a job's hyperparameters are derived from proto.job_fields, the one table of them."""

from __future__ import annotations

import click
from google.protobuf.descriptor import FieldDescriptor

from proto import descent_pb2
from proto.job_fields import BY_NAME, JOB_FIELDS, RULE_FIELDS, JobField


class WireInt(click.ParamType):
    """An integer that fits its protocol field (int32 or int64); range checks beyond that are the server's."""

    name = "integer"

    def __init__(self, bits: int) -> None:
        self.low, self.high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def convert(self, value, param, ctx):
        number = click.INT.convert(value, param, ctx)
        if not self.low <= number <= self.high:
            self.fail(f"{number} does not fit in the protocol's {self.high.bit_length() + 1}-bit field", param, ctx)
        return number


INT32 = WireInt(32)
INT64 = WireInt(64)


class FloatList(click.ParamType):
    """One float or several separated by commas: ``1e-5`` or ``1e-3,1e-5,1e-7``."""

    name = "float[,float...]"

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        try:
            numbers = [float(part) for part in str(value).split(",") if part.strip()]
        except ValueError:
            self.fail(f"{value!r} is not a comma-separated list of numbers", param, ctx)
        if not numbers:
            self.fail("give at least one number", param, ctx)
        return numbers


FLOATS = FloatList()


class CountOrRange(click.ParamType):
    """``N`` or ``MIN:MAX`` (an elastic job's bounds): an int, or a (MIN, MAX) pair the request splits into
    min_workers and max_workers. Their bounds are the server's to check."""

    name = "N|MIN:MAX"

    def convert(self, value, param, ctx):
        if isinstance(value, (int, tuple)):
            return value
        parts = str(value).split(":")
        if len(parts) > 2 or not all(part.strip().isdigit() for part in parts):
            self.fail(f"{value!r} is neither a number N nor a range MIN:MAX of whole numbers", param, ctx)
        numbers = tuple(INT32.convert(part, param, ctx) for part in parts)
        return numbers[0] if len(numbers) == 1 else numbers


COUNT_OR_RANGE = CountOrRange()


def _wire_type(field: JobField):
    """The click type of ``field``'s values: a choice, an integer that fits its protocol field, a float or text."""
    if field.choices:
        return click.Choice(field.choices)
    if any(other.via == field.name for other in JOB_FIELDS):
        return COUNT_OR_RANGE
    if field.kind is int:
        wide = descent_pb2.JobSpec.DESCRIPTOR.fields_by_name[field.name].type == FieldDescriptor.TYPE_INT64
        return INT64 if wide else INT32
    return {float: float, str: str}[field.kind]


def _default_text(field: JobField) -> str:
    if field.kind is bool:
        return "on" if field.default else "off"
    return str(field.default)


def job_option(field: JobField, **overrides):
    """The click option of one JobSpec field (proto.job_fields): unset unless given, so the server's default applies."""
    if field.kind is bool:
        flag = field.flag[2:]
        decls, kwargs = [f"--{flag}/--no-{flag}"], {"default": None}
    else:
        decls, kwargs = [field.flag], {"type": _wire_type(field), "metavar": field.metavar}
    kwargs["help"] = f"{field.help}  [server default: {_default_text(field)}]"
    kwargs.update(overrides)
    return click.option(*decls, field.name, **kwargs)


def job_options(*names: str):
    """Add the options of these JobSpec fields (all of them when none is named) to a click command."""
    fields = [BY_NAME[name] for name in names] if names else [field for field in JOB_FIELDS if not field.via]

    def decorate(command):
        for field in reversed(fields):
            command = job_option(field)(command)
        return command

    return decorate


def update_rule_options(command):
    """Add the update rule's options (--optimizer, --momentum, ..., --lr-schedule) to a click command."""
    return job_options(*RULE_FIELDS)(command)


def source_options(job_help: str, seed_help: str):
    """--dataset, --job, --seed, --reg and --init-scale: what an analysis looks at (the server's Source),
    with the job fields' types (proto.job_fields)."""
    options = (
        job_option(BY_NAME["dataset"]),
        click.option("--job", "job_id", metavar="JOB", help=job_help),
        job_option(BY_NAME["seed"], help=f"{seed_help}  [server default: 0]"),
        job_option(BY_NAME["reg"], help="L2 regularization strength.  [server default: 1e-05; the job's with --job]"),
        job_option(BY_NAME["init_scale"], help="Random W = init_scale * randn.  [server default: 0.001]"),
    )

    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command

    return decorate
