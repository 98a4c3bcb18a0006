"""The server's own interceptors around every call, and the one table of method-handler kinds
they rebuild handlers with.

- ``MetricsInterceptor`` (runs first, when the server serves metrics, so refused calls count):
  every call is counted by method and final status code. The two push methods are also timed
  per push: wall and thread-CPU seconds from the moment the servicer has the request to the
  moment its reply is handed back (for ``PushStream``, per message of the stream; pushes on a
  shared-memory lane bypass gRPC and are timed by server.rpc.shm_lane the same way), and a push
  that ends in an error is counted as refused with the code as its reason. It runs first, before
  the token check, so refused calls are counted too.
- ``DecodeErrors`` (runs last, after the token check and the long-call budgets):
  gRPC Python decodes a request with the method's deserializer before any servicer code runs;
  when that raises (corrupt wire format, a string field with bad UTF-8, ...) it ends the call
  with INTERNAL "Exception deserializing request!" and logs a traceback per call. A client
  that sent bad bytes made a bad request, so this interceptor wraps the deserializer of every
  descent method: an undecodable request becomes a ``Malformed`` value, and the call ends with
  INVALID_ARGUMENT before the servicer sees it (unary requests), or the servicer's request
  iterator raises RequestError, which the servicer's error table turns into INVALID_ARGUMENT
  (request streams, e.g. PushStream: the messages before it were valid and were handled).

Each replaces a method's behaviour with a wrapper and rebuilds a handler of the same kind
(unary or streaming on each side) with the same serializers (``behavior``, ``rebuild``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import grpc

from server.errors import RequestError, shorten
from server.observe.metrics import ServerMetrics

_KINDS = {
    (False, False): (grpc.unary_unary_rpc_method_handler, "unary_unary"),
    (False, True): (grpc.unary_stream_rpc_method_handler, "unary_stream"),
    (True, False): (grpc.stream_unary_rpc_method_handler, "stream_unary"),
    (True, True): (grpc.stream_stream_rpc_method_handler, "stream_stream"),
}


def behavior(handler: grpc.RpcMethodHandler) -> Callable:
    """The handler's servicer function, whatever its kind."""
    return getattr(handler, _KINDS[(handler.request_streaming, handler.response_streaming)][1])


def rebuild(handler: grpc.RpcMethodHandler, wrapped: Callable, request_deserializer=None) -> grpc.RpcMethodHandler:
    """A handler of ``handler``'s kind running ``wrapped``, with its serializers (or this deserializer)."""
    make = _KINDS[(handler.request_streaming, handler.response_streaming)][0]
    return make(
        wrapped,
        request_deserializer=request_deserializer or handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


# Requests whose bytes do not parse: INVALID_ARGUMENT naming the message type.

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


# Every call counted by method and code; pushes timed.

PUSH_METHODS = frozenset({"/descent.v1.ParameterServer/Push", "/descent.v1.ParameterServer/PushStream"})

def _code_name(context: grpc.ServicerContext, failed: bool, cancelled: bool = False) -> str:
    code = context.code()
    if code is None:
        return "CANCELLED" if cancelled else "UNKNOWN" if failed else "OK"
    return code.name if isinstance(code, grpc.StatusCode) else str(code)


class MetricsInterceptor(grpc.ServerInterceptor):
    """Counts RPCs by method and code; times pushes and counts refused ones."""

    def __init__(self, metrics: ServerMetrics):
        self._metrics = metrics

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        push = method in PUSH_METHODS
        run = behavior(handler)
        wrapped = self._wrap_streaming(run, method, push) if handler.response_streaming else self._wrap_unary(run, method, push)
        return rebuild(handler, wrapped)

    def _finish(self, method: str, push: bool, context, failed: bool, cancelled: bool = False) -> None:
        code = _code_name(context, failed, cancelled)
        self._metrics.rpcs.labels(method, code).inc()
        if push and code != "OK":
            self._metrics.refused.labels(code.lower()).inc()

    def _observe_push(self, wall0: float, cpu0: float) -> None:
        self._metrics.observe_push(time.perf_counter() - wall0, time.thread_time() - cpu0)

    def _wrap_unary(self, behavior, method: str, push: bool):
        def call(request, context):
            wall0, cpu0, failed = time.perf_counter(), time.thread_time(), True
            try:
                reply = behavior(request, context)
                failed = False
                return reply
            finally:
                if push and not failed and _code_name(context, False) == "OK":
                    self._observe_push(wall0, cpu0)
                self._finish(method, push, context, failed)

        return call

    def _wrap_streaming(self, behavior, method: str, push: bool):
        def call(request, context):
            marks = [0.0, 0.0]
            if push and not hasattr(request, "DESCRIPTOR"):  # a request stream: time each message
                request = _timed(request, marks)
            failed, cancelled = True, False
            try:
                for reply in behavior(request, context):
                    if push and marks[0]:
                        self._observe_push(*marks)
                        marks[0] = 0.0
                    yield reply
                failed = False
            except GeneratorExit:  # the client went away (or the server is stopping)
                cancelled = True
                raise
            finally:
                self._finish(method, push, context, failed, cancelled)

        return call


def _timed(requests, marks: list[float]):
    """Yield ``requests``, noting in ``marks`` the wall and thread-CPU clock as each gradient arrives."""
    for request in requests:
        if request.HasField("gradient"):
            marks[0], marks[1] = time.perf_counter(), time.thread_time()
        yield request
