"""``descent tune`` through the real CLI against a real server: Optuna's trials are chains of ordinary jobs,
a promoted trial continues its last job, Ctrl-C cancels the trials and ``--resume`` continues the study,
bad input is refused before any job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
from PIL import Image

from tests.cli import as_json, descent
from tests.server_process import ROOT


def _jobs(server) -> dict[str, dict]:
    return {j["job_id"]: j for j in as_json(descent("jobs", *server.cli_args, "--json"))}


def test_halving_continues_promoted_trials_from_their_last_job(server, tmp_path):
    png, storage = tmp_path / "tune.png", tmp_path / "tune.db"
    result = as_json(descent(
        "tune", *server.cli_args, "--dataset", "digits", "--trials", "4", "--budget", "200", "--seed", "3",
        "--storage", str(storage), "--study", "four", "--plot", str(png), "--json",
    ))
    assert (result["search"], result["pruner"], result["study"]) == ("tpe", "halving", "four")
    assert [r["updates"] for r in result["rungs"]] == [50, 100, 200] and result["rungs"][0]["trials"] == 4
    trials = result["trials"]
    assert sorted(t["trial"] for t in trials) == [0, 1, 2, 3]
    assert {t["state"] for t in trials} <= {"COMPLETE", "PRUNED"} and "PRUNED" in {t["state"] for t in trials}
    assert result["best"]["state"] == "COMPLETE" and result["best"]["updates"] == 200
    assert result["best"] == trials[0] and result["best"]["test_accuracy"] is not None

    jobs = _jobs(server)
    applied = 0
    for t in trials:
        assert len(t["jobs"]) == 1 + sum(1 for r in (50, 100) if t["updates"] > r)
        done = 0
        for i, job_id in enumerate(t["jobs"]):
            job = jobs[job_id]  # an ordinary job, listed by the server
            assert job["parent"] == (t["jobs"][i - 1] if i else None)  # continued, never trained again from 0
            assert job["parent_steps"] == done and job["seed"] == 3 and job["workers"] == 1
            assert job["lr"] == t["params"]["lr"] and job["reg"] == t["params"]["reg"]
            done += job["steps"]
            applied += job["steps"]
        assert done == t["updates"] and t["val_accuracy"] == jobs[t["jobs"][-1]]["val_accuracy"]
        assert 1e-3 <= t["params"]["lr"] <= 1e-1 and 1e-6 <= t["params"]["reg"] <= 1e-2
    assert result["updates"] == applied < 4 * 200 and result["jobs"] == sum(len(t["jobs"]) for t in trials)

    study = optuna.load_study(study_name="four", storage=f"sqlite:///{storage}")  # what optuna-dashboard reads
    assert sorted(t.state.name for t in study.trials) == sorted(t["state"] for t in trials)
    assert study.best_value == result["best"]["val_accuracy"]
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size[0] > 400


def test_ctrl_c_cancels_the_running_trials_and_resume_continues_the_study(server, tmp_path):
    storage = str(tmp_path / "tune.db")
    before = set(_jobs(server))
    cli = subprocess.Popen(
        [sys.executable, "-m", "client.cli", "tune", *server.cli_args, "--dataset", "digits", "--trials", "3",
         "--budget", "40000", "--parallel", "2", "--storage", storage, "--study", "cut", "--sampler", "random"],
        cwd=ROOT, env={k: v for k, v in os.environ.items() if k != "DESCENT_SERVER"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        new = {i: j for i, j in _jobs(server).items() if i not in before}
        if len(new) == 2 and all(j["state"] == "RUNNING" and j["steps"] > 0 for j in new.values()):
            break
        time.sleep(0.3)
    else:
        cli.kill()
        pytest.fail("the trials never ran")
    cli.send_signal(signal.SIGINT)
    _, stderr = cli.communicate(timeout=60)
    assert cli.returncode == 130, stderr
    assert "cancelled 2 running trial job(s); --resume cut continues the study" in stderr and "Traceback" not in stderr
    cut = {i: j for i, j in _jobs(server).items() if i not in before}
    assert len(cut) == 2 and {j["state"] for j in cut.values()} == {"CANCELLED"}  # the third was never submitted
    stopped_at = {i: j["steps"] for i, j in cut.items()}

    result = as_json(descent("tune", *server.cli_args, "--resume", "cut", "--storage", storage, "--json"))
    assert result["study"] == "cut" and len(result["trials"]) == 3 and result["best"] is not None
    jobs = _jobs(server)
    for t in result["trials"]:
        first = t["jobs"][0]
        if first in stopped_at:  # an interrupted trial went on from where its job was cancelled
            assert jobs[t["jobs"][1]]["parent"] == first and jobs[t["jobs"][1]]["parent_steps"] == stopped_at[first]
    assert {t["state"] for t in result["trials"]} <= {"COMPLETE", "PRUNED"}


def test_without_optuna_the_command_names_the_extra(tmp_path):
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'optuna' or name.startswith('optuna.'):\n"
        "            raise ImportError('blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "from client.cli import main\n"
        "sys.argv = ['descent', 'tune', '--dataset', 'digits']\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", blocker], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "DESCENT_STATE_DIR": str(tmp_path)})
    assert result.returncode == 1 and "descent[client]" in result.stderr and "Optuna" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args, code, words",
    [
        (("--param", "batch_size=1:2"), 2, "cannot search 'batch_size'"),
        (("--lr", "0:1"), 2, "0 < LOW <= HIGH"),
        (("--sampler", "grid", "--lr", "1e-3:1e-1"), 2, "a grid needs a list"),
        (("--momentum", "0.5", "--param", "momentum=0.5:0.9"), 2, "both fixed"),
        (("--optimizer", "lbfgs"), 2, "Invalid value for '--optimizer': 'lbfgs' is not one of 'sgd', 'momentum'"),
        (("--pruner", "median"), 2, "Invalid value for '--pruner'"),
        ((), 2, "name it with --storage FILE"),
        (("--resume", "nope", "--storage", "{tmp}/t.db"), 1, "error: NOT_FOUND: no descent study 'nope'"),
    ],
)
def test_bad_tune_input_is_refused_and_leaves_no_job(server, tmp_path, args, code, words):
    before = _jobs(server)
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = descent("tune", *server.cli_args, "--dataset", "digits", "--trials", "2", *args)
    assert result.returncode == code and words in result.stderr and "Traceback" not in result.stderr
    assert set(_jobs(server)) == set(before)
