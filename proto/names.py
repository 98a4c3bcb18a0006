"""The names of the protocol's enums, in one place: what the CLI takes, the JSON output prints and
the server reads for each value of ``Formula`` and ``NumgradMethod`` (UNSPECIFIED means the
default), and a job state's name."""

from __future__ import annotations

from proto import descent_pb2

#: Formula name → enum value, and every enum value the server accepts → its name.
FORMULA_VALUES = {"centered": descent_pb2.CENTERED, "forward": descent_pb2.FORWARD}
FORMULA_NAMES = {descent_pb2.FORMULA_UNSPECIFIED: "centered", **{v: k for k, v in FORMULA_VALUES.items()}}
#: Numerical-gradient method name → enum value, and back.
METHOD_VALUES = {"incremental": descent_pb2.INCREMENTAL, "brute": descent_pb2.BRUTE}
METHOD_NAMES = {descent_pb2.NUMGRAD_METHOD_UNSPECIFIED: "incremental", **{v: k for k, v in METHOD_VALUES.items()}}


def state_name(state: int) -> str:
    """``SUCCEEDED`` for descent_pb2.SUCCEEDED (a value this protocol does not know: its number)."""
    try:
        return descent_pb2.JobState.Name(state)
    except ValueError:
        return str(state)
