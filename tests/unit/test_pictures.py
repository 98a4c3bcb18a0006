"""Templates and training curves: exact reshapes of W's rows, the curve recorder on a real store.

The CLI end to end on a real server: e2e/test_pictures_e2e.py.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from client.output.notes_render import smooth
from client.plots.templates import template_tiles
from server.jobs.job import Job
from server.jobs.spec import JobConfig
from server.params.store import ParameterStore
from server.training import curve
from server.training.curve import CurveRecorder, mean_since, point_every
from worker import kernel, svm
from worker.data import prepare as data


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
            loss, grad = kernel.svm_loss_grad(W, X, y, config.reg)
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
        job.store.push(kernel.svm_loss_grad(W, X, y, config.reg)[1], 1.0, "w0", "")
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
