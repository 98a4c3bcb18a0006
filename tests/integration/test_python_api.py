"""The Python API (``descent``) against the shared real server: a digits job followed to its end and
read back as arrays and pictures, the notes' measurements, and every failure as the documented
exception carrying the server's own message (compared with the raw gRPC answer)."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

import descent
from client.rpc.channel import open_channel
from formats.model import load_model
from proto import descent_pb2 as pb
from proto import descent_pb2_grpc

STEPS = 600


@pytest.fixture(scope="module")
def session(server):
    with descent.connect(server.address, token=server.token) as s:
        yield s


@pytest.fixture(scope="module")
def job(session):
    job = session.train(dataset="digits", steps=STEPS, workers=1, seed=3)
    job.wait(progress=False)
    return job


def raw_details(server, method, request) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as caught:
        method(request, timeout=60)
    return caught.value.code(), caught.value.details()


def is_png(data: bytes) -> bool:
    return data[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_digits_job_followed_to_its_end_and_read_back(session, job, tmp_path):
    status = job.status()
    assert status.state == "SUCCEEDED" and status.steps == STEPS
    assert status.test_accuracy > 0.9 and status.spec["seed"] == 3 and status.spec["steps"] == STEPS
    curve = job.curve()
    assert curve.loss.shape == (STEPS,) and np.all(np.isfinite(curve.loss))
    assert np.array_equal(curve.updates, np.arange(1, STEPS + 1))
    tail = curve.loss[-STEPS // 10:]
    assert status.loss == pytest.approx(tail.mean(), rel=1e-9)  # the status's loss: mean of the last 10 %
    assert len(curve.step) == len(curve.val_accuracy) > 0 and curve.val_accuracy[-1] > 0.8
    W = job.weights()
    assert W.shape == (10, 65)
    templates = job.templates()
    assert templates.images.shape == (10, 8, 8) and templates.class_names == [str(k) for k in range(10)]
    assert np.array_equal(templates.images, W[:, :-1].reshape(10, 8, 8))
    model_path = job.export(tmp_path / "model.npz", test_split=tmp_path / "test.npz")
    model = load_model(model_path)
    assert np.array_equal(model.W, W) and model.job_id == job.id
    test = np.load(tmp_path / "test.npz")
    evaluation = job.evaluate()
    assert evaluation.accuracy == status.test_accuracy and evaluation.confusion.sum() == len(test["y"])
    prediction = job.predict(test["X"])
    assert np.mean(prediction.labels == test["y"]) == pytest.approx(status.test_accuracy)
    assert prediction.scores.shape == (len(test["y"]), 10)
    assert job.id in [j.id for j in session.jobs()] and session.job(job.id).status().state == "SUCCEEDED"
    for result in (status, curve, templates, evaluation, prediction):
        fig = result.plot()
        assert type(fig).__name__ == "Figure" and fig.axes, type(result).__name__
        assert is_png(result._repr_png_()) and "<img" in result._repr_html_()


def test_the_notes_measurements_as_arrays(session, job):
    check = session.gradcheck("digits", checks=8, seed=1)
    assert check.passed and check.rel_error.shape == (8,) and check.analytic.shape == check.numeric.shape == (8,)
    assert "<table>" in check._repr_html_() and is_png(check._repr_png_())
    at_job = session.sweep(job=job, points=5, step_min=1e-4, step_max=1.0)
    assert at_job.step_size.shape == (5,) and at_job.best_step_size in at_job.step_size
    land = session.landscape("digits", points=5, examples=50, seed=2)
    assert land.plane_loss.shape == (5, 5) and land.line_loss.shape == (5,)
    assert land.plane_loss[2, 2] == pytest.approx(land.center_loss) and land.line_loss[2] == pytest.approx(land.center_loss)
    mini = session.minibatch("digits", draws=5, batch_sizes=[1, 16, 256])
    assert set(mini.batch_size[~mini.full]) == {1, 16, 256} and mini.full.sum() == 1
    assert mini.cosine_mean[mini.full][0] == pytest.approx(1.0)
    for result in (check, at_job, land, mini):
        assert type(result.plot()).__name__ == "Figure"


def test_a_bad_hyperparameter_raises_invalid_argument_with_the_servers_message(session, server):
    with pytest.raises(descent.InvalidArgument) as caught:
        session.train(dataset="digits", lr=-0.1)
    code, details = raw_details(server, server.trainer.SubmitJob, pb.SubmitJobRequest(spec=pb.JobSpec(dataset="digits", lr=-0.1)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.code == "INVALID_ARGUMENT" and caught.value.details == details and "lr" in details
    assert isinstance(caught.value, descent.DescentError)
    with pytest.raises(descent.InvalidArgument, match="not JobSpec fields: learning_rate"):
        session.train(dataset="digits", learning_rate=0.1)


def test_an_unknown_job_raises_not_found_with_the_servers_message(session, server):
    with pytest.raises(descent.NotFound) as caught:
        session.job("no-such-job")
    _, details = raw_details(server, server.trainer.GetJob, pb.GetJobRequest(job_id="no-such-job"))
    assert caught.value.details == details and "no-such-job" in details
    with pytest.raises(descent.NotFound):
        session.evaluate("no-such-job")


def test_a_path_outside_the_data_roots_raises_permission_denied(session, server):
    with pytest.raises(descent.PermissionDenied) as caught:
        session.train(dataset="mnist:/no/such/dir")
    code, details = raw_details(server, server.trainer.SubmitJob, pb.SubmitJobRequest(spec=pb.JobSpec(dataset="mnist:/no/such/dir")))
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert caught.value.details == details and "data roots" in details


def test_a_wrong_token_raises_unauthenticated(server):
    with descent.connect(server.address, token="not-the-token") as wrong:
        with pytest.raises(descent.Unauthenticated) as caught:
            wrong.jobs()
    channel = open_channel(server.address, "not-the-token")
    try:
        code, details = raw_details(server, descent_pb2_grpc.TrainerStub(channel).ListJobs, pb.ListJobsRequest())
    finally:
        channel.close()
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert caught.value.code == "UNAUTHENTICATED" and caught.value.details == details


def test_a_closed_session_says_so(server):
    s = descent.connect(server.address, token=server.token)
    s.close()
    s.close()  # twice is fine
    with pytest.raises(descent.FailedPrecondition, match="closed"):
        s.jobs()


def test_a_grid_search_ranks_its_trials(session):
    search = session.tune("digits", lr=[1e-3, 1e-2], reg=[1e-5], sampler="grid", pruner="none", budget=100, parallel=2)
    assert search.jobs == 2 and len(search.trials) == 2
    accuracies = [t["val_accuracy"] for t in search.trials]
    assert search.best["val_accuracy"] == max(accuracies) and accuracies == sorted(accuracies, reverse=True)
    assert {t["params"]["lr"] for t in search.trials} == {1e-3, 1e-2}
    assert all(session.job(t["job_id"]).status().steps == 100 for t in search.trials)
    assert type(search.plot()).__name__ == "Figure" and is_png(search._repr_png_())


def test_scale_resizes_an_elastic_job_and_refuses_a_finished_one(session, job):
    with pytest.raises(descent.DescentError) as refused:
        job.scale(2)  # the module's job is rigid and finished
    assert refused.value.code in ("FAILED_PRECONDITION", "INVALID_ARGUMENT") and job.id in refused.value.details
    elastic = session.train(dataset="digits", steps=200_000, lr=1e-4, min_workers=1, max_workers=2)
    try:
        status = elastic.scale(1)
        assert status.state in ("PENDING", "QUEUED", "RUNNING")
        assert session.job(elastic.id).status().spec["workers"] == 1  # the new target, persisted
    finally:
        elastic.cancel()
