"""A real ``python -m server`` subprocess for benchmarks, with its process CPU time sampled during a job.

``Server.run_job`` submits a job and polls it (GetJob every ``poll`` s), recording the
server process's CPU seconds beside the job's applied steps; the server's CPU per update
is the slope between the first sample with updates and the last one before the target
(data preparation before training and evaluation after it are outside the window).
With ``on_weights`` it also fetches W at every poll (GetWeights), for time-to-accuracy.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from client.rpc.channel import open_channel  # noqa: E402
from proto import descent_pb2, descent_pb2_grpc  # noqa: E402
from proto.tensor import from_chunks  # noqa: E402

_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far, all its threads (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def steady_rate(status: descent_pb2.JobStatus) -> float:
    """Updates per second between a job's second curve point and its last: training alone, without
    placing the workers and their first look at the data (before the curve's first point); nan if
    the curve is too short."""
    points = list(status.curve)
    if len(points) < 3 or points[-1].seconds <= points[1].seconds:
        return float("nan")
    return (points[-1].step - points[1].step) / (points[-1].seconds - points[1].seconds)


class Server:
    """A real server subprocess with local Ray on a free port."""

    def __init__(self, state_dir: str, num_cpus: int, extra_args: tuple[str, ...] = (), cwd: Path = ROOT):
        token = secrets.token_urlsafe(24)
        roots = ("--data-root", str(ROOT), "--data-root", str(ROOT.parent / "shared"), "--data-root", "/work/shared")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server", "--port", "0", "--announce", "--state-dir", state_dir,
             "--num-cpus", str(num_cpus), *roots, *extra_args],
            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            # PYTHONPATH: the checkout's own packages, in the server and in the Ray workers it starts.
            env={**os.environ, "DESCENT_TOKEN": token, "PYTHONPATH": str(cwd)},
        )
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"server did not start: {line!r}")
        self.address = line.rsplit(" ", 1)[1].strip()
        self.channel = open_channel(self.address, token)
        self.stub = descent_pb2_grpc.TrainerStub(self.channel)

    def cpu(self) -> float:
        """User + system CPU seconds of the server process so far."""
        return process_cpu(self.proc.pid)

    def run_job(
        self, spec: descent_pb2.JobSpec, poll: float = 0.2, on_weights: Callable[[np.ndarray], bool] | None = None
    ) -> dict:
        """Run one job to its end; return its status and the server CPU per update while it trained.

        ``on_weights(W)`` (optional) is called with W at each poll while the job runs; the
        first time it returns True, ``seconds_to_target`` (since RUNNING) is recorded.
        """
        job = self.stub.SubmitJob(descent_pb2.SubmitJobRequest(spec=spec))
        samples: list[tuple[float, int]] = []
        reached = None
        while True:
            status = self.stub.GetJob(descent_pb2.GetJobRequest(job_id=job.job_id))
            now = time.time()
            if status.state == descent_pb2.RUNNING:
                samples.append((self.cpu(), status.steps))
                if on_weights is not None and reached is None and status.started_at:
                    weights, _ = from_chunks(self.stub.GetWeights(descent_pb2.GetWeightsRequest(job_id=job.job_id)))
                    if on_weights(weights):
                        reached = now - status.started_at
            if status.state in (descent_pb2.SUCCEEDED, descent_pb2.FAILED, descent_pb2.CANCELLED):
                break
            time.sleep(poll)
        if status.state != descent_pb2.SUCCEEDED:
            raise RuntimeError(f"job {job.job_id} ended {descent_pb2.JobState.Name(status.state)}: {status.message}")
        window = [s for s in samples if 0 < s[1] < spec.steps]
        cpu_per_update = (
            (window[-1][0] - window[0][0]) / (window[-1][1] - window[0][1])
            if len(window) >= 2 and window[-1][1] > window[0][1] else float("nan")
        )
        return {
            "status": status, "server_cpu_s_per_update": cpu_per_update, "seconds_to_target": reached,
            "submit_to_running_s": status.started_at - status.created_at,
        }

    def close(self) -> None:
        self.channel.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
