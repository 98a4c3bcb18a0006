"""The client against a real gRPC server: a fake Trainer servicer in this process, the CLI as a subprocess.

The fake stands in for the *server side* only; what is tested is the client's
handling of real gRPC statuses, streams and chunked tensors.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc
import numpy as np
import pytest

from client.rpc.api import ApiError, open_api
from client.rpc.requests import job_spec
from proto import descent_pb2, descent_pb2_grpc
from proto.limits import GRPC_OPTIONS
from proto.tensor import to_chunks

REPO = Path(__file__).resolve().parents[2]
W = np.arange(10 * 65, dtype=np.float32).reshape(10, 65) / 7.0


def _status(job_id: str, state: int, steps: int, message: str = "") -> descent_pb2.JobStatus:
    spec = descent_pb2.JobSpec(dataset="digits", workers=2, batch_size=256, steps=100, lr=0.01, reg=1e-4)
    status = descent_pb2.JobStatus(
        job_id=job_id, spec=spec, state=state, steps=steps, version=steps, loss=1.0 / (1 + steps), message=message
    )
    if state == descent_pb2.SUCCEEDED:
        status.test_accuracy = 0.95
        status.per_worker.add(worker_id="w0", node_id="n0", steps=steps)
    return status


class FakeTrainer(descent_pb2_grpc.TrainerServicer):
    """Job "ok" succeeds, "fail" fails, "hang" runs until cancelled; lr <= 0 is INVALID_ARGUMENT."""

    def __init__(self) -> None:
        self.submitted: list[descent_pb2.JobSpec] = []
        self.cancelled: list[str] = []
        self.watching = threading.Event()

    def SubmitJob(self, request, context):
        spec = request.spec
        if spec.HasField("lr") and spec.lr <= 0:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad lr")
        self.submitted.append(spec)
        job_id = spec.dataset if spec.dataset in ("ok", "fail", "hang") else "ok"
        return _status(job_id, descent_pb2.PENDING, 0)

    def GetJob(self, request, context):
        if request.job_id not in ("ok", "fail", "hang"):
            context.abort(grpc.StatusCode.NOT_FOUND, f"no job {request.job_id}")
        return _status(request.job_id, descent_pb2.RUNNING, 10)

    def CancelJob(self, request, context):
        self.cancelled.append(request.job_id)
        return _status(request.job_id, descent_pb2.CANCELLED, 10, "cancelled by the client")

    def WatchJob(self, request, context):
        self.watching.set()
        if request.job_id == "hang":
            while context.is_active():
                yield _status("hang", descent_pb2.RUNNING, 10)
                time.sleep(0.05)
            return
        for steps in (10, 50):
            yield _status(request.job_id, descent_pb2.RUNNING, steps)
        if request.job_id == "fail":
            yield _status("fail", descent_pb2.FAILED, 60, "loss diverged")
        else:
            yield _status(request.job_id, descent_pb2.SUCCEEDED, 100)

    def GetWeights(self, request, context):
        if request.job_id != "ok":
            context.abort(grpc.StatusCode.NOT_FOUND, f"no job {request.job_id}")
        yield from to_chunks(W, version=100, chunk_bytes=1000)  # several chunks

    def GradientCheck(self, request, context):
        return descent_pb2.GradientCheckResponse(
            formula=request.formula, h=request.h if request.HasField("h") else 1e-5, passed=False,
            max_rel_error=0.5, max_rel_error_smooth=0.5, threshold=1e-6, dataset="digits", num_examples=256,
            checks=[descent_pb2.CoordinateCheck(c=1, d=2, analytic=1.0, numeric=0.5, rel_error=0.5)],
        )

    def GradientCheckStream(self, request, context):
        yield descent_pb2.GradientCheckProgress(done=0, total=1)
        yield descent_pb2.GradientCheckProgress(done=1, total=1, result=self.GradientCheck(request, context))


@pytest.fixture()
def fake():
    """A fake Trainer on a free loopback port: yields (servicer, "127.0.0.1:PORT")."""
    servicer = FakeTrainer()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=GRPC_OPTIONS)
    descent_pb2_grpc.add_TrainerServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield servicer, f"127.0.0.1:{port}"
    finally:
        server.stop(0)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESCENT_")}
    env["PYTHONPATH"] = str(REPO)
    return env


def descent(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    """Run the CLI as a real subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "client.cli", *args], cwd=REPO, env=_env(), capture_output=True, text=True, timeout=timeout
    )


def test_api_maps_grpc_status_to_api_error(fake):
    _, address = fake
    with open_api(address, connect_timeout=5) as api:
        with pytest.raises(ApiError) as caught:
            api.submit(job_spec("digits", lr=-1.0))
        assert (caught.value.code, caught.value.details) == ("INVALID_ARGUMENT", "bad lr")
        with pytest.raises(ApiError) as caught:
            api.get("nope")
        assert caught.value.code == "NOT_FOUND"


def test_cli_prints_the_server_error_and_exits_1(fake):
    servicer, address = fake
    result = descent("train", "--dataset", "digits", "--lr", "-0.5", "--server", address)
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip() == "error: INVALID_ARGUMENT: bad lr"
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_train_sends_only_the_options_given_and_prints_the_json_contract(fake):
    servicer, address = fake
    result = descent("train", "--dataset", "ok", "--workers", "3", "--lr", "0.02", "--server", address, "--json")
    assert result.returncode == 0, result.stderr
    (spec,) = servicer.submitted
    assert spec.HasField("workers") and spec.workers == 3 and spec.lr == 0.02
    for unset in ("batch_size", "steps", "reg", "seed", "dtype", "init_scale"):
        assert not spec.HasField(unset), unset
    job = json.loads(result.stdout)
    assert job["state"] == "SUCCEEDED" and job["steps"] == 100 and job["job_id"] == "ok"
    assert job["test_accuracy"] == 0.95 and job["val_accuracy"] is None
    assert job["per_worker"] == [{"worker_id": "w0", "node_id": "n0", "steps": 100}]


def test_a_failed_job_prints_its_status_then_the_error(fake):
    _, address = fake
    result = descent("train", "--dataset", "fail", "--server", address, "--json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["state"] == "FAILED"
    assert result.stderr.strip() == "error: FAILED: loss diverged"


def test_ctrl_c_while_attached_cancels_the_job_and_exits_130(fake):
    servicer, address = fake
    process = subprocess.Popen(
        [sys.executable, "-m", "client.cli", "train", "--dataset", "hang", "--server", address],
        cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert servicer.watching.wait(20), "the CLI never started watching"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert servicer.cancelled == ["hang"]
    assert "cancelled job hang" in err and "Traceback" not in err


def test_weights_are_saved_exactly(fake, tmp_path):
    _, address = fake
    out = tmp_path / "W.npy"
    result = descent("weights", "ok", "--out", str(out), "--server", address, "--json")
    assert result.returncode == 0, result.stderr
    saved = np.load(out)
    assert saved.dtype == W.dtype and np.array_equal(saved, W)
    assert json.loads(result.stdout) == {"job_id": "ok", "path": str(out), "shape": [10, 65], "dtype": "float32", "version": 100}
    assert [p.name for p in tmp_path.iterdir()] == ["W.npy"]  # no temp file left behind


def test_weights_of_an_unknown_job_write_nothing(fake, tmp_path):
    _, address = fake
    out = tmp_path / "W.npy"
    result = descent("weights", "nope", "--out", str(out), "--server", address)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: NOT_FOUND: no job nope"
    assert not out.exists()


def test_gradcheck_that_fails_prints_the_report_and_exits_1(fake):
    _, address = fake
    result = descent("gradcheck", "--formula", "forward", "--h", "1e-3", "--server", address, "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["formula"] == "forward" and report["h"] == 1e-3 and report["passed"] is False
    assert result.stderr.startswith("error: GRADCHECK_FAILED:")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_server_at_the_address_is_unavailable_quickly():
    port = _free_port()
    started = time.monotonic()
    result = descent("jobs", "--server", f"127.0.0.1:{port}", "--connect-timeout", "1")
    assert time.monotonic() - started < 15
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: UNAVAILABLE: no descent server answered at 127.0.0.1:{port}")
    assert "Traceback" not in result.stderr


def test_detach_without_a_server_is_a_usage_error():
    result = descent("train", "--detach")
    assert result.returncode == 2
    assert "--detach needs --server" in result.stderr


def test_state_dir_with_a_server_is_a_usage_error(tmp_path):
    result = descent("jobs", "--server", "127.0.0.1:1", "--state-dir", str(tmp_path))
    assert result.returncode == 2
