"""Cold ``descent train --dataset digits`` against a bare ``ray.init``, and where its time goes.

Each repeat runs, one after the other on the same machine:

- ``bare``: a fresh Python process that imports ray, starts a local cluster
  (``ray.init(include_dashboard=False, num_cpus=2)``), shuts it down and exits: wall time.
- ``cli``: the real command a new user types, ``descent train --dataset digits`` with no
  server configured (it starts an embedded server, trains, prints, stops it): wall time.
- ``phases``: the same job through a ``python -m server`` subprocess driven over gRPC, timed
  by phase: ``start`` (spawn to the announce line), ``placement`` (submit to RUNNING, the
  server's own ``started_at``), ``train_eval`` (RUNNING to the terminal state, evaluation
  included), ``stop`` (SIGTERM to exit).

    python benchmarks/cold_train.py [--repeats 5]

Prints one JSON object: medians of every figure, ``ratio`` = median cli / median bare, the
per-repeat ratios, and the load average before and after (the machine is shared).
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

import grpc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from proto import descent_pb2, descent_pb2_grpc  # noqa: E402
from proto.limits import GRPC_OPTIONS  # noqa: E402

BARE = (
    "import logging, ray; "
    "ray.init(include_dashboard=False, num_cpus=2, logging_level=logging.WARNING); "
    "ray.shutdown()"
)
TERMINAL = {descent_pb2.SUCCEEDED, descent_pb2.FAILED, descent_pb2.CANCELLED}


def bare_ray(env: dict) -> float:
    """Wall seconds of a process that starts and stops a local Ray cluster."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", BARE], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def cli_train(env: dict) -> float:
    """Wall seconds of ``descent train --dataset digits`` with an embedded server."""
    # ``python -m client`` is the ``descent`` entry point, taken from this checkout.
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "client", "train", "--dataset", "digits"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"descent train failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed


def phases(env: dict, state_dir: str) -> dict:
    """Seconds of each phase of one cold job through a server subprocess."""
    spawned = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "--port", "0", "--announce", "--state-dir", state_dir],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
    )
    try:
        line = proc.stdout.readline()
        announced = time.perf_counter()
        if "listening on" not in line:
            raise RuntimeError(f"server did not start: {line!r}")
        with grpc.insecure_channel(line.rsplit(" ", 1)[1].strip(), options=GRPC_OPTIONS) as channel:
            stub = descent_pb2_grpc.TrainerStub(channel)
            token = [("authorization", f"Bearer {env['DESCENT_TOKEN']}")]  # every call carries the server's token
            submitted = time.time()
            job = stub.SubmitJob(descent_pb2.SubmitJobRequest(spec=descent_pb2.JobSpec(dataset="digits")), metadata=token)
            while job.state not in TERMINAL:
                time.sleep(0.02)
                job = stub.GetJob(descent_pb2.GetJobRequest(job_id=job.job_id), metadata=token)
        if job.state != descent_pb2.SUCCEEDED:
            raise RuntimeError(f"job ended {descent_pb2.JobState.Name(job.state)}: {job.message}")
    finally:
        stopping = time.perf_counter()
        proc.terminate()
        proc.wait(timeout=60)
        stopped = time.perf_counter()
    return {
        "start": announced - spawned,
        "placement": job.started_at - submitted,
        "train_eval": job.finished_at - job.started_at,
        "stop": stopped - stopping,
        "steps": job.steps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    load_before = os.getloadavg()
    runs: dict[str, list] = {"bare": [], "cli": [], "phases": []}
    with tempfile.TemporaryDirectory(prefix="descent-cold-") as tmp:
        env = {**os.environ, "DESCENT_STATE_DIR": str(Path(tmp) / "state"), "DESCENT_TOKEN": secrets.token_urlsafe(32)}
        env.pop("DESCENT_SERVER", None)
        for i in range(args.repeats):
            runs["bare"].append(bare_ray(env))
            runs["cli"].append(cli_train(env))
            runs["phases"].append(phases(env, str(Path(tmp) / f"phases-{i}")))
    median = statistics.median
    result = {
        "ratio": median(runs["cli"]) / median(runs["bare"]),
        "ratios": [c / b for c, b in zip(runs["cli"], runs["bare"])],
        "bare_s": median(runs["bare"]),
        "cli_s": median(runs["cli"]),
        "phases_s": {k: median(p[k] for p in runs["phases"]) for k in ("start", "placement", "train_eval", "stop")},
        "steps": runs["phases"][0]["steps"],
        "repeats": args.repeats,
        "runs": runs,
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
