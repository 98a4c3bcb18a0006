"""The --json contract: hand-built protocol messages → exactly the documented keys and values."""

from __future__ import annotations

import json
import math

from client.output.check_text import gradcheck_report, sweep_report
from client.output.render import cluster_json, gradcheck_json, job_json, sweep_json
from client.output.text import cluster_report, job_summary, jobs_table
from proto import descent_pb2

JOB_KEYS = {
    "job_id", "state", "dataset", "workers", "batch_size", "steps", "lr", "reg", "loss",
    "train_accuracy", "val_accuracy", "test_accuracy", "seconds", "examples_per_second", "per_worker",
}


def _status(**overrides) -> descent_pb2.JobStatus:
    spec = descent_pb2.JobSpec(dataset="digits", workers=2, batch_size=256, steps=300, lr=0.01, reg=1e-4, seed=3, dtype="float32")
    status = descent_pb2.JobStatus(
        job_id="job-1",
        spec=spec,
        state=descent_pb2.SUCCEEDED,
        steps=300,
        version=300,
        loss=0.125,
        train_accuracy=0.97,
        test_accuracy=0.955,
        seconds=2.5,
        examples_per_second=30720.0,
        per_worker=[
            descent_pb2.WorkerStats(worker_id="w0", node_id="n1", steps=160),
            descent_pb2.WorkerStats(worker_id="w1", node_id="n1", steps=140),
        ],
        created_at=1700000000.0,
        num_classes=10,
        num_features=65,
    )
    for name, value in overrides.items():
        setattr(status, name, value)
    return status


def test_job_json_has_the_contract_keys_and_values():
    job = job_json(_status())
    assert JOB_KEYS <= set(job)
    assert {k: job[k] for k in JOB_KEYS} == {
        "job_id": "job-1",
        "state": "SUCCEEDED",
        "dataset": "digits",
        "workers": 2,
        "batch_size": 256,
        "steps": 300,
        "lr": 0.01,
        "reg": 1e-4,
        "loss": 0.125,
        "train_accuracy": 0.97,
        "val_accuracy": None,  # unset optional → null, not 0.0
        "test_accuracy": 0.955,
        "seconds": 2.5,
        "examples_per_second": 30720.0,
        "per_worker": [
            {"worker_id": "w0", "node_id": "n1", "steps": 160},
            {"worker_id": "w1", "node_id": "n1", "steps": 140},
        ],
    }
    assert job["seed"] == 3 and job["dtype"] == "float32" and job["total_steps"] == 300
    assert job["started_at"] is None  # zero timestamps mean "not yet"
    json.dumps(job, allow_nan=False)


def test_job_json_unset_spec_fields_and_zero_accuracy():
    status = descent_pb2.JobStatus(job_id="j", state=descent_pb2.PENDING, spec=descent_pb2.JobSpec(dataset="digits"))
    status.test_accuracy = 0.0  # set to zero is not the same as unset
    job = job_json(status)
    assert job["state"] == "PENDING"
    assert job["workers"] is None and job["lr"] is None and job["total_steps"] is None
    assert job["test_accuracy"] == 0.0 and job["train_accuracy"] is None
    assert job["per_worker"] == []


def test_non_finite_loss_becomes_null_so_the_output_is_strict_json():
    job = job_json(_status(loss=math.nan, state=descent_pb2.FAILED, message="diverged"))
    assert job["loss"] is None and job["state"] == "FAILED" and job["message"] == "diverged"
    json.dumps(job, allow_nan=False)


def _gradcheck(passed: bool = True) -> descent_pb2.GradientCheckResponse:
    return descent_pb2.GradientCheckResponse(
        formula=descent_pb2.FORWARD,
        h=1e-5,
        checks=[
            descent_pb2.CoordinateCheck(c=3, d=17, analytic=0.25, numeric=0.2500001, rel_error=2e-7),
            descent_pb2.CoordinateCheck(c=0, d=64, analytic=-0.5, numeric=-0.4, rel_error=0.11, kink=True),
            descent_pb2.CoordinateCheck(c=9, d=0, analytic=0.0, numeric=1e-12, rel_error=1.0, below_resolution=True),
        ],
        max_rel_error=1.0,
        max_rel_error_smooth=2e-7,
        passed=passed,
        loss=8.99,
        dataset="digits",
        num_examples=256,
        threshold=1e-4,
    )


def test_gradcheck_json_contract():
    assert gradcheck_json(_gradcheck()) == {
        "formula": "forward",
        "h": 1e-5,
        "checks": [
            {"index": [3, 17], "analytic": 0.25, "numeric": 0.2500001, "rel_error": 2e-7, "kink": False, "below_resolution": False},
            {"index": [0, 64], "analytic": -0.5, "numeric": -0.4, "rel_error": 0.11, "kink": True, "below_resolution": False},
            {"index": [9, 0], "analytic": 0.0, "numeric": 1e-12, "rel_error": 1.0, "kink": False, "below_resolution": True},
        ],
        "max_rel_error": 1.0,
        "max_rel_error_smooth": 2e-7,
        "passed": True,
        "loss": 8.99,
        "threshold": 1e-4,
        "dataset": "digits",
        "num_examples": 256,
        "method": "incremental",  # unspecified
        "full": False,
        "job_id": None,
        "num_coordinates": 0,
        "num_checked": 3,
        "num_smooth": 0,  # the summary message was not set in this hand-built response
        "num_kink": 0,
        "num_below_resolution": 0,
        "mean_rel_error_smooth": 0.0,
        "max_rel_error_kink": 0.0,
        "max_abs_error_smooth": 0.0,
        "resolution": 0.0,
        "verdict": None,
        "forward_error_expected": False,
        "notes": [],
        "by_h": [],
        "seconds": 0.0,
        "tasks": 0,
    }


def test_unspecified_formula_is_centered():
    assert gradcheck_json(descent_pb2.GradientCheckResponse())["formula"] == "centered"


def test_gradcheck_report_shows_flags_and_verdict():
    text = gradcheck_report(gradcheck_json(_gradcheck()))
    assert "2.0e-07" in text and "kink" in text and "below-res" in text
    assert text.splitlines()[-1].startswith("PASSED")
    assert gradcheck_report(gradcheck_json(_gradcheck(passed=False))).splitlines()[-1].startswith("FAILED")


def _sweep() -> descent_pb2.StepSizeSweepResponse:
    rows = [descent_pb2.SweepRow(step_size=10.0**e, loss=9.0 - (e + 10) * 0.1) for e in range(-10, 0)]
    return descent_pb2.StepSizeSweepResponse(loss_original=8.99, rows=rows, best_step_size=0.1, dataset="digits", num_examples=1797)


def test_sweep_json_contract():
    result = sweep_json(_sweep())
    assert set(result) >= {"loss_original", "rows", "best_step_size"}
    assert result["loss_original"] == 8.99
    assert result["best_step_size"] == 0.1
    assert result["rows"][0] == {"step_size": 1e-10, "loss": 9.0}
    assert len(result["rows"]) == 10


def test_sweep_report_reads_like_the_notes():
    lines = sweep_report(sweep_json(_sweep())).splitlines()
    assert lines[0] == "original loss: 8.990000"
    assert lines[1] == "for step size 1e-10 new loss: 9.000000"
    assert lines[-2] == "for step size 1e-01 new loss: 8.100000  <- best"
    assert lines[-1] == "best step size: 1e-01 (at a random W on digits, 1,797 examples)"
    assert sum("<- best" in line for line in lines) == 1


def test_cluster_json_contract():
    response = descent_pb2.ClusterInfoResponse(
        nodes=[descent_pb2.NodeInfo(node_id="n1", address="10.0.0.2", alive=True, cpus=2.0, is_head=True,
                                    roles=["head", "server", "worker"]),
               descent_pb2.NodeInfo(node_id="n2dead", address="10.0.0.3", alive=False, cpus=0.0)],
        total_cpus=2.0,
        available_cpus=0.0,
        workers=[descent_pb2.ActiveWorker(job_id="job-1", worker_id="w0", node_id="n1")],
        ray_address="10.0.0.2:6379",
        server_version="0.1.0",
    )
    info = cluster_json(response)
    assert info == {
        "nodes": [{"node_id": "n1", "address": "10.0.0.2", "alive": True, "cpus": 2.0, "is_head": True,
                   "roles": ["head", "server", "worker"]},
                  {"node_id": "n2dead", "address": "10.0.0.3", "alive": False, "cpus": 0.0, "is_head": False,
                   "roles": []}],
        "server_version": "0.1.0",
        "total_cpus": 2.0,
        "available_cpus": 0.0,
        "workers": [{"job_id": "job-1", "worker_id": "w0", "node_id": "n1"}],
        "ray_address": "10.0.0.2:6379",
    }
    report = cluster_report(info)
    assert "10.0.0.2:6379" in report and report.splitlines()[0] == "server       descent 0.1.0"
    rows = {line.split()[0]: line.split() for line in report.splitlines() if line.startswith("n")}
    assert rows["n1"][2:] == ["alive", "2", "head,server,worker"]
    assert rows["n2dead"][2:] == ["dead", "-", "-"]


def test_human_job_text():
    job = job_json(_status())
    summary = job_summary(job)
    assert "SUCCEEDED" in summary and "300/300" in summary and "0.9550" in summary and "w1 on node n1" in summary
    table = jobs_table([job]).splitlines()
    assert table[0].split()[:3] == ["JOB", "STATE", "DATASET"]
    assert table[1].split()[:3] == ["job-1", "SUCCEEDED", "digits"]
    assert jobs_table([]) == "no jobs"
    assert "pushed" not in summary  # no gRPC pushes, no compression: nothing to say


def test_job_text_and_json_show_the_bytes_pushed_and_the_compression():
    status = _status(push_bytes=1_234_567)
    status.spec.compress = "topk:0.01"
    job = job_json(status)
    assert job["push_bytes"] == 1_234_567 and job["compress"] == "topk:0.01"
    assert "1,234,567 gradient bytes over gRPC (compress topk:0.01)" in job_summary(job)


def _summary(h, formula, max_smooth, mean_smooth, expected=False, kinks=0, below=0):
    return descent_pb2.CheckSummary(
        h=h, formula=formula, num_checked=650, num_smooth=650 - kinks - below, num_kink=kinks,
        num_below_resolution=below, max_rel_error_smooth=max_smooth, mean_rel_error_smooth=mean_smooth,
        max_rel_error_kink=math.nan, level="fine", passed=True, forward_error_expected=expected,
    )


def _full_check() -> descent_pb2.GradientCheckResponse:
    checks = [
        descent_pb2.CoordinateCheck(c=c, d=d, analytic=1.0 + d, numeric=1.0 + d, rel_error=1e-15 * (d + 1))
        for c in range(10) for d in range(65)
    ]
    checks[7].kink, checks[7].rel_error = True, 0.4
    rows = [
        descent_pb2.ErrorVsH(h=h, centered=_summary(h, descent_pb2.CENTERED, 1e-14, 1e-15, kinks=k),
                             forward=_summary(h, descent_pb2.FORWARD, h * 10, h, expected=True, kinks=k))
        for h, k in ((1e-3, 12), (1e-5, 0))
    ]
    return descent_pb2.GradientCheckResponse(
        formula=descent_pb2.CENTERED, h=1e-3, checks=checks, max_rel_error=0.4, max_rel_error_smooth=6.5e-14,
        passed=True, loss=9.0, dataset="digits", num_examples=256, threshold=1e-7, method=descent_pb2.BRUTE,
        full=True, job_id="job-1", summary=_summary(1e-3, descent_pb2.CENTERED, 6.5e-14, 1e-15, kinks=1),
        verdict="fine", notes=["one", "two"], by_h=rows, num_coordinates=650, seconds=0.5, tasks=3,
    )


def test_full_check_json_and_text():
    check = gradcheck_json(_full_check())
    json.dumps(check, allow_nan=False)
    assert check["method"] == "brute" and check["full"] and check["job_id"] == "job-1" and check["tasks"] == 3
    assert check["num_kink"] == 1 and check["verdict"] == "fine" and check["notes"] == ["one", "two"]
    assert [row["h"] for row in check["by_h"]] == [1e-3, 1e-5]
    assert check["by_h"][0]["forward"]["forward_error_expected"] and check["by_h"][0]["centered"]["num_kink"] == 12
    assert check["by_h"][0]["centered"]["max_rel_error_kink"] is None  # nan → null
    text = gradcheck_report(check)
    assert "all 650 coordinates" in text and "job job-1 on digits" in text and "brute" in text
    assert "largest relative errors among 649 smooth coordinates" in text
    assert "largest among 1 kink coordinates" in text
    assert len(text.splitlines()) < 60  # not 650 rows
    assert "  - one" in text and "error vs h (brute)" in text and "1.0e-02*" in text


def test_job_json_and_text_of_a_numerical_job():
    status = _status()
    status.spec.gradient, status.spec.numerical_method, status.spec.check_gradient = "numerical", "brute", True
    status.gradient_seconds_per_step, status.analytic_seconds_per_step = 0.2, 0.0004
    status.first_batch_check.CopyFrom(_summary(1e-5, descent_pb2.CENTERED, 3e-15, 1e-15))
    job = job_json(status)
    assert job["gradient"] == "numerical" and job["numerical_method"] == "brute" and job["check_gradient"] is True
    assert job["gradient_seconds_per_step"] == 0.2 and job["analytic_seconds_per_step"] == 0.0004
    assert job["first_batch_check"]["passed"] and job["first_batch_check"]["num_checked"] == 650
    text = job_summary(job)
    assert "numerical (brute): 200 ms/step vs analytic 0.4 ms/step (500x)" in text
    assert "first batch: passed (fine)" in text
    analytic = job_json(_status())
    assert analytic["gradient"] is None and analytic["gradient_seconds_per_step"] is None
    assert analytic["first_batch_check"] is None


def test_sweep_plot_is_a_png(tmp_path):
    from client.plots.sweep_plot import save_sweep_plot

    sweep = sweep_json(_sweep())
    path = tmp_path / "sweep.png"
    save_sweep_plot(sweep, str(path))
    png = path.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.png"]  # no temporary file left


def test_h_list_option():
    from client.commands.options import FLOATS

    assert FLOATS.convert("1e-3,1e-5, 1e-7", None, None) == [1e-3, 1e-5, 1e-7]
    assert FLOATS.convert("1e-5", None, None) == [1e-5]
