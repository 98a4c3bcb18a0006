"""End to end through the real ``descent`` CLI: real processes, a real server, real Ray.

Each CLI run is a subprocess; with no --server it starts its own embedded
server (and local Ray) and must leave nothing running behind.
"""

from __future__ import annotations

import importlib.metadata
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.cli import MARK, MNIST, as_json, descent, ray_processes
from tests.server_process import ROOT
from tests.stored import stored_states


def test_embedded_train_with_defaults_then_state_outlives_the_server(tmp_path):
    mark = f"train-{os.getpid()}-{time.time_ns()}"
    job = as_json(descent("train", "--dataset", "digits", "--workers", "2", "--json", state_dir=tmp_path, mark=mark))
    assert job["state"] == "SUCCEEDED"
    assert job["test_accuracy"] >= 0.95
    assert job["workers"] == 2 and job["batch_size"] == 256
    # On a cluster just started, one worker may land in a process Ray is still booting and join
    # this ~2 s job late, or after its end: every worker listed ran on a node, and the steps add up.
    assert 1 <= len(job["per_worker"]) <= 2 and all(w["node_id"] for w in job["per_worker"])
    assert sum(w["steps"] for w in job["per_worker"]) == job["steps"]
    for key in ("job_id", "dataset", "lr", "reg", "loss", "train_accuracy", "val_accuracy", "seconds", "examples_per_second"):
        assert key in job
    assert not ray_processes(mark), "the embedded server left Ray running"

    listed = as_json(descent("jobs", "--json", state_dir=tmp_path))
    assert [j["job_id"] for j in listed] == [job["job_id"]]
    status = as_json(descent("status", job["job_id"], "--json", state_dir=tmp_path))
    assert status["test_accuracy"] == job["test_accuracy"] and status["state"] == "SUCCEEDED"
    saved = as_json(descent("weights", job["job_id"], "--out", str(tmp_path / "W.npy"), "--json", state_dir=tmp_path))
    assert saved["shape"] == [10, 65]
    assert np.load(tmp_path / "W.npy").shape == (10, 65)


def test_detached_job_on_a_server_watch_status_weights_cancel(server, tmp_path):
    at = server.cli_args
    job = as_json(descent("train", *at, "--dataset", f"mnist:{MNIST}", "--workers", "2", "--detach", "--json"))
    assert job["state"] in ("PENDING", "RUNNING")
    final = as_json(descent("watch", job["job_id"], *at, "--json"))
    assert final["state"] == "SUCCEEDED" and final["steps"] == 2000
    assert final["test_accuracy"] >= 0.89
    assert {j["job_id"] for j in as_json(descent("jobs", *at, "--json"))} >= {job["job_id"]}
    descent("weights", job["job_id"], "--out", str(tmp_path / "W.npy"), *at)
    assert np.load(tmp_path / "W.npy").shape == (10, 785)

    long = as_json(descent("train", *at, "--dataset", "digits", "--steps", "100000000", "--lr", "1e-6", "--detach", "--json"))
    cancelled = descent("cancel", long["job_id"], *at, "--json")
    assert as_json(cancelled)["state"] == "CANCELLED"
    again = descent("cancel", long["job_id"], *at)
    assert again.returncode == 1 and "error: FAILED_PRECONDITION:" in again.stderr


@pytest.mark.parametrize(
    "args, code",
    [
        (("train", "--dataset", "digits", "--lr", "-1"), "INVALID_ARGUMENT"),
        (("train", "--dataset", "digits", "--batch-size", "0"), "INVALID_ARGUMENT"),
        (("train", "--dataset", "mnist:/no/such/dir"), "PERMISSION_DENIED"),  # outside the server's data roots
        (("train", "--dataset", f"mnist:{ROOT}/no/such/dir"), "NOT_FOUND"),
        (("train", "--dataset", "imagenet"), "INVALID_ARGUMENT"),
        (("status", "job-000000000000"), "NOT_FOUND"),
        (("gradcheck", "--dataset", "digits", "--h", "0"), "INVALID_ARGUMENT"),
        (("train", "--dataset", "digits", "--consistency", "bsp"), "INVALID_ARGUMENT"),
        (("train", "--dataset", "digits", "--push-every", "3"), "INVALID_ARGUMENT"),  # 2000 steps: not whole pushes
    ],
)
def test_bad_input_is_one_clear_line_and_exit_1(server, args, code):
    result = descent(*args, *server.cli_args)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {code}: ")
    assert "Traceback" not in result.stderr
    assert as_json(descent("cluster", *server.cli_args, "--json"))["total_cpus"] == 2  # still serving


def test_train_with_a_consistency_mode_reports_staleness(server):
    at = server.cli_args
    job = as_json(descent("train", *at, "--dataset", "digits", "--workers", "2", "--steps", "400", "--consistency", "ssp:1",
                          "--push-every", "2", "--json"))
    assert job["state"] == "SUCCEEDED" and job["steps"] == 400
    assert job["consistency"] == "ssp:1" and job["push_every"] == 2 and job["overlap"] is True
    stale = job["staleness"]
    assert sum(stale["histogram"]) == 200 and stale["p50"] <= stale["p99"] <= stale["max"]
    text = descent("status", job["job_id"], *at)
    assert text.returncode == 0 and f"ssp:1, push every 2, overlap on; staleness p50 {stale['p50']}" in text.stdout
def test_version_of_the_cli_and_of_the_server(server):
    installed = importlib.metadata.version("descent")
    version = descent("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"descent {installed}"
    info = as_json(descent("cluster", *server.cli_args, "--json"))
    assert info["server_version"] == installed
    assert [n["roles"] for n in info["nodes"]] == [["head", "server", "worker"]]
    text = descent("cluster", *server.cli_args)
    assert text.returncode == 0 and f"server       descent {installed}" in text.stdout
    assert "head,server,worker" in text.stdout


def test_gradcheck_and_sweep_json(server):
    at = server.cli_args
    check = as_json(descent("gradcheck", "--dataset", "digits", "--json", *at))
    assert check["formula"] == "centered" and check["passed"] and check["max_rel_error_smooth"] < 1e-7
    assert len(check["checks"]) >= 10
    assert sum(not (c["kink"] or c["below_resolution"]) for c in check["checks"]) >= 5
    assert all(abs(c["analytic"]) + abs(c["numeric"]) < 1e-6 for c in check["checks"] if c["below_resolution"])
    assert all(len(c["index"]) == 2 for c in check["checks"])
    forward = as_json(descent("gradcheck", "--dataset", "digits", "--formula", "forward", "--json", *at))
    assert forward["max_rel_error_smooth"] > check["max_rel_error_smooth"]

    sweep = as_json(descent("sweep", "--dataset", "digits", "--json", *at))
    rows = sweep["rows"]
    assert rows[0]["step_size"] == 1e-10
    assert all(np.isclose(b["step_size"], 10 * a["step_size"]) for a, b in zip(rows, rows[1:]))
    assert abs(rows[0]["loss"] - sweep["loss_original"]) <= 1e-4 * sweep["loss_original"]
    assert rows[-1]["loss"] > sweep["loss_original"]
    best = min(range(len(rows)), key=lambda i: rows[i]["loss"])
    assert 0 < best < len(rows) - 1 and sweep["best_step_size"] == rows[best]["step_size"]


def test_ctrl_c_cancels_the_job_and_leaves_no_process(tmp_path):
    mark = f"ctrl-c-{os.getpid()}-{time.time_ns()}"
    env = {k: v for k, v in os.environ.items() if k != "DESCENT_SERVER"}
    env[MARK] = mark
    cli = subprocess.Popen(
        [sys.executable, "-m", "client.cli", "train", "--dataset", "digits", "--steps", "100000000", "--lr", "1e-6",
         "--state-dir", str(tmp_path)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 120
    running = None
    while running is None and time.monotonic() < deadline:
        for job_id, state in stored_states(tmp_path).items():
            if state == "RUNNING":
                running = job_id
        time.sleep(0.2)
    assert running is not None, "the job never started"
    assert ray_processes(mark), "the run's Ray daemons are not found by their mark"
    cli.send_signal(signal.SIGINT)
    _, stderr = cli.communicate(timeout=90)
    assert cli.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert stored_states(tmp_path)[running] == "CANCELLED"
    time.sleep(1)
    assert not ray_processes(mark), "Ray daemons outlived the command"
