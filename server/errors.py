"""Domain errors and the one table that maps exceptions to gRPC status codes.

Servicers never build status codes themselves: they let these exceptions
propagate to ``status_for``. A bad request is a ``RequestError`` (raised at the
edge by ``server.fields`` and the modules that check what a request names):
INVALID_ARGUMENT. Anything not in the table — a ``ValueError`` from a bug
included — is INTERNAL: logged with its traceback under a request id that the
client sees in the message.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable

import grpc

log = logging.getLogger(__name__)

#: Longest status message sent to a client (a message must fit gRPC's metadata limit).
MAX_MESSAGE_CHARS = 2000


class RequestError(ValueError):
    """The request itself is bad: a field out of range, a malformed spec, a bad tensor (INVALID_ARGUMENT)."""


class JobNotFound(LookupError):
    """No job with that id, in memory or in the state directory."""


class JobNotActive(RuntimeError):
    """The job exists but is not in a state that allows the request."""


class ResourcesExhausted(RuntimeError):
    """The server or cluster cannot host what was asked for (a limit, or more workers than CPUs)."""


class PermissionDenied(PermissionError):
    """The caller may not do this: a path outside the data roots, a worker the job did not place."""


class StorageUnavailable(RuntimeError):
    """The state directory cannot record a change now (a full disk, say); nothing was changed."""


class Cancelled(RuntimeError):
    """The work was stopped before it finished (the client went away, or a job was cancelled)."""


# Order matters: the first matching class wins (subclasses before their bases).
_STATUS_TABLE: list[tuple[type[BaseException], grpc.StatusCode]] = [
    (RequestError, grpc.StatusCode.INVALID_ARGUMENT),
    (JobNotFound, grpc.StatusCode.NOT_FOUND),
    (FileNotFoundError, grpc.StatusCode.NOT_FOUND),
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (JobNotActive, grpc.StatusCode.FAILED_PRECONDITION),
    (ResourcesExhausted, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (Cancelled, grpc.StatusCode.CANCELLED),
    (StorageUnavailable, grpc.StatusCode.UNAVAILABLE),
]


def shorten(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


def status_for(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """Return the gRPC status code and (shortened) message for ``exc`` (INTERNAL if unmapped)."""
    for cls, code in _STATUS_TABLE:
        if isinstance(exc, cls):
            return code, shorten(str(exc) or cls.__name__)
    return grpc.StatusCode.INTERNAL, shorten(f"{type(exc).__name__}: {exc}")


def abort(context: grpc.ServicerContext, exc: BaseException, where: str) -> None:
    """End the call with the status of ``exc``; an INTERNAL one is logged with a request id first."""
    code, message = status_for(exc)
    if code == grpc.StatusCode.INTERNAL:
        request_id = uuid.uuid4().hex[:12]
        log.error("internal error in %s (request id %s)", where, request_id, exc_info=exc)
        message = f"internal error (request id {request_id}; the server log has the traceback): {message}"
    context.abort(code, shorten(message))


def grpc_errors(method: Callable) -> Callable:
    """Decorate a unary servicer method: the request's fields are checked, exceptions become statuses."""
    from server.fields import check_request  # fields raises RequestError from this module

    @functools.wraps(method)
    def wrapper(self, request, context):
        try:
            check_request(request)
            return method(self, request, context)
        except Exception as exc:
            abort(context, exc, method.__name__)

    return wrapper


def grpc_stream_errors(method: Callable) -> Callable:
    """Like ``grpc_errors`` for a streaming method (a generator); a request stream's messages are
    checked by the method itself."""
    from server.fields import check_request

    @functools.wraps(method)
    def wrapper(self, request, context):
        try:
            if hasattr(request, "DESCRIPTOR"):
                check_request(request)
            yield from method(self, request, context)
        except Exception as exc:
            if isinstance(exc, grpc.RpcError) and not context.is_active():
                context.set_code(grpc.StatusCode.CANCELLED)  # for the metrics: the call did not end OK
                return  # it ended under it (the client left, the server is stopping): nothing to answer
            abort(context, exc, method.__name__)

    return wrapper
