"""Assemble and run the server: Ray launcher, registry, runner, both gRPC services and health."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from proto import descent_pb2, descent_pb2_grpc
from server.cluster.data_cache import DataCache
from server.cluster.launcher import RayLauncher
from server.cluster.node_watch import NodeWatch
from server.config import ServerConfig, parse_args
from server.jobs.checkpoints import Checkpointer
from server.jobs.registry import JobRegistry
from server.observe.logs import configure_logging
from server.observe.metrics import ServerMetrics
from server.observe.tensorboard import JobBoard
from server.rpc.admission import Admission
from server.rpc.data_roots import DataRoots
from server.rpc.grpc_server import build_server, enable_reflection
from server.rpc.parameter_servicer import ParameterServicer
from server.rpc.parameter_servicer import add_to_server as add_parameter_service
from server.rpc.shm_lane import host_addresses
from server.rpc.trainer_servicer import TrainerServicer
from server.state.database import StateDirError
from server.training.housekeeping import Housekeeping
from server.training.placement import Scheduler
from server.training.runner import JobRunner
from worker.task.malloc import keep_freed_memory

log = logging.getLogger("descent.server")

State = descent_pb2.JobState

# How often the main thread looks for a stop signal (a signal also cuts the sleep short).
STOP_POLL_S = 0.05


def _reachable_host(host: str, launcher: RayLauncher) -> str:
    """The host Ray workers should dial: this node's IP when listening on every interface."""
    if host in ("0.0.0.0", "::", "[::]", ""):
        return launcher.node_ip()
    return host


def serve(config: ServerConfig) -> int:
    """Run until SIGTERM/SIGINT; then checkpoint and release running jobs, stop serving, shut Ray down."""
    keep_freed_memory()

    try:
        registry = JobRegistry(config.state_dir)
    except (StateDirError, OSError) as exc:
        log.error("cannot use the state directory %s: %s", config.state_dir, exc)
        return 2
    # Ray first, before this process holds any gRPC object: see server.cluster.launcher (a raylet
    # forked while gRPC's poller threads run can die before it execs).
    try:
        launcher = RayLauncher(config.ray_address, config.num_cpus)
    except BaseException:
        registry.retire()
        raise
    # The handler only appends, taking no lock: a Python signal handler runs in the main thread
    # between two bytecodes, so one calling Event.set can deadlock on the lock the main thread
    # holds inside Event.wait. Seen once in 100 starts: SIGTERM right after the announce line,
    # no "shutting down" logged, the server SIGKILLed 60 s later.
    signals: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):  # after ray.init, which installs handlers of its own
        signal.signal(sig, lambda signum, _frame: signals.append(signum))
    housekeeping = metrics_http = None
    node_watch = NodeWatch(launcher.cluster)  # node_joined / node_left lines
    try:
        metrics = None
        if config.metrics_port is not None:
            metrics = ServerMetrics(registry.live_jobs, lambda: [status.state for status in registry.list()])
            try:
                metrics_http = metrics.serve(config.metrics_port, config.host)
            except OSError as exc:
                log.error("cannot serve metrics on %s:%s: %s", config.host, config.metrics_port, exc)
                return 1
            log.info("Prometheus metrics on http://%s:%d/metrics", config.host, config.metrics_port)
        tls = None
        if config.tls_cert is not None and config.tls_key is not None:
            tls = (config.tls_key.read_bytes(), config.tls_cert.read_bytes())
        grpc_server, port = build_server(f"{config.host}:{config.port}", config.token, config.limits, tls, metrics)
        if port == 0:
            log.error("cannot listen on %s:%s", config.host, config.port)
            return 1
        advertise = config.advertise_address or f"{_reachable_host(config.host, launcher)}:{port}"
        checkpointer = Checkpointer(registry, config.checkpoints)
        scheduler = Scheduler(launcher, queue_timeout=config.queue_timeout)
        tls_ca = config.tls_ca.read_bytes() if config.tls_ca is not None else b""
        runner = JobRunner(
            registry, launcher, advertise, checkpointer=checkpointer, scheduler=scheduler,
            stall_timeout=config.stall_timeout, token=config.token, tls_ca=tls_ca, metrics=metrics,
            data_cache=DataCache(launcher, config.data_cache_bytes, config.data_block_bytes),
        )
        trainer = TrainerServicer(registry, runner.start, launcher, admission_for(config, registry))
        descent_pb2_grpc.add_TrainerServicer_to_server(trainer, grpc_server)
        observe_push = metrics.observe_push if metrics is not None else None
        local = host_addresses((advertise.rsplit(":", 1)[0].strip("[]"),))  # workers on this host dial one of these
        add_parameter_service(
            ParameterServicer(registry, config.shared_memory, observe_push, local_addresses=local), grpc_server
        )
        health_servicer = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, grpc_server)
        enable_reflection(grpc_server)
        grpc_server.start()
        health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        housekeeping = Housekeeping(registry, runner, checkpointer, resume=config.resume,
                                    board=JobBoard(config.state_dir / "tensorboard"))
        housekeeping.start()
        node_watch.start()
        log.info("serving on %s:%d (workers reach it at %s), state in %s", config.host, port, advertise, config.state_dir)
        log.info("%s; every call needs the bearer token; data sets are read under %s",
                 "TLS" if config.tls_cert else "plaintext", ", ".join(map(str, config.data_roots)))
        if config.announce:
            print(f"descent-server listening on {config.host}:{port}", flush=True)
        if config.parent_pid is not None:
            threading.Thread(target=_follow_parent, args=(config.parent_pid, signals), name="parent", daemon=True).start()
        while not signals:
            time.sleep(STOP_POLL_S)
        log.info("shutting down: checkpointing running jobs for the next server")
        health_servicer.enter_graceful_shutdown()
        housekeeping.stop()
        _suspend_jobs(registry, runner, checkpointer)
        grpc_server.stop(grace=0.5).wait()
    finally:
        if housekeeping is not None:
            housekeeping.stop()
        if metrics_http is not None:
            metrics_http.shutdown()
        node_watch.stop()
        registry.retire()
        launcher.shutdown()
        registry.close()
    return 0


def admission_for(config: ServerConfig, registry: JobRegistry) -> Admission:
    """Admission control over ``registry``'s jobs with the configured limits and data roots."""
    return Admission(
        config.limits,
        DataRoots(config.data_roots),
        job_dataset=lambda job_id: registry.status(job_id).spec.dataset,
        running_jobs=lambda: sum(not job.terminal for job in registry.live_jobs()),
        running_workers=lambda: sum(job.config.workers for job in registry.live_jobs() if not job.terminal),
    )


def _follow_parent(pid: int, signals: list[int], poll: float = 1.0) -> None:
    """Ask the server to stop once process ``pid`` is gone (an embedded server outliving a killed CLI command)."""
    while not signals:
        time.sleep(poll)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            log.info("process %d is gone: shutting down", pid)
            signals.append(signal.SIGTERM)
        except PermissionError:
            pass


def _suspend_jobs(registry: JobRegistry, runner: JobRunner, checkpointer: Checkpointer) -> None:
    """Stop every unfinished job without ending it and checkpoint it; ``registry.retire`` then frees them."""
    jobs = [job for job in registry.live_jobs() if not job.terminal]
    for job in jobs:
        job.suspend()
    runner.join(timeout=2.0)
    for job in jobs:
        if job.terminal:
            continue
        if job.store is not None and job.store.version > job.checkpoint_version:
            checkpointer.checkpoint(job)
        log.info("job %s: left for the next server at version %d", job.job_id, job.checkpoint_version)


def main(argv: list[str] | None = None) -> int:
    """Run the server; once it has stopped (jobs checkpointed, state closed, Ray's processes
    reaped) end the process at once with ``os._exit``: the interpreter's own teardown waited
    ~0.5 s more on gRPC's and Ray's threads, with nothing left to save."""
    configure_logging("text")  # parse_args may log (a fresh token's file) before the format is known
    config = parse_args(argv)
    configure_logging(config.log_format)
    code = serve(config)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
