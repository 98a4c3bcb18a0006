"""End-to-end throughput: one Ray worker training through the real parameter server vs a pure-numpy loop.

Both do the same math on the same CIFAR-shaped synthetic data (50,000 x 3,072,
10 classes, float32, batch 256): sample a batch, SVM loss + analytic gradient,
W -= lr * dW. The distributed side is a real job on a real server subprocess
with local Ray; its rate is the job's own steps / seconds (RUNNING to the end).
Runs alternate (pure, distributed, pure, ...) and medians are reported.

The distributed job runs on three servers, one at a time (each started, warmed up, used
and closed in turn, so no idle local Ray takes CPU from the one training): one with
checkpoints at their defaults (``ratio``, ``distributed_steps_per_s``), one with them off
(``--checkpoint-seconds 0``; ``checkpoints_on_vs_off`` is the ratio of the two) and one
with ``--no-shared-memory``. A job's rate is its steps ÷ its RUNNING seconds, which
include placing the worker (0.2–0.6 s here); ``ratio_steady`` uses the rate between the
job's second curve point and its last instead (training alone).

``ratio`` is with the worker's overlap (the next gradient computed while a push is in
flight, the default); ``ratio_no_overlap`` is the same job with ``overlap=False``. Both
use the shared-memory lane a worker on the server's host gets (proto.shared_memory);
``ratio_no_shared_memory`` is the default job on a server started with
``--no-shared-memory``, W and the gradient inside the gRPC messages as for a worker on
another host.

The Ray worker runs with one BLAS thread (Ray sets OMP_NUM_THREADS=1 for a
1-CPU task), so the pure loop is timed with one BLAS thread too (``ratio``);
the pure loop with the default thread count is reported beside it.

    python benchmarks/e2e.py [--steps 6000] [--repeats 3]

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
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import blas_facts  # noqa: E402
from benchmarks.served import steady_rate  # noqa: E402
from client.rpc.channel import open_channel  # noqa: E402
from proto import descent_pb2, descent_pb2_grpc  # noqa: E402
from worker.data.prepare import prepare  # noqa: E402
from worker.data.rows import sample_batch  # noqa: E402
from worker.kernel import svm_loss_grad  # noqa: E402
from worker.task.malloc import keep_freed_memory  # noqa: E402

DATASET = "synthetic:50000,3072,10"
LR, REG, BATCH, SEED = 1e-3, 1e-3, 256, 0


def pure_loop(X: np.ndarray, y: np.ndarray, steps: int) -> float:
    """Steps per second of plain mini-batch SGD in this process."""
    rng = np.random.default_rng(SEED)
    W = (1e-3 * rng.standard_normal((10, X.shape[1]))).astype(np.float32)
    start = time.perf_counter()
    for _ in range(steps):
        Xb, yb = sample_batch(X, y, BATCH, rng)
        _, dW = svm_loss_grad(W, Xb, yb, REG)
        W -= LR * dW
    return steps / (time.perf_counter() - start)


class Server:
    """A real `python -m server` subprocess with local Ray on a free port."""

    def __init__(self, state_dir: str, extra_args: tuple[str, ...] = ()):
        token = secrets.token_urlsafe(24)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server", "--port", "0", "--announce", "--state-dir", state_dir, "--num-cpus", "2",
             *extra_args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "DESCENT_TOKEN": token},
        )
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"server did not start: {line!r}")
        self.address = line.rsplit(" ", 1)[1].strip()
        self.channel = open_channel(self.address, token)
        self.stub = descent_pb2_grpc.TrainerStub(self.channel)

    def train(self, steps: int, overlap: bool = True) -> descent_pb2.JobStatus:
        spec = descent_pb2.JobSpec(
            dataset=DATASET, workers=1, steps=steps, lr=LR, reg=REG, batch_size=BATCH, seed=SEED, overlap=overlap
        )
        job = self.stub.SubmitJob(descent_pb2.SubmitJobRequest(spec=spec))
        for status in self.stub.WatchJob(descent_pb2.WatchJobRequest(job_id=job.job_id, interval=1.0)):
            pass
        if status.state != descent_pb2.SUCCEEDED:
            raise RuntimeError(f"job {job.job_id} ended {descent_pb2.JobState.Name(status.state)}: {status.message}")
        return status

    def close(self) -> None:
        self.channel.close()
        self.proc.terminate()
        self.proc.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    keep_freed_memory()  # the server and the worker do the same: like for like
    data = prepare(DATASET, seed=SEED, dtype="float32")
    X, y = data.X_train, data.y_train
    pure_1, pure_default, distributed, no_checkpoints, no_overlap, no_lane = [], [], [], [], [], []
    steady, steady_no_overlap = [], []
    # One server at a time (each with its own local Ray, whose idle processes would otherwise
    # take CPU from whichever server is training): start it, warm it up, run its jobs, close it.
    configs = (((), (distributed, steady, True), (no_overlap, steady_no_overlap, False)),
               (("--checkpoint-seconds", "0"), (no_checkpoints, [], True)),
               (("--no-shared-memory",), (no_lane, [], True)))
    for _ in range(args.repeats):
        with threadpool_limits(limits=1):
            pure_1.append(pure_loop(X, y, args.steps))
        pure_default.append(pure_loop(X, y, args.steps))
        for extra, *jobs in configs:
            with tempfile.TemporaryDirectory() as state_dir:
                server = Server(state_dir, extra)
                try:
                    server.train(200)  # warm-up: Ray worker processes, the data set in the object store
                    for rates, steady_rates, overlap in jobs:
                        status = server.train(args.steps, overlap=overlap)
                        rates.append(status.steps / status.seconds)
                        steady_rates.append(steady_rate(status))
                finally:
                    server.close()

    pure = statistics.median(pure_1)
    dist = statistics.median(distributed)
    plain_dist = statistics.median(no_checkpoints)
    print(
        json.dumps(
            {
                "pure_steps_per_s": round(pure, 1),
                "distributed_steps_per_s": round(dist, 1),
                "ratio": round(dist / pure, 3),
                "ratio_no_overlap": round(statistics.median(no_overlap) / pure, 3),
                "ratio_steady": round(statistics.median(steady) / pure, 3),
                "ratio_steady_no_overlap": round(statistics.median(steady_no_overlap) / pure, 3),
                "distributed_steps_per_s_no_overlap": round(statistics.median(no_overlap), 1),
                "ratio_no_shared_memory": round(statistics.median(no_lane) / pure, 3),
                "distributed_steps_per_s_no_checkpoints": round(plain_dist, 1),
                "checkpoints_on_vs_off": round(dist / plain_dist, 3),
                "pure_steps_per_s_default_threads": round(statistics.median(pure_default), 1),
                "ratio_vs_default_threads": round(dist / statistics.median(pure_default), 3),
                "runs": {
                    "pure_1_thread": pure_1,
                    "pure_default_threads": pure_default,
                    "distributed": distributed,
                    "distributed_no_checkpoints": no_checkpoints,
                    "distributed_no_overlap": no_overlap,
                    "distributed_no_shared_memory": no_lane,
                    "distributed_steady": steady,
                    "distributed_steady_no_overlap": steady_no_overlap,
                },
                "steps": args.steps,
                "repeats": args.repeats,
                "dataset": DATASET,
                "load_average": list(os.getloadavg()),
                "batch_size": BATCH,
                **blas_facts(),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
