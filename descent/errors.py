"""The API's exceptions: one class per status code, with the code and message the CLI prints.

Every failure of a call is a ``DescentError`` (a ``client.errors.CommandError``, so the CLI
reports it as ``error: CODE: details``); its subclass names the gRPC status code, and
``details`` is the server's own message::

    try:
        session.train(dataset="digits", lr=-1)
    except descent.InvalidArgument as error:
        print(error.code, error.details)   # INVALID_ARGUMENT lr must be > 0 ...
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from client.errors import CommandError


class DescentError(CommandError):
    """A call failed: ``code`` is the status name (``INVALID_ARGUMENT``, ...), ``details`` says why."""

    code_name = "ERROR"

    def __init__(self, details: str, code: str | None = None) -> None:
        super().__init__(code or self.code_name, details)


class InvalidArgument(DescentError):
    """A request the server refuses as malformed (a bad hyperparameter, an unknown data set spec)."""

    code_name = "INVALID_ARGUMENT"


class NotFound(DescentError):
    """No such job (or file)."""

    code_name = "NOT_FOUND"


class AlreadyExists(DescentError):
    code_name = "ALREADY_EXISTS"


class PermissionDenied(DescentError):
    """Not allowed: a data set path outside the server's data roots, say."""

    code_name = "PERMISSION_DENIED"


class Unauthenticated(DescentError):
    """No token, or the wrong one."""

    code_name = "UNAUTHENTICATED"


class ResourceExhausted(DescentError):
    """A request that would cost more than the server's limits."""

    code_name = "RESOURCE_EXHAUSTED"


class FailedPrecondition(DescentError):
    """The job is not in a state that allows it (not SUCCEEDED yet, say)."""

    code_name = "FAILED_PRECONDITION"


class Aborted(DescentError):
    code_name = "ABORTED"


class OutOfRange(DescentError):
    code_name = "OUT_OF_RANGE"


class Unimplemented(DescentError):
    code_name = "UNIMPLEMENTED"


class Internal(DescentError):
    code_name = "INTERNAL"


class Unavailable(DescentError):
    """No server answers (or the local one would not start)."""

    code_name = "UNAVAILABLE"


class DataLoss(DescentError):
    code_name = "DATA_LOSS"


class DeadlineExceeded(DescentError):
    code_name = "DEADLINE_EXCEEDED"


class Cancelled(DescentError):
    """A call, or a job waited on, was cancelled."""

    code_name = "CANCELLED"


class Unknown(DescentError):
    """The server failed in a way it did not name."""

    code_name = "UNKNOWN"


class JobFailed(DescentError):
    """A job waited on ended FAILED; ``details`` is the job's own message."""

    code_name = "FAILED"


BY_CODE: dict[str, type[DescentError]] = {
    cls.code_name: cls
    for cls in (InvalidArgument, NotFound, AlreadyExists, PermissionDenied, Unauthenticated, ResourceExhausted,
                FailedPrecondition, Aborted, OutOfRange, Unimplemented, Internal, Unavailable, DataLoss,
                DeadlineExceeded, Cancelled, Unknown, JobFailed)
}


def as_descent_error(error: CommandError) -> DescentError:
    """The API's exception for a client failure: the class of its code (DescentError itself for an unknown one)."""
    if isinstance(error, DescentError):
        return error
    return BY_CODE.get(error.code, DescentError)(error.details, error.code)


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Raise a client failure (``CommandError``) or a local ``ValueError`` as the API's exception."""
    try:
        yield
    except DescentError:
        raise
    except CommandError as error:
        raise as_descent_error(error) from None
    except ValueError as error:
        raise InvalidArgument(str(error)) from None
