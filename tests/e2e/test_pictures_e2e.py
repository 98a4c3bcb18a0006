"""Templates and training curves through the real CLI and the shared server (the pieces: unit/test_pictures.py)."""

from __future__ import annotations

import numpy as np
import pytest

from proto import descent_pb2 as pb
from proto.tensor import from_chunks
from tests.cli import as_json, descent

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def trained(server):
    jobs = [as_json(descent("train", "--dataset", "digits", "--steps", "500", "--lr", lr, "--json", *server.cli_args))
            for lr in ("0.005", "0.02")]
    return server, [job["job_id"] for job in jobs]


def test_templates_of_a_job_are_its_weight_rows(trained, tmp_path):
    server, (job_id, _) = trained
    plot = tmp_path / "t.png"
    result = as_json(descent("templates", job_id, "--plot", str(plot), "--json", *server.cli_args))
    W, _ = from_chunks(server.trainer.GetWeights(pb.GetWeightsRequest(job_id=job_id)))
    tiles = np.array(result["tiles"])
    assert result["image_shape"] == [8, 8] and result["class_names"] == [str(c) for c in range(10)]
    np.testing.assert_array_equal(tiles.reshape(10, 64), W[:, :-1])
    assert plot.read_bytes().startswith(PNG)
    missing = descent("templates", "job-000000000000", "--plot", str(tmp_path / "x.png"), *server.cli_args)
    assert missing.returncode != 0 and "error: NOT_FOUND" in missing.stderr


def test_curve_of_two_jobs_and_status_history(trained, tmp_path):
    server, job_ids = trained
    plot = tmp_path / "c.png"
    result = as_json(descent("curve", *job_ids, "--plot", str(plot), "--json", *server.cli_args))
    assert [j["job_id"] for j in result["jobs"]] == job_ids
    for job in result["jobs"]:
        assert len(job["loss_history"]) == 500 == len(job["loss_smoothed"])
        steps = [p["step"] for p in job["curve"]]
        assert steps[0] == 0 and steps[-1] == 500 and steps == sorted(steps) and len(steps) >= 10
        assert job["curve"][-1]["val_accuracy"] == pytest.approx(job["val_accuracy"])  # the final W, evaluated twice
    assert plot.read_bytes().startswith(PNG)
    status = as_json(descent("status", job_ids[0], "--json", *server.cli_args))
    assert len(status["loss_history"]) == 500 and status["curve"] == result["jobs"][0]["curve"]


def test_a_continued_job_names_its_parent_and_its_curve_draws_the_chain_as_one_line(trained, tmp_path):
    server, (job_id, _) = trained
    child = as_json(descent("train", "--init-from", job_id, "--steps", "300", "--json", *server.cli_args))
    assert child["parent"] == job_id and child["parent_steps"] == 500 and child["init_from"] == job_id
    assert child["lr"] == 0.005 and child["state"] == "SUCCEEDED"  # the rest of the spec is the parent's
    text = descent("status", child["job_id"], *server.cli_args)
    assert text.returncode == 0 and f"continues {job_id} (after 500 updates" in " ".join(text.stdout.split())
    result = as_json(descent("curve", child["job_id"], "--plot", str(tmp_path / "c.png"), "--json", *server.cli_args))
    (line,) = result["jobs"]
    parent = as_json(descent("status", job_id, "--json", *server.cli_args))
    assert line["chain"] == [job_id, child["job_id"]] and line["steps"] == 800
    assert len(line["loss_history"]) == 800 and line["loss_history"][:500] == parent["loss_history"]
    steps = [p["step"] for p in line["curve"]]
    assert steps == sorted(steps) and steps[-1] == 800 and any(s <= 500 for s in steps)
    missing = descent("train", "--init-from", "job-000000000000", *server.cli_args)
    assert missing.returncode != 0 and "error: NOT_FOUND: init_from" in missing.stderr
