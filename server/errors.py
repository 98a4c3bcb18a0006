"""Domain errors and the one table that maps exceptions to gRPC status codes.

Servicers never build status codes themselves: they let these exceptions (or
ValueError/FileNotFoundError from the math and data layers) propagate to
``status_for``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

import grpc

log = logging.getLogger(__name__)


class JobNotFound(LookupError):
    """No job with that id, in memory or in the state directory."""


class JobNotActive(RuntimeError):
    """The job exists but is not in a state that allows the request."""


class ResourcesExhausted(RuntimeError):
    """The cluster cannot host what was asked for (e.g. more workers than CPUs)."""


class StorageUnavailable(RuntimeError):
    """The state directory cannot record a change now (a full disk, say); nothing was changed."""


class Cancelled(RuntimeError):
    """The work was stopped before it finished (the client went away, or a job was cancelled)."""


# Order matters: the first matching class wins (subclasses before their bases).
_STATUS_TABLE: list[tuple[type[BaseException], grpc.StatusCode]] = [
    (JobNotFound, grpc.StatusCode.NOT_FOUND),
    (FileNotFoundError, grpc.StatusCode.NOT_FOUND),
    (JobNotActive, grpc.StatusCode.FAILED_PRECONDITION),
    (ResourcesExhausted, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (Cancelled, grpc.StatusCode.CANCELLED),
    (StorageUnavailable, grpc.StatusCode.UNAVAILABLE),
    (ValueError, grpc.StatusCode.INVALID_ARGUMENT),
    (TypeError, grpc.StatusCode.INVALID_ARGUMENT),
]


def status_for(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """Return the gRPC status code and message for ``exc`` (INTERNAL if unmapped)."""
    for cls, code in _STATUS_TABLE:
        if isinstance(exc, cls):
            return code, str(exc) or cls.__name__
    return grpc.StatusCode.INTERNAL, f"{type(exc).__name__}: {exc}"



def _abort(context: grpc.ServicerContext, exc: Exception, where: str) -> None:
    code, message = status_for(exc)
    if code == grpc.StatusCode.INTERNAL:
        log.exception("unexpected error in %s", where)
    context.abort(code, message)


def grpc_errors(method: Callable) -> Callable:
    """Decorate a unary servicer method: exceptions become ``context.abort(code, message)``."""

    @functools.wraps(method)
    def wrapper(self, request, context):
        try:
            return method(self, request, context)
        except Exception as exc:
            _abort(context, exc, method.__name__)

    return wrapper


def grpc_stream_errors(method: Callable) -> Callable:
    """Like ``grpc_errors`` for a server-streaming method (a generator)."""

    @functools.wraps(method)
    def wrapper(self, request, context):
        try:
            yield from method(self, request, context)
        except Exception as exc:
            _abort(context, exc, method.__name__)

    return wrapper
