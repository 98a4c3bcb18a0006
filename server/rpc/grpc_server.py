"""The gRPC edge, assembled: the server with its pool, interceptors, credentials and reflection.

Interceptors run in order: the metrics first when the server serves them
(server.rpc.interceptors: refused calls count too), then the token check (server.rpc.auth),
then the long-call budgets (server.rpc.streams), then the decoding of requests (server.rpc.interceptors:
bytes that do not parse are INVALID_ARGUMENT). The port is TLS-only when a certificate and key are
configured, plaintext otherwise.
"""

from __future__ import annotations

from concurrent import futures

import grpc
from grpc_reflection.v1alpha import reflection

from proto import descent_pb2
from proto.limits import GRPC_OPTIONS
from server.limits import Limits
from server.observe.metrics import ServerMetrics
from server.rpc.auth import TokenInterceptor
from server.rpc.interceptors import DecodeErrors, MetricsInterceptor
from server.rpc.streams import StreamBudgets, pool_threads

#: Calls that may wait for a thread beyond those running (more are refused with RESOURCE_EXHAUSTED).
QUEUED_CALLS = 256


def build_server(
    address: str, token: str, limits: Limits, tls: tuple[bytes, bytes] | None = None,
    metrics: ServerMetrics | None = None,
) -> tuple[grpc.Server, int]:
    """The gRPC server bound to ``address`` (HOST:PORT), TLS-only when ``tls`` is (key, certificate)
    PEM bytes; returns it and the port (0 if it could not bind)."""
    threads = pool_threads(limits)
    counting = [MetricsInterceptor(metrics)] if metrics is not None else []
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="grpc"),
        interceptors=[*counting, TokenInterceptor(token), StreamBudgets(limits), DecodeErrors()],
        options=GRPC_OPTIONS,
        maximum_concurrent_rpcs=threads + QUEUED_CALLS,
    )
    try:
        if tls is not None:
            credentials = grpc.ssl_server_credentials([tls])
            port = server.add_secure_port(address, credentials)
        else:
            port = server.add_insecure_port(address)
    except RuntimeError:
        port = 0
    return server, port


def enable_reflection(server: grpc.Server) -> None:
    """Serve gRPC reflection (behind the token like everything else), so grpcurl can list and call methods."""
    names = [service.full_name for service in descent_pb2.DESCRIPTOR.services_by_name.values()]
    reflection.enable_server_reflection([*names, "grpc.health.v1.Health", reflection.SERVICE_NAME], server)
