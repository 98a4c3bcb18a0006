"""Authentication at the gRPC edge: every call carries ``authorization: Bearer <token>``.

A server interceptor compares the header with the configured token in constant time
(``hmac.compare_digest``) and answers UNAUTHENTICATED without looking at the request
(it is not even decoded). The health service stays open for load balancers and
container healthchecks; everything else — Trainer, ParameterServer, reflection — needs
the token.
"""

from __future__ import annotations

import hmac

import grpc

#: Methods anyone may call: the standard health checks.
OPEN_METHODS = frozenset({"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"})


def denying_handler(handler: grpc.RpcMethodHandler | None, code: grpc.StatusCode, message: str) -> grpc.RpcMethodHandler:
    """A handler of the same kind as ``handler`` that ends every call with ``code`` before reading the request."""

    def deny(_request, context):
        context.abort(code, message)

    streaming = (handler.request_streaming, handler.response_streaming) if handler is not None else (False, False)
    make = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }[streaming]
    return make(deny)  # no deserializer: the request's bytes are never parsed


class TokenInterceptor(grpc.ServerInterceptor):
    """UNAUTHENTICATED unless the call's metadata holds ``authorization: Bearer <token>``."""

    def __init__(self, token: str, open_methods: frozenset[str] = OPEN_METHODS):
        if not token:
            raise ValueError("an empty token would let anyone in")
        self._expected = f"Bearer {token}".encode()
        self._open = open_methods

    def intercept_service(self, continuation, handler_call_details):
        if handler_call_details.method in self._open:
            return continuation(handler_call_details)
        given = b""
        for key, value in handler_call_details.invocation_metadata or ():
            if key == "authorization":
                given = value.encode("utf-8", "replace") if isinstance(value, str) else bytes(value)
                break
        if hmac.compare_digest(given, self._expected):
            return continuation(handler_call_details)
        why = "missing bearer token" if not given else "wrong bearer token"
        return denying_handler(
            continuation(handler_call_details),
            grpc.StatusCode.UNAUTHENTICATED,
            f"{why}: send `authorization: Bearer <token>` (the CLI reads DESCENT_TOKEN or --token-file)",
        )
