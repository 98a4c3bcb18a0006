"""Long calls in bounded pools, so control calls and the health check always find a thread.

The synchronous gRPC server runs every call on one thread of its pool for the call's
whole length. A WatchJob, GetWeights, ExportModel, gradient check, sweep, evaluation,
health Watch or reflection stream can last minutes, a worker's PushStream a whole job:
without a bound, enough of them take every thread and GetJob, CancelJob and the health
check wait forever. Here they are counted in two budgets — client long calls and worker
streams — and one past its budget is refused at once with RESOURCE_EXHAUSTED. The pool
is sized as both budgets plus CONTROL_THREADS, so unary control calls always have
threads of their own.

A call also ends under its handler when the client cancels it, its deadline passes or its
connection drops: ``caller_gone`` is then true, and an analysis given it as its ``should_stop``
cancels its Ray tasks at its next look (server.cluster.launcher looks every half second);
``client_of`` names the caller for its per-client analysis slots.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import grpc

from server.limits import FLAGS, Limits

#: Threads beyond the long-call budgets: unary control calls (GetJob, ListJobs, CancelJob,
#: SubmitJob, ClusterInfo, Pull, Push) and the health check run on these.
CONTROL_THREADS = 16

CLIENT_LONG_CALLS = frozenset({
    "/descent.v1.Trainer/WatchJob",
    "/descent.v1.Trainer/GetWeights",
    "/descent.v1.Trainer/GradientCheck",
    "/descent.v1.Trainer/GradientCheckStream",
    "/descent.v1.Trainer/StepSizeSweep",
    "/descent.v1.Trainer/ExportModel",
    "/descent.v1.Trainer/Evaluate",
    "/descent.v1.Trainer/Minibatch",
    "/descent.v1.Trainer/Landscape",
    "/grpc.health.v1.Health/Watch",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
})
WORKER_LONG_CALLS = frozenset({"/descent.v1.ParameterServer/PushStream"})


def pool_threads(limits: Limits) -> int:
    """Threads of the server's pool: both budgets and the control threads."""
    return limits.client_streams + limits.worker_streams + CONTROL_THREADS


class _Budget:
    def __init__(self, size: int, limit: str):
        self._slots = threading.BoundedSemaphore(size)
        self._message = (
            f"the server is running its limit of {size} such calls at once; try again later "
            f"({FLAGS[limit]} on `descent serve` raises it)"
        )

    def take(self, context: grpc.ServicerContext) -> Callable[[], None]:
        """Take a slot or end the call with RESOURCE_EXHAUSTED; return the (idempotent) release."""
        if not self._slots.acquire(blocking=False):
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, self._message)
        lock, released = threading.Lock(), []

        def release() -> None:
            with lock:
                if not released:
                    released.append(True)
                    self._slots.release()

        context.add_callback(release)  # runs when the call ends, however it ends
        return release


def _bounded(handler: grpc.RpcMethodHandler, budget: _Budget) -> grpc.RpcMethodHandler:
    if handler.response_streaming:
        behavior = handler.unary_stream or handler.stream_stream

        def run_stream(request, context):
            release = budget.take(context)
            try:
                yield from behavior(request, context)
            finally:
                release()

        make = grpc.stream_stream_rpc_method_handler if handler.request_streaming else grpc.unary_stream_rpc_method_handler
        return make(run_stream, handler.request_deserializer, handler.response_serializer)
    behavior = handler.unary_unary or handler.stream_unary

    def run_unary(request, context):
        release = budget.take(context)
        try:
            return behavior(request, context)
        finally:
            release()

    make = grpc.stream_unary_rpc_method_handler if handler.request_streaming else grpc.unary_unary_rpc_method_handler
    return make(run_unary, handler.request_deserializer, handler.response_serializer)


class StreamBudgets(grpc.ServerInterceptor):
    """Counts long calls against their budget (see the module docstring)."""

    def __init__(self, limits: Limits):
        self._client = _Budget(limits.client_streams, "client_streams")
        self._worker = _Budget(limits.worker_streams, "worker_streams")

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None:
            return None
        if method in CLIENT_LONG_CALLS:
            return _bounded(handler, self._client)
        if method in WORKER_LONG_CALLS:
            return _bounded(handler, self._worker)
        return handler


def client_of(context: grpc.ServicerContext) -> str:
    """The caller's address without its port (``ipv4:10.0.0.2``, ``ipv6:[::1]``), the key of its analysis slots."""
    peer = context.peer() or ""
    return peer.rsplit(":", 1)[0] if peer.startswith(("ipv4:", "ipv6:")) else peer


def caller_gone(context: grpc.ServicerContext) -> Callable[[], bool]:
    """A ``should_stop`` for work done for this call: true once the call has ended or its deadline has passed."""
    ended = threading.Event()
    context.add_callback(ended.set)  # runs when the call ends, however it ends

    def gone() -> bool:
        remaining = context.time_remaining()
        return ended.is_set() or not context.is_active() or (remaining is not None and remaining <= 0)

    return gone
