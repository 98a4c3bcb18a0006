"""Control calls under load: GetJob and the health check while hundreds of WatchJob streams are open
and a multi-worker job trains, on a real server with its default limits.

The server runs every call on a thread of one pool; long calls (watchers, worker streams) are
counted in budgets that leave threads for control calls (server/rpc/streams.py). This opens
``--watchers`` WatchJob streams on a running ``--workers``-worker job, then times ``--calls``
GetJob and health Check calls one after the other, and reports latency percentiles and the
largest one (the acceptance bar is 1 s), with the same calls timed before the watchers opened.

    python benchmarks/control_calls.py [--watchers 300] [--workers 4] [--calls 200]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from client.rpc.channel import open_channel  # noqa: E402
from proto import descent_pb2 as pb  # noqa: E402
from proto import descent_pb2_grpc  # noqa: E402


def start_server(state_dir: str, cpus: int, token: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "--port", "0", "--announce", "--state-dir", state_dir, "--num-cpus", str(cpus)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, "DESCENT_TOKEN": token},
    )
    line = proc.stdout.readline()
    if "listening on" not in line:
        raise RuntimeError(f"server did not start: {line!r}")
    return proc, line.rsplit(" ", 1)[1].strip()


def latencies(trainer, health, job_id: str, calls: int) -> dict:
    """Milliseconds of GetJob and of health Check, ``calls`` each, alternating."""
    got, checked = [], []
    for _ in range(calls):
        start = time.perf_counter()
        trainer.GetJob(pb.GetJobRequest(job_id=job_id), timeout=5)
        got.append((time.perf_counter() - start) * 1e3)
        start = time.perf_counter()
        health.Check(health_pb2.HealthCheckRequest(), timeout=5)
        checked.append((time.perf_counter() - start) * 1e3)

    def summary(ms: list[float]) -> dict:
        ms = sorted(ms)
        return {"median_ms": round(statistics.median(ms), 2), "p99_ms": round(ms[int(0.99 * (len(ms) - 1))], 2),
                "max_ms": round(ms[-1], 2)}

    return {"GetJob": summary(got), "health": summary(checked)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watchers", type=int, default=300)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    token = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory() as state_dir:
        proc, address = start_server(state_dir, args.workers, token)
        channel = open_channel(address, token)
        trainer, health = descent_pb2_grpc.TrainerStub(channel), health_pb2_grpc.HealthStub(channel)
        watchers: list = []
        try:
            spec = pb.JobSpec(dataset="synthetic:20000,256,10", workers=args.workers, steps=10**8, lr=1e-6)
            job = trainer.SubmitJob(pb.SubmitJobRequest(spec=spec))
            for status in trainer.WatchJob(pb.WatchJobRequest(job_id=job.job_id, interval=0.2)):
                if status.state == pb.RUNNING:
                    break
            idle = latencies(trainer, health, job.job_id, args.calls)
            received = [0]

            def watch(call) -> None:
                try:
                    for _ in call:
                        received[0] += 1
                except grpc.RpcError:
                    pass

            for _ in range(args.watchers):
                call = trainer.WatchJob(pb.WatchJobRequest(job_id=job.job_id))
                watchers.append(call)
                threading.Thread(target=watch, args=(call,), daemon=True).start()
            time.sleep(2.0)
            loaded = latencies(trainer, health, job.job_id, args.calls)
            steps = trainer.GetJob(pb.GetJobRequest(job_id=job.job_id)).steps
        finally:
            for call in watchers:
                call.cancel()
            if watchers:
                trainer.CancelJob(pb.CancelJobRequest(job_id=job.job_id))
            channel.close()
            proc.terminate()
            proc.wait(timeout=60)
    print(json.dumps({
        "watchers": args.watchers, "workers": args.workers, "calls": args.calls, "cpu_count": os.cpu_count(),
        "job_steps_when_measured": steps, "watch_messages_received": received[0],
        "running_job_only": idle, "with_watchers": loaded,
    }, indent=2))


if __name__ == "__main__":
    main()
