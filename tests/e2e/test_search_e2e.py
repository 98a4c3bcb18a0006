"""Strategies #1 and #2: search jobs through the real CLI and the shared server (the rule and the store: unit/test_search.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.cli import as_json, descent
from worker import svm
from worker.data import prepare as data


def _train(server, strategy, *extra):
    return as_json(descent("train", "--dataset", "digits", "--strategy", strategy, "--steps", "2000", "--seed", "1",
                           "--json", *extra, *server.cli_args))


def test_at_an_equal_budget_random_search_below_local_search_below_gradient(server):
    jobs = {s: _train(server, s) for s in ("random-search", "random-local-search", "gradient")}
    for strategy, job in jobs.items():
        assert job["state"] == "SUCCEEDED" and job["strategy"] == strategy
        assert job["loss_evaluations"] == job["steps"] == 2000
    accuracy = {s: job["test_accuracy"] for s, job in jobs.items()}
    print("test accuracy at 2,000 loss evaluations:", accuracy)
    assert accuracy["random-search"] < accuracy["random-local-search"] < accuracy["gradient"]
    assert accuracy["random-search"] < 0.5 < 0.75 < accuracy["random-local-search"]


def test_local_search_on_the_whole_split_never_raises_the_loss(server):
    job = _train(server, "random-local-search", "--batch-size", "100000", "--steps", "600")
    status = as_json(descent("status", job["job_id"], "--json", *server.cli_args))
    history = status["loss_history"]
    assert len(history) == 600 and np.all(np.diff(history) <= 0) and history[-1] < history[0]
    d = data.prepare("digits", 1, dtype="float32")
    W0 = (1e-3 * np.random.default_rng(np.random.SeedSequence(1).generate_state(1, dtype=np.uint64)[0])
          .standard_normal((10, 65))).astype(np.float32)
    assert history[0] == pytest.approx(float(svm.svm_loss(W0, d.X_train, d.y_train, 1e-5)), rel=1e-6)
    steps = [p["step"] for p in status["curve"]]
    assert steps[0] == 0 and steps[-1] == 600


def test_search_jobs_refuse_gradient_options(server):
    bad = descent("train", "--dataset", "digits", "--strategy", "random-search", "--gradient", "numerical", *server.cli_args)
    assert bad.returncode != 0 and "error: INVALID_ARGUMENT" in bad.stderr and "strategy" in bad.stderr
