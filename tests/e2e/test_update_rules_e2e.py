"""Update rules through the real CLI and server: the rule and schedule reach the store, bad ones are refused."""

from __future__ import annotations

import math

import pytest

from tests.cli import as_json, descent


def test_adam_with_cosine_schedule_trains_and_reports_its_lr(server):
    job = as_json(descent(
        "train", *server.cli_args, "--dataset", "digits", "--steps", "400", "--lr", "0.01",
        "--optimizer", "adam", "--beta1", "0.8", "--lr-schedule", "cosine", "--json",
    ))
    assert job["state"] == "SUCCEEDED" and job["steps"] == 400
    assert (job["optimizer"], job["beta1"], job["beta2"], job["lr_schedule"]) == ("adam", 0.8, 0.999, "cosine")
    # the last update's step size: 0.01 * (1 + cos(pi * 399 / 400)) / 2
    assert job["effective_lr"] == pytest.approx(0.01 * 0.5 * (1 + math.cos(math.pi * 399 / 400)), rel=1e-12)
    assert job["test_accuracy"] >= 0.93

    text = descent("status", job["job_id"], *server.cli_args)
    assert "adam (beta1 0.8, beta2 0.999, eps 1e-08), lr cosine, now" in text.stdout


@pytest.mark.parametrize(
    "args, words",
    [
        (("--optimizer", "momentum", "--momentum", "1"), "momentum must be in [0, 1)"),
        (("--lr-schedule", "step:100"), "must be step:EVERY,FACTOR"),
    ],
)
def test_bad_update_rule_is_one_clear_line_and_no_job(server, args, words):
    before = as_json(descent("jobs", *server.cli_args, "--json"))
    result = descent("train", *server.cli_args, "--dataset", "digits", *args)
    assert result.returncode == 1
    assert result.stderr.startswith("error: INVALID_ARGUMENT: ") and words in result.stderr
    assert "Traceback" not in result.stderr
    assert as_json(descent("jobs", *server.cli_args, "--json")) == before  # no state changed
