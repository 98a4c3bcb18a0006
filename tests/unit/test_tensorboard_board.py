"""server.observe.tensorboard's bounds and its never-fatal failures, on statuses built here and
read back with TensorBoard's own reader."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator as ea

from proto import descent_pb2 as pb
from server.observe.tensorboard import HISTOGRAMS, MAX_POINTS, JobBoard

SIZES = {ea.SCALARS: 0, ea.IMAGES: 0, ea.HISTOGRAMS: 0, ea.TENSORS: 0}


def status(job_id: str, steps: int, done: int, losses, state=pb.RUNNING) -> pb.JobStatus:
    message = pb.JobStatus(job_id=job_id, state=state, steps=done, version=done, effective_lr=0.01)
    message.spec.steps, message.spec.dataset = steps, "synthetic:100,6,3"
    message.loss_history.extend(losses)
    return message


def read(folder) -> ea.EventAccumulator:
    acc = ea.EventAccumulator(str(folder), size_guidance=SIZES)
    acc.Reload()
    return acc


def test_a_long_history_is_written_in_at_most_max_points_means(tmp_path):
    steps = 3 * MAX_POINTS + 7
    losses = np.random.default_rng(0).random(steps)
    board = JobBoard(tmp_path)
    W = np.arange(21.0).reshape(3, 7)
    board.sync(status("j", steps, steps, losses, pb.SUCCEEDED), 1, lambda: W)
    assert not board.wants("j")
    events = read(tmp_path / "j").Scalars("loss/batch")
    assert len(events) <= MAX_POINTS and events[-1].step == steps
    per = 4  # ceil(steps / MAX_POINTS)
    assert events[0].step == per and events[0].value == pytest.approx(losses[:per].mean(), rel=1e-6)
    assert events[-1].value == pytest.approx(losses[-(steps % per):].mean(), rel=1e-6)


def test_histograms_come_every_n_updates_across_syncs(tmp_path):
    steps = 1000
    board = JobBoard(tmp_path)
    W = np.ones((3, 7))
    for done in range(0, steps, 10):  # a sync every 10 updates
        board.sync(status("j", steps, done, np.ones(done)), 1, lambda: W)
    board.sync(status("j", steps, steps, np.ones(steps), pb.SUCCEEDED), 1, lambda: W)
    histograms = read(tmp_path / "j").Histograms("weights/W")
    gaps = np.diff([h.step for h in histograms])
    assert len(histograms) <= HISTOGRAMS + 1 and histograms[-1].step == steps and np.all(gaps[:-1] >= steps // HISTOGRAMS)
    assert len(read(tmp_path / "j").Scalars("loss/batch")) == steps  # each loss once, however many syncs


def test_a_failure_is_logged_once_and_never_raised(tmp_path, caplog):
    board = JobBoard(tmp_path)

    def broken():
        raise OSError("disk full")

    with caplog.at_level(logging.ERROR, logger="descent.tensorboard"):
        board.sync(status("j", 10, 5, np.ones(5)), 1, broken)
        board.sync(status("j", 10, 10, np.ones(10), pb.SUCCEEDED), 1, broken)
    assert not board.wants("j")
    assert len([r for r in caplog.records if "disk full" in r.getMessage() or (r.exc_info and "disk full" in str(r.exc_info[1]))]) == 1
