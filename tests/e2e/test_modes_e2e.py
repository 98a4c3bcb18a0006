"""Consistency modes, push_every and overlap on a real server process with real Ray workers.

- sync with 2 workers follows a single-process numpy loop with batch 2 × 256 on the same
  batches (each worker slot's batch stream rebuilt from the job's seed, server.training.seeds): the
  loss of every step and the final W agree to 1e-6 relative (float64).
- every mode reaches the digits accuracy floor (0.95 test) with 2 workers.
- staleness is reported: 0 for sync, ≥ 1 for a lone overlapping worker, 0 without overlap.
- bad modes are refused with INVALID_ARGUMENT naming the field, before anything changes.
"""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from proto import descent_pb2 as pb
from proto.tensor import from_chunks
from server.training.seeds import initial_weights, worker_seeds
from worker.data.prepare import prepare
from worker.data.rows import sample_batch
from worker.kernel import svm_loss_grad

State = pb.JobState


def run_job(server, **spec) -> pb.JobStatus:
    job = server.trainer.SubmitJob(pb.SubmitJobRequest(spec=pb.JobSpec(**spec)))
    for status in server.trainer.WatchJob(pb.WatchJobRequest(job_id=job.job_id, interval=0.2)):
        pass
    assert State.Name(status.state) == "SUCCEEDED", status.message
    return server.trainer.GetJob(pb.GetJobRequest(job_id=job.job_id, include_history=True))


def test_sync_follows_a_single_process_loop_with_the_workers_batches_concatenated(server):
    workers, steps, lr, reg, seed, batch = 2, 30, 0.05, 1e-3, 11, 256
    status = run_job(server, dataset="digits", workers=workers, steps=workers * steps, lr=lr, reg=reg, seed=seed,
                     dtype="float64", batch_size=batch, consistency="sync")
    data = prepare("digits", seed=seed, dtype="float64")
    X, y = data.X_train, data.y_train
    W = initial_weights(seed, 1e-3, (data.num_classes, X.shape[1]), "float64")
    rngs = [np.random.default_rng(s) for s in worker_seeds(seed, workers)]
    history = np.asarray(status.loss_history).reshape(steps, workers)  # one sync step = `workers` updates
    for step in range(steps):
        batches = [sample_batch(X, y, batch, rng) for rng in rngs]
        Xb = np.concatenate([b[0] for b in batches])
        yb = np.concatenate([b[1] for b in batches])
        _, dW = svm_loss_grad(W, Xb, yb, reg)
        worker_losses = sorted(svm_loss_grad(W, b[0], b[1], reg)[0] for b in batches)
        np.testing.assert_allclose(sorted(history[step]), worker_losses, rtol=1e-6, err_msg=f"step {step}")
        W = W - lr * dW
    weights, version = from_chunks(server.trainer.GetWeights(pb.GetWeightsRequest(job_id=status.job_id)))
    assert version == workers * steps
    np.testing.assert_allclose(weights, W, rtol=1e-6, atol=1e-12)
    assert list(status.staleness_histogram) == [workers * steps] and status.staleness_max == 0
    assert [w.steps for w in status.per_worker] == [steps] * workers


@pytest.mark.parametrize(
    "mode",
    [dict(consistency="async"), dict(consistency="sync"), dict(consistency="ssp:2"),
     dict(consistency="async", push_every=4), dict(consistency="async", overlap=False)],
    ids=["async", "sync", "ssp2", "async-push4", "async-no-overlap"],
)
def test_every_mode_reaches_the_digits_floor_with_two_workers(server, mode):
    status = run_job(server, dataset="digits", workers=2, steps=2000, seed=5, **mode)
    assert status.test_accuracy >= 0.95, status
    assert status.steps == status.version == 2000 and sum(w.steps for w in status.per_worker) == 2000
    assert sum(status.staleness_histogram) == 2000 // mode.get("push_every", 1)
    assert status.staleness_p50 <= status.staleness_p99 <= status.staleness_max
    if mode["consistency"] == "sync":
        assert status.staleness_max == 0
    if mode["consistency"] == "ssp:2":
        # With overlap a push is computed on the W of the reply before last: between that reply and its
        # application this worker pushes once and the other (never more than S ahead at a reply, plus one
        # push in flight, never more than S behind) at most 2S + 2 times.
        assert status.staleness_max <= 2 * 2 + 3


def test_one_overlapping_worker_reports_staleness_one_and_none_without_overlap(server):
    overlapped = run_job(server, dataset="digits", workers=1, steps=300, seed=2)
    assert overlapped.staleness_p50 == 1 and overlapped.staleness_max == 1
    assert list(overlapped.staleness_histogram) == [1, 299]  # the first push was computed on the W it met
    plain = run_job(server, dataset="digits", workers=1, steps=300, seed=2, overlap=False)
    assert list(plain.staleness_histogram) == [300] and plain.staleness_max == 0


@pytest.mark.parametrize(
    "spec, words",
    [
        (dict(consistency="bsp"), "consistency must be one of async, sync, ssp:S"),
        (dict(consistency="ssp:-1"), "consistency must be one of"),
        (dict(push_every=0), "push_every"),
        (dict(steps=1001, consistency="sync", workers=2), "multiple of workers x push_every = 2"),
        (dict(steps=1001, push_every=2), "multiple of push_every = 2"),
        (dict(gradient="numerical", consistency="sync"), "consistency and push_every do not apply"),
    ],
)
def test_bad_modes_are_refused_and_change_nothing(server, spec, words):
    before = len(server.trainer.ListJobs(pb.ListJobsRequest()).jobs)
    with pytest.raises(grpc.RpcError) as info:
        server.trainer.SubmitJob(pb.SubmitJobRequest(spec=pb.JobSpec(dataset="digits", **spec)))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and words in info.value.details()
    assert len(server.trainer.ListJobs(pb.ListJobsRequest()).jobs) == before
