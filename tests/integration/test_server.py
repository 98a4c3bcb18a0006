"""The gRPC services on a real server process with a real local Ray cluster.

Bad requests get the right status code and a message, change nothing and leave
the server serving; jobs run to the end with exact step accounting; state
survives the server.
"""

from __future__ import annotations

import importlib.metadata

import grpc
import numpy as np
import pytest

from proto import descent_pb2 as pb
from proto.tensor import from_chunks, to_tensor
from tests.server_process import ROOT
from tests.stored import stored_status, stored_weights

State = pb.JobState


def run_job(server, **spec) -> pb.JobStatus:
    job = server.trainer.SubmitJob(pb.SubmitJobRequest(spec=pb.JobSpec(**spec)))
    assert job.state == State.PENDING
    for status in server.trainer.WatchJob(pb.WatchJobRequest(job_id=job.job_id, interval=0.2)):
        pass
    return status


def code_of(call, *args):
    with pytest.raises(grpc.RpcError) as info:
        call(*args)
    assert info.value.details(), "an error must carry a message"
    return info.value.code(), info.value.details()


def test_digits_job_runs_to_the_end_with_exact_steps(server):
    # ~2 s here. A worker placed in a process Ray still boots (this server's first job) starts
    # later than one placed in a warm process, and may join late: both ran on a node, the
    # steps add up exactly.
    status = run_job(server, dataset="digits", workers=2, steps=2000, seed=3)
    assert State.Name(status.state) == "SUCCEEDED", status.message
    assert status.steps == status.version == 2000
    assert len(status.per_worker) == 2
    assert all(w.node_id for w in status.per_worker) and any(w.steps > 0 for w in status.per_worker)
    assert sum(w.steps for w in status.per_worker) == 2000
    assert status.spec.batch_size == 256 and status.spec.workers == 2
    assert (status.num_classes, status.num_features) == (10, 65)
    for split in ("train", "val", "test"):
        assert status.HasField(f"{split}_accuracy")
    assert status.test_accuracy > 0.85
    assert np.isfinite(status.loss) and status.loss < 1.0
    assert status.seconds > 0 and status.examples_per_second > 0

    history = server.trainer.GetJob(pb.GetJobRequest(job_id=status.job_id, include_history=True))
    assert len(history.loss_history) == 2000
    assert status.loss == pytest.approx(np.mean(history.loss_history[-200:]))

    weights, version = from_chunks(server.trainer.GetWeights(pb.GetWeightsRequest(job_id=status.job_id)))
    assert weights.shape == (10, 65) and weights.dtype == np.float32 and version == 2000
    np.testing.assert_array_equal(weights, stored_weights(server.state_dir, status.job_id))
    assert State.Name(stored_status(server.state_dir, status.job_id).state) == "SUCCEEDED"


@pytest.mark.parametrize(
    "spec, code, words",
    [
        (dict(dataset="digits", batch_size=0), grpc.StatusCode.INVALID_ARGUMENT, "batch_size"),
        (dict(dataset="digits", lr=-0.1), grpc.StatusCode.INVALID_ARGUMENT, "lr"),
        (dict(dataset="digits", lr=float("nan")), grpc.StatusCode.INVALID_ARGUMENT, "lr"),
        (dict(dataset="digits", workers=0), grpc.StatusCode.INVALID_ARGUMENT, "workers"),
        (dict(dataset="digits", dtype="float16"), grpc.StatusCode.INVALID_ARGUMENT, "dtype"),
        (dict(dataset="imagenet"), grpc.StatusCode.INVALID_ARGUMENT, "imagenet"),
        (dict(dataset="mnist:/no/such/dir"), grpc.StatusCode.PERMISSION_DENIED, "data roots"),
        (dict(dataset=f"mnist:{ROOT}/no/such/dir"), grpc.StatusCode.NOT_FOUND, "/no/such/dir"),
        (dict(dataset="digits", workers=64), grpc.StatusCode.RESOURCE_EXHAUSTED, "64 workers"),
    ],
)
def test_bad_submissions_are_rejected_and_change_nothing(server, spec, code, words):
    before = server.trainer.ListJobs(pb.ListJobsRequest())
    got, details = code_of(server.trainer.SubmitJob, pb.SubmitJobRequest(spec=pb.JobSpec(**spec)))
    assert got == code and words in details
    after = server.trainer.ListJobs(pb.ListJobsRequest())
    assert [j.job_id for j in after.jobs] == [j.job_id for j in before.jobs]


def test_a_missing_data_path_says_where_the_server_looks_and_how_to_mount_data(server):
    _, details = code_of(server.trainer.SubmitJob, pb.SubmitJobRequest(spec=pb.JobSpec(dataset=f"mnist:{ROOT}/no/such/dir")))
    assert f"under {ROOT}" in details, details  # this server's data root
    assert "on the server's own file system" in details and "mount" in details
    assert "$DESCENT_DATA (./data by default), which the server sees as /data" in details


def test_unknown_jobs_are_not_found(server):
    for call, request in [
        (server.trainer.GetJob, pb.GetJobRequest(job_id="job-000000000000")),
        (server.trainer.CancelJob, pb.CancelJobRequest(job_id="job-000000000000")),
        (server.params.Pull, pb.PullRequest(job_id="nope", worker_id="w")),
        (server.params.Push, pb.PushRequest(job_id="nope", worker_id="w", gradient=to_tensor(np.zeros((10, 65), np.float32)))),
    ]:
        assert code_of(call, request)[0] == grpc.StatusCode.NOT_FOUND
    assert code_of(lambda r: list(server.trainer.GetWeights(r)), pb.GetWeightsRequest(job_id="job-0"))[0] == grpc.StatusCode.NOT_FOUND
    assert code_of(lambda r: list(server.trainer.WatchJob(r)), pb.WatchJobRequest(job_id="job-0"))[0] == grpc.StatusCode.NOT_FOUND
    code, details = code_of(server.trainer.GetJob, pb.GetJobRequest(job_id="../../etc/passwd"))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "job_id" in details


def test_pushes_from_a_worker_the_job_did_not_place_are_refused_then_cancel(server):
    job = server.trainer.SubmitJob(
        pb.SubmitJobRequest(spec=pb.JobSpec(dataset="digits", workers=1, steps=10**8, lr=1e-6))
    )
    for status in server.trainer.WatchJob(pb.WatchJobRequest(job_id=job.job_id, interval=0.1)):
        if status.state == State.RUNNING and status.steps > 0:
            break
    assert status.state == State.RUNNING, status.message
    good = np.zeros((10, 65), np.float32)
    bad_requests = {
        "shape": to_tensor(np.zeros((65, 10), np.float32)),
        "dtype": to_tensor(np.zeros((10, 65), np.float64)),
        "NaN": to_tensor(np.where(np.eye(10, 65) > 0, np.nan, good).astype(np.float32)),
        "Inf": to_tensor(np.full((10, 65), np.inf, np.float32)),
        "bytes": pb.Tensor(dtype="float32", shape=[10, 65], data=b"\0" * 12),
    }
    for what, tensor in bad_requests.items():
        code, details = code_of(server.params.Push, pb.PushRequest(job_id=job.job_id, worker_id="intruder", gradient=tensor))
        assert code == grpc.StatusCode.PERMISSION_DENIED and "not one this job placed" in details, (what, details)
    placed = f"{job.job_id}-w0"  # a placed worker's id, without its secret
    tensor = to_tensor(good)
    for secret in ("", "0" * 32):
        code, _ = code_of(server.params.Push, pb.PushRequest(job_id=job.job_id, worker_id=placed, secret=secret, gradient=tensor))
        assert code == grpc.StatusCode.PERMISSION_DENIED
        assert code_of(server.params.Pull, pb.PullRequest(job_id=job.job_id, worker_id="new", secret=secret))[0] == (
            grpc.StatusCode.PERMISSION_DENIED
        )
    running = server.trainer.GetJob(pb.GetJobRequest(job_id=job.job_id))
    assert [w.worker_id for w in running.per_worker] == [placed]

    cancelled = server.trainer.CancelJob(pb.CancelJobRequest(job_id=job.job_id))
    assert cancelled.state == State.CANCELLED and "cancelled" in cancelled.message
    assert code_of(server.trainer.CancelJob, pb.CancelJobRequest(job_id=job.job_id))[0] == grpc.StatusCode.FAILED_PRECONDITION
    weights, version = from_chunks(server.trainer.GetWeights(pb.GetWeightsRequest(job_id=job.job_id)))
    assert version == cancelled.steps and np.isfinite(weights).all()


def test_gradient_check_over_rpc(server):
    result = server.trainer.GradientCheck(pb.GradientCheckRequest(dataset="digits", checks=25))
    assert result.formula == pb.CENTERED and result.h == 1e-5 and len(result.checks) == 25
    assert result.passed and result.max_rel_error_smooth < 1e-7
    smooth = [c for c in result.checks if not (c.kink or c.below_resolution)]
    assert len(smooth) >= 5
    for c in result.checks:
        if c.below_resolution:
            assert abs(c.analytic) + abs(c.numeric) < 1e-6
    forward = server.trainer.GradientCheck(pb.GradientCheckRequest(dataset="digits", checks=25, formula=pb.FORWARD))
    assert forward.max_rel_error_smooth > result.max_rel_error_smooth
    code, details = code_of(server.trainer.GradientCheck, pb.GradientCheckRequest(dataset="digits", h=-1.0))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "h" in details


def test_step_size_sweep_over_rpc(server):
    result = server.trainer.StepSizeSweep(pb.StepSizeSweepRequest(dataset="digits"))
    steps = [r.step_size for r in result.rows]
    assert steps[0] == 1e-10
    assert np.allclose(np.log10(steps), np.arange(-10, -10 + len(steps)))
    losses = [r.loss for r in result.rows]
    assert abs(losses[0] - result.loss_original) <= 1e-4 * result.loss_original
    assert losses[-1] > result.loss_original
    best = int(np.argmin(losses))
    assert 0 < best < len(losses) - 1 and result.best_step_size == steps[best]


def test_cluster_info(server):
    info = server.trainer.ClusterInfo(pb.ClusterInfoRequest())
    assert info.total_cpus == server.num_cpus == 2 and len(info.nodes) == 1 and info.nodes[0].alive and info.nodes[0].is_head
    assert list(info.nodes[0].roles) == ["head", "server", "worker"]  # a local one-node cluster is all three
    assert info.server_version == importlib.metadata.version("descent")


def test_jobs_survive_the_server(server, server_factory, tmp_path):
    finished = run_job(server, dataset="digits", workers=1, steps=50)
    other = server_factory(server.state_dir, num_cpus=1, log_path=tmp_path / "other.log")
    try:
        listed = other.trainer.ListJobs(pb.ListJobsRequest())
        assert finished.job_id in [j.job_id for j in listed.jobs]
        status = other.trainer.GetJob(pb.GetJobRequest(job_id=finished.job_id))
        assert status.state == State.SUCCEEDED and status.steps == 50
        assert status.test_accuracy == finished.test_accuracy
        weights, version = from_chunks(other.trainer.GetWeights(pb.GetWeightsRequest(job_id=finished.job_id)))
        assert weights.shape == (10, 65) and version == 50
        code, _ = code_of(other.trainer.CancelJob, pb.CancelJobRequest(job_id=finished.job_id))
        assert code == grpc.StatusCode.FAILED_PRECONDITION
    finally:
        assert other.stop() == 0
