"""Every job's training in TensorBoard: event files under STATE_DIR/tensorboard/JOB/.

Written by tensorboard's own writer (``EventFileWriter``: the record format, CRCs and file
naming TensorBoard reads, with its own flushing thread) from the housekeeping thread, never on
the push path. Each ``sync`` of a job writes what is new since the last one:

- ``loss/batch`` (the mean batch loss per update, as the job's history) and ``loss/batch_smoothed``
  (its debiased exponential moving average, weight 0.9, as the CLI's curve draws it);
- ``accuracy/val`` at the curve's points; ``lr/effective``, ``staleness/p50|p99|max`` and
  ``workers/pushing`` (the workers that have pushed);
- a histogram of W (``weights/W``) at the syncs at least ``steps / HISTOGRAMS`` updates apart, and at the end
  (a job faster than a sync gets the last one only);
- at the end: ``final/train_accuracy`` (and val, test), one image per class of the learned templates
  (``templates/CLASS``, image data sets) and the HParams plugin's session end; at the start the
  job's hyperparameters (HParams plugin), so several jobs (a ``tune`` run) compare in one view.

Bounded: at most MAX_POINTS points per scalar tag (longer histories are averaged in blocks),
HISTOGRAMS + 1 histograms and MAX_IMAGES images per job. A failure is logged once per job and
that job's logging stops; training never notices.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from formats.datasets import class_names, image_layout
from proto import descent_pb2
from proto.job_fields import JOB_FIELDS

log = logging.getLogger("descent.tensorboard")

#: Points per scalar tag at most; a longer history is written as means of blocks of updates.
MAX_POINTS = 10_000
#: Histograms of W per job (plus the last one).
HISTOGRAMS = 20
#: Template images per job at most (classes beyond are left out).
MAX_IMAGES = 100
#: Smoothing weight of ``loss/batch_smoothed``.
SMOOTHING = 0.9
#: The metrics the HParams plugin shows beside the hyperparameters.
METRICS = ["final/val_accuracy", "final/test_accuracy", "loss/batch_smoothed"]
TERMINAL = (descent_pb2.SUCCEEDED, descent_pb2.FAILED, descent_pb2.CANCELLED)


@dataclass
class _Run:
    """What has been written of one job."""

    writer: object
    history: int = 0  # loss-history entries consumed
    pending: list[float] = field(default_factory=list)  # entries of the block not yet written
    average: float = 0.0
    smoothed: int = 0  # points in the moving average
    curve: int = 0
    version: int = -1  # of the last lr / staleness scalars
    histogram_at: int | None = None


class JobBoard:
    """The event files of every job this server runs; ``sync`` each job from one thread."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._runs: dict[str, _Run] = {}
        self._done: set[str] = set()

    def wants(self, job_id: str) -> bool:
        """False once the job's files are complete (or its logging failed)."""
        return job_id not in self._done

    def sync(self, status: descent_pb2.JobStatus, history_block: int, weights: Callable[[], np.ndarray] | None) -> None:
        """Write what is new of ``status`` (with its loss history); never raises."""
        job_id = status.job_id
        if job_id in self._done or status.state not in TERMINAL + (descent_pb2.RUNNING,):
            return
        try:
            run = self._runs.get(job_id) or self._open(status)
            self._write(run, status, max(1, history_block), weights)
            if status.state in TERMINAL:
                self._finish(run, status, weights)
        except Exception:  # logging must never hurt training
            log.exception("job %s: writing its TensorBoard events failed; no more events for it", job_id)
            self._close(job_id)

    def close(self) -> None:
        """Flush and close every open writer (the server stops)."""
        for job_id in list(self._runs):
            self._close(job_id, done=False)

    def _close(self, job_id: str, done: bool = True) -> None:
        run = self._runs.pop(job_id, None)
        if done:
            self._done.add(job_id)
        if run is not None:
            try:
                run.writer.close()
            except Exception:
                log.exception("job %s: closing its TensorBoard writer failed", job_id)

    def _open(self, status: descent_pb2.JobStatus) -> _Run:
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        from server.observe import tb_summaries as tb

        folder = self.root / status.job_id
        resumed = folder.is_dir() and any(folder.iterdir())
        folder.mkdir(parents=True, exist_ok=True)
        run = _Run(writer=EventFileWriter(str(folder), flush_secs=5))
        if resumed:  # a server before this one wrote the start: go on from here
            run.history, run.curve = len(status.loss_history), len(status.curve)
        else:
            hparams = {f.name: getattr(status.spec, f.name) for f in JOB_FIELDS}
            run.writer.add_event(tb.event(0, *tb.hparams_start(hparams, METRICS, status.started_at or time.time())))
        self._runs[status.job_id] = run
        return run

    def _write(self, run: _Run, status: descent_pb2.JobStatus, block: int, weights) -> None:
        from server.observe import tb_summaries as tb

        expected = math.ceil(max(status.spec.steps, 1) / block)
        per_point = max(1, math.ceil(expected / MAX_POINTS))
        for loss in status.loss_history[run.history:]:
            run.pending.append(loss)
            run.history += 1
            if len(run.pending) == per_point or run.history == expected:
                mean = float(np.mean(run.pending))
                run.pending.clear()
                run.smoothed += 1
                run.average = SMOOTHING * run.average + (1 - SMOOTHING) * mean
                step = run.history * block
                run.writer.add_event(tb.event(step, tb.scalar("loss/batch", mean),
                                              tb.scalar("loss/batch_smoothed", run.average / (1 - SMOOTHING ** run.smoothed))))
        for point in status.curve[run.curve:]:
            run.writer.add_event(tb.event(point.step, tb.scalar("accuracy/val", point.val_accuracy)))
            run.curve += 1
        if status.version != run.version:
            run.version = status.version
            run.writer.add_event(tb.event(status.version, tb.scalar("lr/effective", status.effective_lr),
                                          tb.scalar("staleness/p50", status.staleness_p50),
                                          tb.scalar("staleness/p99", status.staleness_p99),
                                          tb.scalar("staleness/max", status.staleness_max),
                                          tb.scalar("workers/pushing", len(status.per_worker))))
        every = max(1, status.spec.steps // HISTOGRAMS)
        if weights is not None and (run.histogram_at is None or status.version >= run.histogram_at + every):
            run.histogram_at = status.version
            run.writer.add_event(tb.event(status.version, tb.histogram("weights/W", weights())))

    def _finish(self, run: _Run, status: descent_pb2.JobStatus, weights) -> None:
        from server.observe import tb_summaries as tb

        values = [tb.scalar(f"final/{split}_accuracy", getattr(status, f"{split}_accuracy"))
                  for split in ("train", "val", "test") if status.HasField(f"{split}_accuracy")]
        W = weights() if weights is not None else None
        if W is not None:
            if run.histogram_at != status.version:
                values.append(tb.histogram("weights/W", W))
            values += self._templates(status, W)
        values.append(tb.hparams_end(status.state == descent_pb2.SUCCEEDED, status.finished_at or time.time()))
        run.writer.add_event(tb.event(status.version, *values))
        self._close(status.job_id)

    @staticmethod
    def _templates(status: descent_pb2.JobStatus, W: np.ndarray) -> list:
        from server.observe import tb_summaries as tb

        shape, _ = image_layout(status.spec.dataset, W.shape[1] - 1)
        if not shape:
            return []
        tiles = W[:MAX_IMAGES, :-1].reshape((min(W.shape[0], MAX_IMAGES),) + tuple(shape))
        if len(shape) == 3:  # channel-major colour rows → height, width, channel
            tiles = tiles.transpose(0, 2, 3, 1)
        names = class_names(status.spec.dataset, W.shape[0])
        scale = max(1, 64 // tiles.shape[1])  # digits' 8 x 8 drawn at 64 x 64
        return [tb.image(f"templates/{names[k]}", tile, scale) for k, tile in enumerate(tiles)]
