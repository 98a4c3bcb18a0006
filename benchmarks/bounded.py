"""Every request bounded: how fast the server refuses what would compute for minutes, and how soon every CPU is
free again once the caller of running work has gone, on a real server with its default bounds.

- refusals: a 401-point landscape on synthetic:20000,1000,10, 10,000 minibatch draws over 64 batch sizes, a brute
  full gradient check on synthetic:2000,1000,1000 (each ran for minutes before the compute bound): seconds to the
  RESOURCE_EXHAUSTED, the median of ``--repeats``;
- freed: seconds from the caller's going to every CPU free per ClusterInfo, for a landscape the client cancels, one
  whose deadline passes, and a numerical-gradient job cancelled with CancelJob (the issue's bar: 2 s).

    python benchmarks/bounded.py [--repeats 5]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.control_calls import start_server  # noqa: E402
from client.rpc.channel import open_channel  # noqa: E402
from proto import descent_pb2 as pb  # noqa: E402
from proto import descent_pb2_grpc  # noqa: E402

LONG_LANDSCAPE = pb.LandscapeRequest(dataset="synthetic:10000,1000,10", points=61)


def refusal_seconds(call, request, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        try:
            call(request, timeout=60)
            raise RuntimeError(f"{type(request).__name__} was not refused")
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                raise
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def wait_cpus(trainer, busy: bool, timeout: float = 300) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        info = trainer.ClusterInfo(pb.ClusterInfoRequest(), timeout=30)
        if (info.available_cpus == 0) if busy else (info.available_cpus == info.total_cpus):
            return time.perf_counter() - start
        time.sleep(0.02)
    raise RuntimeError(f"CPUs not {'busy' if busy else 'free'} after {timeout} s")


def freed_after_cancel(trainer) -> float:
    call = trainer.Landscape.future(LONG_LANDSCAPE, timeout=600)
    wait_cpus(trainer, busy=True)
    call.cancel()
    return wait_cpus(trainer, busy=False)


def freed_after_deadline(trainer) -> float:
    call = trainer.Landscape.future(LONG_LANDSCAPE, timeout=600)  # only to learn when the tasks run
    wait_cpus(trainer, busy=True)
    call.cancel()
    wait_cpus(trainer, busy=False)
    try:
        trainer.Landscape(LONG_LANDSCAPE, timeout=8)
    except grpc.RpcError as error:
        if error.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
            raise
    return wait_cpus(trainer, busy=False)


def freed_after_cancel_job(trainer) -> float:
    spec = pb.JobSpec(dataset="synthetic:100,1000,10000", gradient="numerical", workers=2, steps=50)
    job = trainer.SubmitJob(pb.SubmitJobRequest(spec=spec), timeout=60)
    wait_cpus(trainer, busy=True)
    start = time.perf_counter()
    trainer.CancelJob(pb.CancelJobRequest(job_id=job.job_id), timeout=60)
    return time.perf_counter() - start + wait_cpus(trainer, busy=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    token = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory() as state:
        proc, address = start_server(state, 2, token)
        try:
            trainer = descent_pb2_grpc.TrainerStub(open_channel(address, token))
            refusals = {
                "landscape_401_points": refusal_seconds(
                    trainer.Landscape, pb.LandscapeRequest(dataset="synthetic:20000,1000,10", points=401), args.repeats),
                "minibatch_10000_draws_64_sizes": refusal_seconds(trainer.Minibatch, pb.MinibatchRequest(
                    dataset="synthetic:20000,1000,10", draws=10_000, batch_sizes=list(range(1, 65))), args.repeats),
                "brute_full_gradient_check": refusal_seconds(trainer.GradientCheck, pb.GradientCheckRequest(
                    dataset="synthetic:2000,1000,1000", full=True, method=pb.BRUTE), args.repeats),
            }
            freed = {
                "landscape_cancelled": freed_after_cancel(trainer),
                "landscape_deadline": freed_after_deadline(trainer),
                "numerical_job_cancel_job": freed_after_cancel_job(trainer),
            }
        finally:
            proc.terminate()
            proc.wait(timeout=120)
    print(json.dumps({"refusal_seconds": refusals, "cpus_free_seconds": freed, "bar": {"refusal": 1.0, "free": 2.0}},
                     indent=2))


if __name__ == "__main__":
    main()
