"""The one table that maps the server's domain errors to gRPC status codes, and the decorators
that end a servicer's call with the status of what it raised.

Servicers never build status codes themselves: they let exceptions propagate to
``status_for``. A ``RequestError`` is INVALID_ARGUMENT; anything not in the table — a
``ValueError`` from a bug included — is INTERNAL: logged with its traceback under a request
id that the client sees in the message.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable

import grpc

from server.errors import (
    Cancelled,
    JobNotActive,
    JobNotFound,
    PermissionDenied,
    RequestError,
    ResourcesExhausted,
    StorageUnavailable,
    shorten,
)
from server.fields import check_request

log = logging.getLogger(__name__)


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
