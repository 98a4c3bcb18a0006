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
