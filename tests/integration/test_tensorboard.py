"""Every job's TensorBoard events, read back with TensorBoard's own reader (event_accumulator):
for a real digits job, the batch losses equal the job's own history, validation accuracy sits at
the curve's points, one template image per class, histograms of W, and the job's hyperparameters
in the HParams plugin. ``descent tensorboard`` serves them.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.plugins.hparams import metadata as hparams_metadata

import descent

STEPS = 800
SIZES = {ea.SCALARS: 0, ea.IMAGES: 0, ea.HISTOGRAMS: 0, ea.TENSORS: 0}


def read_run(folder: Path, timeout: float = 60.0) -> ea.EventAccumulator:
    """The run's events once its end (the HParams session end) has been written."""
    deadline = time.monotonic() + timeout
    while True:
        acc = ea.EventAccumulator(str(folder), size_guidance=SIZES)
        if folder.is_dir():
            acc.Reload()
            if hparams_metadata.SESSION_END_INFO_TAG in acc.Tags()["tensors"]:
                return acc
        assert time.monotonic() < deadline, f"no finished event files in {folder}"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def digits_job(server):
    with descent.connect(server.address, token=server.token) as session:
        job = session.train(dataset="digits", steps=STEPS, workers=2, lr=4e-3, seed=5)
        status = job.wait(progress=False)
        yield job, status, job.curve(), job.weights(), read_run(server.state_dir / "tensorboard" / job.id)


def values(acc: ea.EventAccumulator, tag: str) -> tuple[np.ndarray, np.ndarray]:
    events = acc.Scalars(tag)
    return np.array([e.step for e in events]), np.array([e.value for e in events])


def test_the_loss_scalars_are_the_jobs_own_history(digits_job):
    _, status, curve, _, acc = digits_job
    steps, losses = values(acc, "loss/batch")
    assert np.array_equal(steps, np.arange(1, STEPS + 1))
    assert np.array_equal(losses.astype(np.float32), curve.loss.astype(np.float32))  # TensorBoard keeps float32
    _, smoothed = values(acc, "loss/batch_smoothed")
    assert np.allclose(smoothed, curve.loss_smoothed, rtol=1e-6)
    val_steps, val = values(acc, "accuracy/val")
    assert np.array_equal(val_steps, curve.step) and np.allclose(val, curve.val_accuracy, rtol=1e-6)
    _, test = values(acc, "final/test_accuracy")
    assert test[-1] == pytest.approx(status.test_accuracy, rel=1e-6)
    lr_steps, lr = values(acc, "lr/effective")
    assert lr_steps[-1] == STEPS and np.allclose(lr, 4e-3)
    assert {"staleness/p50", "staleness/p99", "staleness/max"} <= set(acc.Tags()["scalars"])
    assert values(acc, "workers/pushing")[1][-1] == 2


def test_one_template_image_per_class_and_histograms_of_w(digits_job):
    _, _, _, W, acc = digits_job
    tags = acc.Tags()["images"]
    assert sorted(tags) == [f"templates/{k}" for k in range(10)]
    image = acc.Images("templates/3")[-1]
    assert (image.width, image.height) == (64, 64) and image.encoded_image_string[:4] == b"\x89PNG"
    histograms = acc.Histograms("weights/W")
    assert 1 <= len(histograms) <= 21 and histograms[-1].step == STEPS  # W as the housekeeping saw it, and at the end
    last = histograms[-1].histogram_value
    assert last.num == W.size and last.min == pytest.approx(W.min()) and last.max == pytest.approx(W.max())


def test_the_hyperparameters_are_in_the_hparams_plugin(digits_job):
    _, status, _, _, acc = digits_job
    start = acc.Tensors(hparams_metadata.SESSION_START_INFO_TAG)[0]
    content = acc.SummaryMetadata(hparams_metadata.SESSION_START_INFO_TAG).plugin_data.content
    hparams = hparams_metadata.parse_session_start_info_plugin_data(content).hparams
    assert start is not None
    assert hparams["lr"].number_value == pytest.approx(4e-3) and hparams["steps"].number_value == STEPS
    assert hparams["dataset"].string_value == "digits" and hparams["optimizer"].string_value == status.spec["optimizer"]
    end = hparams_metadata.parse_session_end_info_plugin_data(
        acc.SummaryMetadata(hparams_metadata.SESSION_END_INFO_TAG).plugin_data.content)
    assert end.status == 1  # STATUS_SUCCESS
