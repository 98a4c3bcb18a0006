"""Gradient checks, sweeps and numerical-gradient training end to end: a real server, real Ray, the real CLI.

One server (local Ray, 2 CPUs) serves the whole module; the issue's commands run as
CLI subprocesses, the rest through the gRPC stubs.
"""

from __future__ import annotations

import time

import grpc
import numpy as np
import pytest

from proto import descent_pb2 as pb
from tests.cli import as_json, descent
from worker import checks, fdiff, numgrad
from worker.data import prepare as data

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def trained_job(server):
    """A digits job trained with the defaults (2 workers, 2,000 steps)."""
    job = server.trainer.SubmitJob(pb.SubmitJobRequest(spec=pb.JobSpec(dataset="digits")))
    for status in server.trainer.WatchJob(pb.WatchJobRequest(job_id=job.job_id, interval=0.2)):
        pass
    assert status.state == pb.SUCCEEDED, status.message
    return status


def run_job(server, **spec) -> pb.JobStatus:
    job = server.trainer.SubmitJob(pb.SubmitJobRequest(spec=pb.JobSpec(**spec)))
    for _ in server.trainer.WatchJob(pb.WatchJobRequest(job_id=job.job_id, interval=0.1)):
        pass
    return server.trainer.GetJob(pb.GetJobRequest(job_id=job.job_id, include_history=True))


def test_full_check_on_digits_and_forward(server):
    at = server.cli_args
    check = as_json(descent("gradcheck", "--dataset", "digits", "--full", "--json", *at))
    assert check["full"] and check["method"] == "incremental" and check["num_coordinates"] == 650
    assert [c["index"] for c in check["checks"]] == [[c, d] for c in range(10) for d in range(65)]
    assert check["passed"] and check["verdict"] == "fine" and check["max_rel_error_smooth"] < 1e-7
    below = [c for c in check["checks"] if c["below_resolution"]]
    assert len(below) == check["num_below_resolution"] >= 10  # digits' always-blank pixels
    assert all(abs(c["analytic"]) + abs(c["numeric"]) < 1e-6 for c in below)

    forward = descent("gradcheck", "--dataset", "digits", "--checks", "50", "--formula", "forward", *at)
    assert forward.returncode == 0, forward.stderr
    assert "truncation error" in forward.stdout and "reg·h" in forward.stdout
    forward_json = as_json(descent("gradcheck", "--dataset", "digits", "--checks", "50", "--formula", "forward", "--json", *at))
    centered_json = as_json(descent("gradcheck", "--dataset", "digits", "--checks", "50", "--json", *at))
    assert forward_json["max_rel_error_smooth"] > 10 * centered_json["max_rel_error_smooth"]
    assert forward_json["forward_error_expected"] and any("truncation" in n for n in forward_json["notes"])


def test_error_vs_h(server):
    check = as_json(descent("gradcheck", "--dataset", "digits", "--h", "1e-3,1e-5,1e-7,1e-9", "--json", *server.cli_args))
    assert [row["h"] for row in check["by_h"]] == [1e-3, 1e-5, 1e-7, 1e-9]
    assert check["h"] == 1e-3
    forward = [row["forward"]["mean_rel_error_smooth"] for row in check["by_h"]]
    assert forward[0] > forward[1] > forward[2]
    text = descent("gradcheck", "--dataset", "digits", "--h", "1e-3,1e-5", *server.cli_args).stdout
    assert "error vs h" in text and "CENTERED MAX" in text and "FORWARD MAX" in text


def test_distributed_full_check_matches_brute_force_in_process(server):
    """CIFAR-width W (10 x 501 here) in several Ray tasks, with progress; brute force in this process is the oracle."""
    request = pb.GradientCheckRequest(dataset="synthetic:400,500,10", full=True, seed=2)
    messages = list(server.trainer.GradientCheckStream(request))
    result = messages[-1].result
    progress = [(m.done, m.total) for m in messages[:-1]]
    assert progress[0] == (0, 5010) and all(b[0] >= a[0] for a, b in zip(progress, progress[1:]))
    assert progress[-1] == (5010, 5010) and result.tasks >= 2 and len(progress) >= result.tasks + 1
    assert result.verdict == "fine" and result.passed

    d = data.prepare("synthetic:400,500,10", seed=2, dtype="float64")
    problem = checks.setup(d.X_train, d.y_train, 10, reg=1e-5, seed=2, init_scale=1e-3, batch_size=256, checks=20, full=True)
    brute = fdiff.numerical_gradient_svm(problem.W, problem.X, problem.y, 1e-5, method="brute").ravel()
    served = np.array([c.numeric for c in result.checks])
    assert np.abs(served - brute).max() <= 1e-8 * np.abs(brute).max()
    assert numgrad.rel_error(served, brute).max() <= 1e-6


def test_cancelling_a_check_cancels_its_tasks(server):
    # ~30 s of brute force on 2 CPUs, just under the default --max-request-flops (256 examples would pass it)
    request = pb.GradientCheckRequest(dataset="synthetic:400,3072,10", full=True, method=pb.BRUTE, batch_size=200)
    call = server.trainer.GradientCheckStream(request)
    first = next(call)
    assert first.total == 30730 and first.done == 0
    time.sleep(1.0)  # the brute-force chunks are running
    call.cancel()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.trainer.ClusterInfo(pb.ClusterInfoRequest()).available_cpus == 2:
            break
        time.sleep(0.2)
    assert server.trainer.ClusterInfo(pb.ClusterInfoRequest()).available_cpus == 2, "the chunk tasks kept running"


def test_at_a_trained_w_kinks_are_counted_not_blamed(server, trained_job):
    at = server.cli_args
    # The whole training split (1,257 examples) and h = 1e-3: with 256 examples the count of kinks within
    # reach swings between 0 and ~130 from one trained W to the next (a kink is a margin within h·|x| of 0).
    check = as_json(descent("gradcheck", "--job", trained_job.job_id, "--full", "--h", "1e-3", "--batch-size", "2000",
                            "--json", *at))
    assert check["job_id"] == trained_job.job_id and check["dataset"] == "digits" and check["num_examples"] == 1257
    assert check["num_kink"] > 50
    assert sum(c["kink"] for c in check["checks"]) == check["num_kink"]
    assert check["passed"] and check["verdict"] != "wrong"
    assert check["max_rel_error_kink"] > check["max_rel_error_smooth"]
    assert any("kink" in note for note in check["notes"])
    sparse = as_json(descent("gradcheck", "--job", trained_job.job_id, "--json", *at))
    assert sparse["passed"] and abs(sparse["loss"]) < 1.0  # a trained W: a small loss


def test_sweep_at_a_job_with_a_plot(server, trained_job, tmp_path):
    plot = tmp_path / "sweep.png"
    sweep = as_json(descent("sweep", "--job", trained_job.job_id, "--from", "1e-10", "--to", "1e-1", "--points", "19",
                            "--plot", str(plot), "--json", *server.cli_args))
    steps = [row["step_size"] for row in sweep["rows"]]
    np.testing.assert_allclose(steps, np.logspace(-10, -1, 19), rtol=1e-9)
    assert steps == sorted(steps) and steps[0] == 1e-10 and steps[-1] == 1e-1
    losses = [row["loss"] for row in sweep["rows"]]
    assert sweep["best_step_size"] == steps[int(np.argmin(losses))] and sweep["job_id"] == trained_job.job_id
    assert sweep["plot"] == str(plot) and not sweep["open_ended"]
    png = plot.read_bytes()
    assert png.startswith(PNG_SIGNATURE) and len(png) > 10_000

    ranged = server.trainer.StepSizeSweep(pb.StepSizeSweepRequest(dataset="digits", step_min=1e-6, step_max=1e2, points=17))
    ranged_losses = [r.loss for r in ranged.rows]
    best = int(np.argmin(ranged_losses))
    assert 0 < best < 16 and ranged.best_step_size == ranged.rows[best].step_size  # strictly inside
    assert ranged.tasks >= 2


def test_numerical_training_follows_the_analytic_trajectory(server):
    # Without overlap: an overlapping worker computes each gradient one update late (staleness 1).
    analytic = run_job(server, dataset="digits", workers=1, steps=15, seed=4, overlap=False)
    numerical = run_job(server, dataset="digits", workers=1, steps=15, seed=4, gradient="numerical")
    assert analytic.state == numerical.state == pb.SUCCEEDED, numerical.message
    a, n = np.array(analytic.loss_history), np.array(numerical.loss_history)
    assert len(a) == len(n) == 15
    assert (np.abs(n - a) / np.abs(a)).max() <= 1e-4
    assert numerical.gradient_seconds_per_step > numerical.analytic_seconds_per_step > 0
    assert [w.steps for w in numerical.per_worker] == [15]

    job = as_json(descent("train", "--dataset", "digits", "--gradient", "numerical", "--steps", "5", "--workers", "2",
                          "--check-gradient", "--json", *server.cli_args))
    assert job["state"] == "SUCCEEDED" and job["gradient"] == "numerical" and job["steps"] == 5
    assert job["gradient_seconds_per_step"] > job["analytic_seconds_per_step"] > 0
    assert job["first_batch_check"]["passed"] and job["first_batch_check"]["num_checked"] == 20


@pytest.mark.parametrize(
    "args, code",
    [
        (("gradcheck", "--job", "job-000000000000"), "NOT_FOUND"),
        (("gradcheck", "--job", "job-000000000000", "--dataset", "digits"), "INVALID_ARGUMENT"),
        (("gradcheck", "--dataset", "digits", "--h", "1e-5,-1"), "INVALID_ARGUMENT"),
        (("sweep", "--dataset", "digits", "--from", "1", "--to", "0.1"), "INVALID_ARGUMENT"),
        (("sweep", "--job", "job-000000000000"), "NOT_FOUND"),
    ],
)
def test_bad_requests_are_one_line(server, args, code):
    result = descent(*args, *server.cli_args)
    assert result.returncode == 1 and result.stderr.startswith(f"error: {code}: "), result.stderr


def test_bad_gradient_spec_is_rejected(server):
    with pytest.raises(grpc.RpcError) as info:
        server.trainer.SubmitJob(pb.SubmitJobRequest(spec=pb.JobSpec(dataset="digits", gradient="symbolic")))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "gradient" in info.value.details()
