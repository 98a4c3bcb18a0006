"""Templates and training curves: exact reshapes of W's rows, the curve recorder on a real store, the CLI end to end."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from client.output.notes_render import smooth
from client.plots.templates import template_tiles
from proto import descent_pb2 as pb
from proto.tensor import from_chunks
from server.training import curve
from server.training.curve import CurveRecorder, mean_since, point_every
from server.jobs.job import Job
from server.jobs.spec import JobConfig
from server.params.store import ParameterStore
from tests.server_process import ServerProcess
from tests.e2e.test_cli_e2e import as_json, descent
from worker import svm
from worker.data import prepare as data

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("shape", [(8, 8), (28, 28), (3, 32, 32)])
def test_tiles_reshape_rows_exactly(shape):
    size = int(np.prod(shape))
    W = np.random.default_rng(0).standard_normal((10, size + 1)).astype(np.float32)
    tiles = template_tiles(W, shape)
    for c in range(10):
        if len(shape) == 2:
            assert tiles[c].shape == shape
            np.testing.assert_array_equal(tiles[c].ravel(), W[c, :-1])
        else:  # channel-major rows: channel k is W[c, k*H*W:(k+1)*H*W], shown as the last axis
            assert tiles[c].shape == (32, 32, 3)
            for k in range(3):
                np.testing.assert_array_equal(tiles[c][:, :, k].ravel(), W[c, k * 1024 : (k + 1) * 1024])
            assert tiles[c][5, 7, 2] == W[c, 2 * 1024 + 5 * 32 + 7]


def test_tiles_refuse_what_is_not_an_image():
    W = np.zeros((3, 65))
    for shape in [(), (7, 7), (3, 8, 8)]:
        with pytest.raises(ValueError):
            template_tiles(W, shape)


def test_smooth_is_a_debiased_moving_average():
    assert smooth([2.0, 2.0, 2.0]) == pytest.approx([2.0, 2.0, 2.0])
    out = smooth([1.0, 0.0], weight=0.5)
    assert out == pytest.approx([1.0, (0.25) / 0.75])


def test_mean_since_averages_the_updates_between_points():
    means = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert mean_since(1, means, 0, 2) == pytest.approx(1.5)
    assert mean_since(1, means, 2, 5) == pytest.approx(4.0)
    assert np.isnan(mean_since(1, means, 3, 3))
    assert point_every(2000) == 40 and point_every(10) == 1


def _digits_job(job_id, steps, seed):
    """A RUNNING-like job on digits with a real store: (data, config, job, W0, rng)."""
    d = data.prepare("digits", 0, dtype="float32")
    config = JobConfig(steps=steps)
    job = Job(job_id, config)
    rng = np.random.default_rng(seed)
    W0 = (1e-3 * rng.standard_normal((d.num_classes, d.num_features))).astype(np.float32)
    job.store = ParameterStore(W0, config.lr, config.steps)
    job.started_at = 1.0  # a long time ago: seconds are positive and increasing
    return d, config, job, W0, rng


def test_recorder_evaluates_w_at_regular_points_while_a_thread_pushes():
    d, config, job, W0, rng = _digits_job("job-curve-test", 600, 0)

    def train():
        while not job.store.done:
            X, y = data.sample_batch(d.X_train, d.y_train, 64, rng)
            W, _ = job.store.weights()
            loss, grad = svm.svm_loss_grad(W, X, y, config.reg)
            job.store.push(grad, loss, "w0", "")

    recorder = CurveRecorder(job, d.X_val, d.y_val, every=50, poll=0.001).start()
    worker = threading.Thread(target=train)
    worker.start()
    worker.join()
    recorder.stop()
    steps = [p.step for p in job.curve]
    assert steps[0] == 0 and steps[-1] == 600 and steps == sorted(set(steps)) and len(steps) >= 4
    assert job.curve[0].val_accuracy == pytest.approx(svm.accuracy(W0, d.X_val, d.y_val))
    W_final, _ = job.store.weights()
    assert job.curve[-1].val_accuracy == pytest.approx(svm.accuracy(W_final, d.X_val, d.y_val))
    assert job.curve[-1].val_accuracy > 0.8 > job.curve[0].val_accuracy
    _, means = job.store.loss_history()
    last, previous = job.curve[-1], job.curve[-2]
    assert last.loss == pytest.approx(np.mean(means[previous.step : last.step]))
    assert [p.seconds for p in job.curve] == sorted(p.seconds for p in job.curve)
    assert list(job.status().curve) == job.curve


def test_points_between_the_first_and_the_last_use_a_sample_of_the_validation_split(monkeypatch):
    monkeypatch.setattr(curve, "SAMPLE", 100)  # digits' validation split has 270 examples
    d, config, job, W0, rng = _digits_job("job-curve-sample", 300, 1)
    recorder = CurveRecorder(job, d.X_val, d.y_val, every=50, poll=0.001).start()
    while not job.store.done:
        X, y = data.sample_batch(d.X_train, d.y_train, 64, rng)
        W, version = job.store.weights()
        job.store.push(svm.svm_loss_grad(W, X, y, config.reg)[1], 1.0, "w0", "")
        if version % 50 == 49:  # let the recorder take the point at this mark
            deadline = time.time() + 5
            while job.curve[-1].step < version + 1 and time.time() < deadline:
                time.sleep(0.001)
    recorder.stop()
    W_final, _ = job.store.weights()
    first, middle, last = job.curve[0], job.curve[1:-1], job.curve[-1]
    assert first.val_accuracy == pytest.approx(svm.accuracy(W0, d.X_val, d.y_val))
    assert last.step == 300 and last.val_accuracy == pytest.approx(svm.accuracy(W_final, d.X_val, d.y_val))
    assert middle and all(round(p.val_accuracy * 100, 6).is_integer() for p in middle)  # k / 100
    assert any(not round(p.val_accuracy * 270, 6).is_integer() for p in middle)  # not k / 270
    assert recorder.final == (300, svm.accuracy(W_final, d.X_val, d.y_val))  # exactly: the whole split


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    proc = ServerProcess(tmp_path_factory.mktemp("state"), num_cpus=2)
    jobs = [as_json(descent("train", "--dataset", "digits", "--steps", "500", "--lr", lr, "--json", *proc.cli_args))
            for lr in ("0.005", "0.02")]
    yield proc, [job["job_id"] for job in jobs]
    assert proc.stop() == 0


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
