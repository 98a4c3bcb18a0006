"""``descent tune`` through the real CLI against a real server: trials are ordinary jobs, halving keeps the best,
Ctrl-C cancels the trials, bad input is refused before any job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from PIL import Image

from tests.cli import as_json, descent
from tests.server_process import ROOT


def _jobs(server) -> dict[str, dict]:
    return {j["job_id"]: j for j in as_json(descent("jobs", *server.cli_args, "--json"))}


def test_tune_with_halving_ranks_trials_run_as_ordinary_jobs(server, tmp_path):
    png = tmp_path / "tune.png"
    result = as_json(descent(
        "tune", *server.cli_args, "--dataset", "digits", "--trials", "4", "--halving", "--budget", "200",
        "--seed", "3", "--plot", str(png), "--json",
    ))
    assert result["rungs"] == [{"trials": 4, "updates": 50}, {"trials": 2, "updates": 100}, {"trials": 1, "updates": 200}]
    assert result["jobs"] == 7 and result["updates"] == 4 * 50 + 2 * 100 + 200
    trials = result["trials"]
    assert sorted(t["trial"] for t in trials) == [0, 1, 2, 3]
    assert [t["rung"] for t in trials] == [2, 1, 0, 0]  # ranked: the furthest rung first
    assert [t["state"] for t in trials] == ["SUCCEEDED", "HALVED", "HALVED", "HALVED"]
    assert result["best"] == trials[0] and result["best"]["test_accuracy"] is not None

    jobs = _jobs(server)
    first_rung = {}
    for t in trials:
        assert len(t["jobs"]) == t["rung"] + 1
        for rung, job_id in enumerate(t["jobs"]):
            job = jobs[job_id]  # an ordinary job, listed by the server
            assert job["state"] == "SUCCEEDED" and job["steps"] == result["rungs"][rung]["updates"]
            assert job["lr"] == t["params"]["lr"] and job["reg"] == t["params"]["reg"] and job["workers"] == 1
            assert job["seed"] == 3  # one data split for every trial
            if rung == 0:
                first_rung[t["trial"]] = job["val_accuracy"]
        assert t["val_accuracy"] == jobs[t["jobs"][-1]]["val_accuracy"]
        assert 1e-3 <= t["params"]["lr"] <= 1e-1 and 1e-6 <= t["params"]["reg"] <= 1e-2
    # the two promoted trials were the best two of the first rung
    promoted = {t["trial"] for t in trials if t["rung"] >= 1}
    best_two = sorted(first_rung, key=lambda i: (-first_rung[i], i))[:2]
    assert promoted == set(best_two)

    with Image.open(png) as image:
        assert image.format == "PNG" and image.size[0] > 400


def test_ctrl_c_cancels_the_running_trials(server):
    before = set(_jobs(server))
    cli = subprocess.Popen(
        [sys.executable, "-m", "client.cli", "tune", *server.cli_args, "--dataset", "digits", "--trials", "3",
         "--budget", "100000000", "--lr", "1e-7:1e-6", "--parallel", "2"],
        cwd=ROOT, env={k: v for k, v in os.environ.items() if k != "DESCENT_SERVER"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        new = {i: j for i, j in _jobs(server).items() if i not in before}
        if len(new) == 2 and all(j["state"] == "RUNNING" for j in new.values()):
            break
        time.sleep(0.3)
    else:
        cli.kill()
        pytest.fail("the trials never ran")
    cli.send_signal(signal.SIGINT)
    _, stderr = cli.communicate(timeout=60)
    assert cli.returncode == 130, stderr
    assert "cancelled 2 running trial job(s)" in stderr and "Traceback" not in stderr
    new = {i: j for i, j in _jobs(server).items() if i not in before}
    assert len(new) == 2  # the third trial was never submitted
    assert {j["state"] for j in new.values()} == {"CANCELLED"}


@pytest.mark.parametrize(
    "args, code, words",
    [
        (("--param", "batch_size=1:2"), 2, "cannot search 'batch_size'"),
        (("--lr", "0:1"), 2, "0 < LOW <= HIGH"),
        (("--search", "grid", "--lr", "1e-3:1e-1"), 2, "a grid needs a list"),
        (("--momentum", "0.5", "--param", "momentum=0.5:0.9"), 2, "both fixed"),
        (("--optimizer", "lbfgs"), 2, "Invalid value for '--optimizer': 'lbfgs' is not one of 'sgd', 'momentum'"),
    ],
)
def test_bad_tune_input_is_refused_and_leaves_no_job(server, args, code, words):
    before = _jobs(server)
    result = descent("tune", *server.cli_args, "--dataset", "digits", "--trials", "2", *args)
    assert result.returncode == code and words in result.stderr and "Traceback" not in result.stderr
    assert set(_jobs(server)) == set(before)
