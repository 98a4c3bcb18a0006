"""Click parameter types and help texts the ``descent`` commands share."""

from __future__ import annotations

import click


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
DATASET_HELP = "digits | mnist:DIR | cifar10:DIR | npz:FILE | synthetic:N,D,C (DIR/FILE on the server)  [server default: digits]"

#: The update-rule options of ``train`` and ``tune`` (checked by the server, which knows its rules).
_UPDATE_RULE_OPTIONS = (
    click.option(
        "--optimizer", metavar="NAME",
        help="Update rule at the parameter server: sgd | momentum | nesterov | adagrad | rmsprop | adam.  "
        "[server default: sgd]",
    ),
    click.option("--momentum", type=float, help="mu of momentum and nesterov, in [0, 1).  [server default: 0.9]"),
    click.option("--beta1", type=float, help="Adam's first-moment decay, in [0, 1).  [server default: 0.9]"),
    click.option(
        "--beta2", type=float,
        help="Adam's second-moment decay / RMSprop's cache decay, in [0, 1).  [server default: 0.999 / 0.99]",
    ),
    click.option("--eps", type=float, help="adagrad, rmsprop, adam: added to the root of the cache.  [server default: 1e-8]"),
    click.option(
        "--lr-schedule", metavar="SCHEDULE",
        help="constant | step:EVERY,FACTOR | cosine | exp:RATE (lr * e^(-RATE * step)).  [server default: constant]",
    ),
)


def update_rule_options(command):
    """Add --optimizer, --momentum, --beta1, --beta2, --eps and --lr-schedule to a click command."""
    for option in reversed(_UPDATE_RULE_OPTIONS):
        command = option(command)
    return command
