"""A gRPC server interceptor that records RPCs in the server's metrics (server.observe.metrics).

Every call is counted by method and final status code. The two push methods are also timed
per push: wall and thread-CPU seconds from the moment the servicer has the request to the
moment its reply is handed back (for ``PushStream``, per message of the stream; pushes on a
shared-memory lane bypass gRPC and are timed by server.rpc.shm_lane the same way), and a push
that ends in an error is counted as refused with the code as its reason. It runs first, before
the token check, so refused calls are counted too.
"""

from __future__ import annotations

import time

import grpc

from server.rpc.method_handlers import behavior, rebuild
from server.observe.metrics import ServerMetrics

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
