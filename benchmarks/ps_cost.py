"""Where a parameter-server update's time goes, on both ends, for a small and a large W.

Three parts, one JSON document:

- ``breakdown``: per-stage cost (median µs over repeats) of one update's protocol and
  store work, in this process, for W = 10 × 3073 and 1000 × 3073 float32: worker encode,
  server decode, validate, apply, reply encode, worker decode — on the current path
  (proto.wire, zero-copy decode, in-place update) and on the path before it (the protobuf
  API, ``tobytes``, ``np.isfinite`` flags), measured side by side.
- ``round_trip``: one PushStream step through the real ParameterServicer in a server
  subprocess vs a raw gRPC bytes echo (same options, same byte counts) on the same server;
  ``ratio`` = echo time ÷ PS time with W and the gradient in the messages (a worker on
  another host), ``ratio_lane`` = echo time ÷ PS time on the shared-memory lane (a worker
  on the server's host: proto.shared_memory), and the server's CPU µs per round trip for
  each.
- ``server_cpu``: a real 2-worker async job on synthetic data with a 10 × 3073 W through a
  real ``python -m server``: the server process's CPU µs per applied update (CPU-time slope
  while training). With ``--base DIR`` the same job also runs on the checkout in DIR,
  alternating, and both are reported (same-run medians).

    python benchmarks/ps_cost.py [--repeats 3] [--steps 4000] [--base /path/to/old/checkout]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from concurrent import futures
from pathlib import Path

import grpc
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import blas_facts  # noqa: E402
from benchmarks.served import Server, process_cpu  # noqa: E402
from proto import descent_pb2  # noqa: E402
from proto.limits import GRPC_OPTIONS  # noqa: E402
from proto.tensor import from_tensor, to_tensor  # noqa: E402
from proto.wire import parameters_bytes, passthrough, push_request_bytes  # noqa: E402
from server.jobspec import JobConfig  # noqa: E402
from server.store import ParameterStore  # noqa: E402
from worker.malloc import keep_freed_memory  # noqa: E402

SHAPES = ((10, 3073), (1000, 3073))
FIELDS = dict(job_id="job", worker_id="job-w0", node_id="node", loss=1.0, version=0, secret="s" * 32, updates=1)


def _time_us(fn, repeats: int) -> float:
    """Median µs of ``fn()`` over ``repeats`` batches (each batch long enough to time)."""
    fn()
    per = []
    for _ in range(repeats):
        n, start = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            elapsed = time.perf_counter() - start
            if elapsed > 0.05 and n >= 5:
                break
        per.append(elapsed / n * 1e6)
    return round(statistics.median(per), 1)


def breakdown(shape: tuple[int, int], repeats: int) -> dict:
    """Per-stage µs of one update, current path and the path before it."""
    rng = np.random.default_rng(0)
    grad = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal(shape).astype(np.float32)
    store = ParameterStore(w, lr=1e-9, target_steps=10**12)
    scratch = np.empty_like(w)

    def apply():
        with store._lock:  # the store's one update, as push runs it
            store._apply(grad, 1)

    request = push_request_bytes(grad, **FIELDS)
    reply = parameters_bytes(w, 1)
    new = {
        "worker_encode_request": _time_us(lambda: push_request_bytes(grad, **FIELDS), repeats),
        "server_decode_request": _time_us(lambda: from_tensor(descent_pb2.PushRequest.FromString(request).gradient), repeats),
        "server_validate": _time_us(lambda: store.check_gradient(grad), repeats),
        "server_apply": _time_us(apply, repeats),
        "server_encode_reply": _time_us(lambda: parameters_bytes(w, 1), repeats),
        "worker_decode_reply": _time_us(lambda: from_tensor(descent_pb2.Parameters.FromString(reply).weights), repeats),
    }

    def old_encode_request():
        return descent_pb2.PushRequest(gradient=to_tensor(grad), **FIELDS).SerializeToString()

    def old_validate():
        if not np.isfinite(grad).all():
            raise ValueError

    def old_apply():
        np.multiply(grad, -1e-9, out=scratch)
        w.__iadd__(scratch)

    def old_encode_reply():
        data = w.tobytes()
        tensor = descent_pb2.Tensor(dtype="float32", shape=shape, data=data)
        return descent_pb2.Parameters(weights=tensor, version=1).SerializeToString()

    old = {
        "worker_encode_request": _time_us(old_encode_request, repeats),
        "server_decode_request": new["server_decode_request"],  # unchanged: FromString + frombuffer
        "server_validate": _time_us(old_validate, repeats),
        "server_apply": _time_us(old_apply, repeats),
        "server_encode_reply": _time_us(old_encode_reply, repeats),
        "worker_decode_reply": new["worker_decode_reply"],
    }
    server_keys = [k for k in new if k.startswith("server_")]
    return {
        "shape": list(shape),
        "megabytes": round(grad.nbytes / 1e6, 3),
        "now_us": new,
        "before_us": old,
        "server_total_now_us": round(sum(new[k] for k in server_keys), 1),
        "server_total_before_us": round(sum(old[k] for k in server_keys), 1),
    }


class _OneJob:
    """Stands in for the job registry in the round-trip server: one RUNNING job with a real store."""

    def __init__(self, shape):
        from server.job import Job

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
    from server.parameter_servicer import ParameterServicer, add_to_server

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

    from worker.wire import Update, open_wire

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
                                        response_deserializer=descent_pb2.Parameters.FromString)
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


def server_cpu(steps: int, repeats: int, base: str | None, dataset: str) -> dict:
    """Server CPU µs per update of a real 2-worker async job (and of the ``base`` checkout's server)."""
    spec = descent_pb2.JobSpec(dataset=dataset, workers=2, steps=steps, lr=1e-3, reg=1e-3, batch_size=256, seed=0)
    checkouts = {"now": ROOT, **({"base": Path(base)} if base else {})}
    runs: dict[str, list[float]] = {name: [] for name in checkouts}
    rates: dict[str, list[float]] = {name: [] for name in checkouts}
    with tempfile.TemporaryDirectory() as state:
        servers = {name: Server(os.path.join(state, name), num_cpus=2, cwd=path) for name, path in checkouts.items()}
        try:
            warm = descent_pb2.JobSpec()
            warm.CopyFrom(spec)
            warm.steps = 200
            for server in servers.values():
                server.run_job(warm)
            for _ in range(repeats):
                for name, server in servers.items():
                    result = server.run_job(spec)
                    runs[name].append(round(result["server_cpu_s_per_update"] * 1e6, 1))
                    status = result["status"]
                    rates[name].append(round(status.steps / status.seconds, 1))
        finally:
            for server in servers.values():
                server.close()
    out = {"dataset": dataset, "workers": 2, "consistency": "async", "steps": steps}
    for name in checkouts:
        out[f"server_cpu_us_per_update_{name}"] = statistics.median(runs[name])
        out[f"updates_per_s_{name}"] = statistics.median(rates[name])
        out[f"runs_{name}"] = {"server_cpu_us_per_update": runs[name], "updates_per_s": rates[name]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20000, help="updates of the 2-worker job (its 50 curve points are a fixed cost per job)")
    parser.add_argument("--round-trips", type=int, default=200)
    parser.add_argument("--dataset", default="synthetic:20000,3072,10")
    parser.add_argument("--base", help="another checkout whose server runs the same job, alternately")
    parser.add_argument("--skip-job", action="store_true", help="only the in-process parts")
    args = parser.parse_args()
    keep_freed_memory()
    report = {
        "load_average_before": list(os.getloadavg()),
        "breakdown": [breakdown(shape, args.repeats) for shape in SHAPES],
        "round_trip": [round_trip(shape, args.round_trips, args.repeats) for shape in SHAPES],
    }
    if not args.skip_job:
        report["server_cpu"] = server_cpu(args.steps, args.repeats, args.base, args.dataset)
    report["load_average_after"] = list(os.getloadavg())
    report.update(blas_facts())
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
