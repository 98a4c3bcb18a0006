"""The gradient check as a guard: a job whose gradient fails the first-batch check never trains.

In process, without Ray: the launcher is a stand-in that records what it is asked
to do, and the runner is given an analytic gradient with a planted bug.
"""

from __future__ import annotations

import numpy as np

from proto import descent_pb2
from server.analyses import first_batch_check as guard
from server.cluster.data_cache import DataCache
from server.jobs.registry import JobRegistry
from server.jobs.spec import JobConfig
from server.training.runner import JobRunner
from tests.fakes import Objects
from tests.stored import stored_status
from worker import kernel, svm
from worker.data import prepare as data


class NoRay:
    """A launcher that must not be used: it records calls and refuses them."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        def refuse(*args, **kwargs):
            self.calls.append(name)
            raise RuntimeError(f"the launcher was asked to {name}")

        return refuse


def missing_factor_two(W, X, y, reg):
    loss, dW = kernel.svm_loss_grad(W, X, y, reg)
    return loss, dW - reg * W


def run(tmp_path, grad_fn):
    registry = JobRegistry(tmp_path)
    launcher = NoRay()
    runner = JobRunner(registry, launcher, "localhost:0", grad_fn=grad_fn, data_cache=DataCache(Objects()))
    job = registry.create(JobConfig(dataset="digits", workers=1, steps=10, reg=1e-3, check_gradient=True))
    runner.start(job)
    runner.join(timeout=60)
    return job, launcher, registry


def test_a_failing_check_refuses_to_train(tmp_path):
    job, launcher, registry = run(tmp_path, missing_factor_two)
    status = registry.status(job.job_id)
    assert descent_pb2.JobState.Name(status.state) == "FAILED"
    assert status.message.startswith("gradient check on the first batch failed")
    assert "not training" in status.message and status.started_at == 0
    assert status.first_batch_check.num_checked == 20 and not status.first_batch_check.passed
    assert launcher.calls == []  # no placement, no worker started
    stored = stored_status(tmp_path, job.job_id)
    assert descent_pb2.JobState.Name(stored.state) == "FAILED"
    assert stored.first_batch_check.num_checked == 20 and not stored.first_batch_check.passed


def test_a_passing_check_goes_on_to_start_the_workers(tmp_path):
    job, launcher, _ = run(tmp_path, kernel.svm_loss_grad)
    assert job.first_batch_check.passed and job.first_batch_check.level == "fine"
    assert launcher.calls and launcher.calls[0] != "put"  # past the guard (data is in the cache): placing workers
    assert "the launcher was asked to" in job.message


def test_the_guard_checks_worker_zeros_first_batch():
    d = data.prepare("digits", 0, dtype="float32")
    W = (1e-3 * np.random.default_rng(0).standard_normal((10, 65))).astype(np.float32)
    before = W.tobytes()
    report = guard.first_batch_check(W, d.X_train, d.y_train, batch_size=256, reg=1e-5, batch_seed=42, check_seed=0)
    Xb, yb = data.sample_batch(d.X_train, d.y_train, 256, np.random.default_rng(42))  # what worker 0 draws first
    assert report.verdict.passed and len(report.result.checks) == guard.GUARD_CHECKS
    assert report.result.loss == float(svm.svm_loss(W.astype(np.float64), Xb.astype(np.float64), yb, 1e-5))
    assert W.tobytes() == before
