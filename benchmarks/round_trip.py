"""One PushStream round trip through the real ParameterServicer vs a raw gRPC bytes echo (benchmarks/ps_cost.py).

A server subprocess holds one RUNNING job with a real store and a raw echo method, with the
same gRPC options. The client steps lock-step (send one request, wait for its reply) on
the bytes path, on the echo (same byte counts) and on the shared-memory lane (the
worker's own wire, worker.task.wire).
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from concurrent import futures

import grpc
import numpy as np

from benchmarks.served import process_cpu
from proto import descent_pb2, lifted
from proto.limits import GRPC_OPTIONS
from proto.wire import parameters_bytes, passthrough, push_request_bytes
from server.jobs.spec import JobConfig
from server.params.store import ParameterStore
from worker.task.malloc import keep_freed_memory

FIELDS = dict(job_id="job", worker_id="job-w0", node_id="node", loss=1.0, version=0, secret="s" * 32, updates=1)


class _OneJob:
    """Stands in for the job registry in the round-trip server: one RUNNING job with a real store."""

    def __init__(self, shape):
        from server.jobs.job import Job

        self.job = Job("job", JobConfig(), state=descent_pb2.RUNNING)
        self.job.store = ParameterStore(np.zeros(shape, np.float32), lr=1e-9, target_steps=10**12)
        self.secret = self.job.store.enroll("job-w0")

    def live(self, job_id):
        return self.job if job_id == "job" else None


def _echo(request_iterator, context):
    """Raw bytes echo: answer each request with ``reply_bytes`` bytes (W's size)."""
    size = int(dict(context.invocation_metadata()).get("reply-bytes", "0"))
    reply = b"\0" * size
    for _ in request_iterator:
        yield reply


def _serve(shape, conn) -> None:
    from server.rpc.parameter_servicer import ParameterServicer, add_to_server

    keep_freed_memory()
    jobs = _OneJob(shape)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=GRPC_OPTIONS)
    add_to_server(ParameterServicer(jobs), server)
    echo = grpc.stream_stream_rpc_method_handler(_echo, request_deserializer=None, response_serializer=None)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("bench.Echo", {"Echo": echo}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    conn.send((port, jobs.secret))
    conn.recv()  # until told to stop
    server.stop(0)


def _steps(call, requests, steps: int) -> float:
    """Seconds per step of a lock-step stream: send one request, wait for its reply."""
    import queue

    outbox = queue.SimpleQueue()

    def gen():
        while (item := outbox.get()) is not None:
            yield item

    replies = call(gen())
    outbox.put(requests[0])
    next(replies)
    start = time.perf_counter()
    for _ in range(steps):
        outbox.put(requests[1])
        next(replies)
    elapsed = time.perf_counter() - start
    outbox.put(None)  # half-close; the server ends the call
    for _ in replies:
        pass
    return elapsed / steps


def _lane_steps(call, grad: np.ndarray, fields: dict, steps: int) -> float:
    """Seconds per lock-step round trip on the shared-memory lane (the worker's own wire)."""
    import queue

    from worker.task.wire import Update, open_wire

    outbox = queue.SimpleQueue()

    def gen():
        while (item := outbox.get()) is not None:
            yield item

    ident = {k: fields[k] for k in ("job_id", "worker_id", "node_id", "secret")}
    replies = call(gen())
    outbox.put(descent_pb2.PushRequest(shared_memory=True, **ident).SerializeToString())
    wire, current = open_wire(outbox, replies, ident)
    if not wire.shared_memory:
        raise RuntimeError("the server offered no shared-memory lane")
    update = Update(grad, 1.0, current.version)
    wire.send(update, 1)
    wire.receive()
    start = time.perf_counter()
    for _ in range(steps):
        wire.send(update, 1)
        wire.receive()
    elapsed = time.perf_counter() - start
    wire.close()
    outbox.put(None)
    for _ in replies:
        pass
    return elapsed / steps


def round_trip(shape, steps: int, repeats: int) -> dict:
    """One PushStream step through the real servicer vs a raw bytes echo of the same sizes."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(shape, child))
    proc.start()
    port, secret = parent.recv()
    grad = np.zeros(shape, np.float32)
    fields = {**FIELDS, "secret": secret}
    hello = descent_pb2.PushRequest(**{k: fields[k] for k in ("job_id", "worker_id", "node_id", "secret")})
    ps_requests = [hello.SerializeToString(), push_request_bytes(grad, **fields)]
    echo_requests = [b"\0", b"\0" * len(ps_requests[1])]
    reply_bytes = len(parameters_bytes(grad, 1))
    ps_times, echo_times, ps_cpu, echo_cpu, lane_times, lane_cpu = [], [], [], [], [], []
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=GRPC_OPTIONS) as channel:
        ps_call = channel.stream_stream("/descent.v1.ParameterServer/PushStream", request_serializer=passthrough,
                                        response_deserializer=lifted.parameters)  # as a worker decodes
        echo_raw = channel.stream_stream("/bench.Echo/Echo", request_serializer=passthrough)

        def echo_call(gen):
            return echo_raw(gen, metadata=(("reply-bytes", str(reply_bytes)),))

        for _ in range(repeats):
            for call, requests, times, cpus in ((ps_call, ps_requests, ps_times, ps_cpu),
                                                (echo_call, echo_requests, echo_times, echo_cpu)):
                before = process_cpu(proc.pid)
                times.append(_steps(call, requests, steps))
                cpus.append((process_cpu(proc.pid) - before) / (steps + 1))
            before = process_cpu(proc.pid)
            lane_times.append(_lane_steps(ps_call, grad, fields, steps))
            lane_cpu.append((process_cpu(proc.pid) - before) / (steps + 1))
    parent.send("stop")
    proc.join(30)
    ps, echo, lane = statistics.median(ps_times), statistics.median(echo_times), statistics.median(lane_times)
    return {
        "shape": list(shape),
        "ps_ms_per_round_trip": round(ps * 1e3, 3),
        "echo_ms_per_round_trip": round(echo * 1e3, 3),
        "ratio": round(echo / ps, 3),
        "server_cpu_us_per_round_trip_ps": round(statistics.median(ps_cpu) * 1e6, 1),
        "server_cpu_us_per_round_trip_echo": round(statistics.median(echo_cpu) * 1e6, 1),
        "lane_ms_per_round_trip": round(lane * 1e3, 3),
        "ratio_lane": round(echo / lane, 3),
        "server_cpu_us_per_round_trip_lane": round(statistics.median(lane_cpu) * 1e6, 1),
        "steps": steps,
        "runs_ps_ms": [round(t * 1e3, 3) for t in ps_times],
        "runs_echo_ms": [round(t * 1e3, 3) for t in echo_times],
        "runs_lane_ms": [round(t * 1e3, 3) for t in lane_times],
    }
