"""The gRPC edge, assembled: the server with its pool, interceptors, credentials and reflection,
and the admission control its servicers consult.

Interceptors run in order: the metrics first when the server serves them
(server.rpc.metrics_interceptor: refused calls count too), then the token check (server.rpc.auth),
then the long-call budgets (server.rpc.streams), then the decoding of requests (server.rpc.decoding:
bytes that do not parse are INVALID_ARGUMENT). The port is TLS-only when a certificate and key are
configured, plaintext otherwise.
"""

from __future__ import annotations

from concurrent import futures

import grpc
from grpc_reflection.v1alpha import reflection

from proto import descent_pb2
from proto.limits import GRPC_OPTIONS
from server.rpc.admission import Admission
from server.rpc.auth import TokenInterceptor
from server.config import ServerConfig
from server.rpc.data_roots import DataRoots
from server.rpc.decoding import DecodeErrors
from server.observe.metrics import ServerMetrics
from server.jobs.registry import JobRegistry
from server.rpc.metrics_interceptor import MetricsInterceptor
from server.rpc.streams import StreamBudgets, pool_threads

#: Calls that may wait for a thread beyond those running (more are refused with RESOURCE_EXHAUSTED).
QUEUED_CALLS = 256


def build_server(config: ServerConfig, metrics: ServerMetrics | None = None) -> tuple[grpc.Server, int]:
    """The gRPC server bound to ``config.host:port``; returns it and the port (0 if it could not bind)."""
    threads = pool_threads(config.limits)
    counting = [MetricsInterceptor(metrics)] if metrics is not None else []
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="grpc"),
        interceptors=[*counting, TokenInterceptor(config.token), StreamBudgets(config.limits), DecodeErrors()],
        options=GRPC_OPTIONS,
        maximum_concurrent_rpcs=threads + QUEUED_CALLS,
    )
    address = f"{config.host}:{config.port}"
    try:
        if config.tls_cert is not None and config.tls_key is not None:
            credentials = grpc.ssl_server_credentials([(config.tls_key.read_bytes(), config.tls_cert.read_bytes())])
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


def admission_for(config: ServerConfig, registry: JobRegistry) -> Admission:
    """Admission control over ``registry``'s jobs with the configured limits and data roots."""
    return Admission(
        config.limits,
        DataRoots(config.data_roots),
        job_dataset=lambda job_id: registry.status(job_id).spec.dataset,
        running_jobs=lambda: sum(not job.terminal for job in registry.live_jobs()),
        running_workers=lambda: sum(job.config.workers for job in registry.live_jobs() if not job.terminal),
    )
