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
