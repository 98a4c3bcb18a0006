"""Requests whose bytes do not parse: INVALID_ARGUMENT naming the message type, not gRPC's INTERNAL.

gRPC Python decodes a request with the method's deserializer before any servicer code runs;
when that raises (corrupt wire format, a string field with bad UTF-8, ...) it ends the call
with INTERNAL "Exception deserializing request!" and logs a traceback per call. A client
that sent bad bytes made a bad request, so this interceptor wraps the deserializer of every
descent method: an undecodable request becomes a ``Malformed`` value, and the call ends with
INVALID_ARGUMENT before the servicer sees it (unary requests), or the servicer's request
iterator raises RequestError, which the servicer's error table turns into INVALID_ARGUMENT
(request streams, e.g. PushStream: the messages before it were valid and were handled).
"""

from __future__ import annotations

import grpc

from server.errors import RequestError, shorten
from server.rpc.method_handlers import behavior, rebuild

#: Only descent's own services: health and reflection keep gRPC's own handling.
PREFIX = "/descent.v1."

class Malformed:
    """A request whose bytes did not decode, and why."""

    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason


def _message(method: str, malformed: Malformed) -> str:
    return shorten(f"the request to {method.rsplit('/', 1)[-1]} is not a valid protobuf message: {malformed.reason}")


class DecodeErrors(grpc.ServerInterceptor):
    """Undecodable requests to descent's methods end with INVALID_ARGUMENT (see the module docstring)."""

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or handler.request_deserializer is None or not method.startswith(PREFIX):
            return handler
        decode = handler.request_deserializer

        def safe_decode(data):
            try:
                return decode(data)
            except Exception as exc:  # DecodeError, UnicodeDecodeError, a custom decoder's ValueError
                return Malformed(f"{type(exc).__name__}: {exc}")

        run = behavior(handler)
        if handler.request_streaming:

            def checked(requests):
                for request in requests:
                    if isinstance(request, Malformed):
                        raise RequestError(_message(method, request))
                    yield request

            def wrapped(request_iterator, context):
                return run(checked(request_iterator), context)

        else:

            def wrapped(request, context):
                if isinstance(request, Malformed):
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, _message(method, request))
                return run(request, context)

        return rebuild(handler, wrapped, request_deserializer=safe_decode)
