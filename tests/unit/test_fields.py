"""Request fields checked at the edge: every rule names the field, refuses NaN and infinities, and
repeats no more than a short piece of a bad value; statuses come from the one table."""

from __future__ import annotations

import math

import grpc
import pytest

from proto import descent_pb2 as pb
from server.errors import ECHO_CHARS, JobNotFound, PermissionDenied, RequestError, ResourcesExhausted
from server.fields import MAX_ID_CHARS, check_request
from server.rpc.status import status_for


@pytest.mark.parametrize(
    "request_, words",
    [
        (pb.GetJobRequest(job_id=""), "job_id is empty"),
        (pb.GetJobRequest(job_id="x" * (MAX_ID_CHARS + 1)), "at most 128"),
        (pb.GetJobRequest(job_id="../../etc/passwd"), "not an id"),
        (pb.CancelJobRequest(job_id="job 1"), "not an id"),
        (pb.WatchJobRequest(job_id="job-1", interval=math.inf), "interval"),
        (pb.WatchJobRequest(job_id="job-1", interval=1e300), "interval"),
        (pb.WatchJobRequest(job_id="job-1", interval=1e-9), "interval"),
        (pb.WatchJobRequest(job_id="job-1", interval=math.nan), "interval"),
        (pb.WatchJobRequest(job_id="job-1", interval=-0.5), "interval"),
        (pb.PullRequest(job_id="job-1", worker_id=""), "worker_id is empty"),
        (pb.PushRequest(job_id="job-1", worker_id="w" * 10_000), "worker_id is 10000 characters"),
        (pb.PushRequest(job_id="job-1", worker_id="w", node_id="n\x00"), "node_id"),
        (pb.SubmitJobRequest(spec=pb.JobSpec(dataset="d" * 5000)), "spec.dataset is 5000"),
        (pb.SubmitJobRequest(spec=pb.JobSpec(dataset="npz:\x00")), "control characters"),
        (pb.SubmitJobRequest(spec=pb.JobSpec(dataset="digits", dtype="f" * 500)), "spec.dtype"),
        (pb.GradientCheckRequest(job_id="a/b"), "job_id"),
    ],
)
def test_bad_fields_are_request_errors_naming_the_field(request_, words):
    with pytest.raises(RequestError, match=words) as caught:
        check_request(request_)
    assert len(str(caught.value)) < 3 * ECHO_CHARS + 200


@pytest.mark.parametrize(
    "request_",
    [
        pb.GetJobRequest(job_id="job-0123abcd"),
        pb.WatchJobRequest(job_id="job-1", interval=0.0),  # the server's default
        pb.WatchJobRequest(job_id="job-1", interval=0.05),
        pb.WatchJobRequest(job_id="job-1", interval=60.0),
        pb.PushRequest(job_id="job-1", worker_id="job-1-w0", node_id="ab" * 28, secret="f" * 32),
        pb.GradientCheckRequest(dataset="digits"),  # job_id may be empty here
        pb.SubmitJobRequest(spec=pb.JobSpec(dataset="mnist:/data/mnist")),
        pb.ListJobsRequest(),
    ],
)
def test_good_fields_pass(request_):
    check_request(request_)


def test_the_status_table():
    assert status_for(RequestError("bad"))[0] == grpc.StatusCode.INVALID_ARGUMENT
    assert status_for(JobNotFound("no"))[0] == grpc.StatusCode.NOT_FOUND
    assert status_for(PermissionDenied("no"))[0] == grpc.StatusCode.PERMISSION_DENIED
    assert status_for(ResourcesExhausted("full"))[0] == grpc.StatusCode.RESOURCE_EXHAUSTED
    # a ValueError or TypeError that is not a RequestError is a bug: INTERNAL, not the client's fault
    assert status_for(ValueError("oops"))[0] == grpc.StatusCode.INTERNAL
    assert status_for(TypeError("oops"))[0] == grpc.StatusCode.INTERNAL
    code, message = status_for(RequestError("x" * 10**7))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and len(message) < 2100


class _Context:
    """Records what ``abort`` was called with (gRPC's raises; so does this one)."""

    def abort(self, code, details):
        self.code, self.details = code, details
        raise RuntimeError("aborted")


def test_an_internal_error_is_logged_with_the_request_id_the_client_sees(caplog):
    from server.rpc.status import abort

    context = _Context()
    try:
        raise ZeroDivisionError("a bug")
    except ZeroDivisionError as exc:
        with pytest.raises(RuntimeError, match="aborted"):
            abort(context, exc, "GetJob")
    assert context.code == grpc.StatusCode.INTERNAL
    request_id = context.details.split("request id ")[1][:12]
    assert "ZeroDivisionError: a bug" in context.details
    (record,) = [r for r in caplog.records if request_id in r.getMessage()]
    assert record.exc_info and record.exc_info[0] is ZeroDivisionError and "GetJob" in record.getMessage()
