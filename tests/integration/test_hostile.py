"""A server you can put on a network, probed like an attacker would: a real server process with
small limits, no token or a wrong one, paths out of its data root, requests that would exhaust
its memory, workers it never placed, absurd fields and huge echoes. Every one is refused with a
precise status and a short message, the server stays up, the job of record does not change and
``ListJobs`` keeps working.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from client.rpc.channel import open_channel
from proto import descent_pb2 as pb
from proto.tensor import to_tensor
from tests.server_process import ROOT

State = pb.JobState
Code = grpc.StatusCode
TINY = "synthetic:300,4,3"  # cheap enough to train under the small memory limit below
#: The small limits this server runs with.
LIMITS = ["--max-request-memory", "1M", "--max-jobs", "2", "--max-steps", "100000000", "--max-streams", "6",
          "--max-worker-streams", "4", "--max-analyses", "1"]


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    root, outside = base / "data", base / "outside"
    root.mkdir()
    outside.mkdir()
    np.savez(outside / "secret.npz", X=np.zeros((4, 2), np.float32), y=np.arange(4))
    os.symlink(outside / "secret.npz", root / "link.npz")
    os.symlink(outside, root / "linkdir")
    np.savez(root / "label1e15.npz", X=np.zeros((3, 2), np.float32), y=np.array([0, 1, 10**15]))
    head = io.BytesIO()  # an npz whose X claims 120 GB: only its header exists
    np.lib.format.write_array_header_1_0(head, {"descr": "<f4", "fortran_order": False, "shape": (10**6, 30_000)})
    labels = io.BytesIO()
    np.lib.format.write_array(labels, np.zeros(10**6, np.int8))
    with zipfile.ZipFile(root / "huge.npz", "w") as archive:
        archive.writestr("X.npy", head.getvalue())
        archive.writestr("y.npy", labels.getvalue())
    return base


@pytest.fixture(scope="module")
def server(layout, module_server_factory):
    proc = module_server_factory(layout / "state", num_cpus=2, data_roots=[layout / "data"], extra_args=LIMITS)
    yield proc
    assert proc.stop() == 0, "server did not shut down cleanly"


def code_of(call, *args) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call(*args)
    details = info.value.details() or ""
    assert details, "an error must carry a message"
    assert len(details) < 3000, f"an error echoed {len(details)} characters"
    return info.value.code(), details


def alive(server) -> None:
    assert server.proc.poll() is None, "the server died"
    server.trainer.ListJobs(pb.ListJobsRequest(), timeout=10)


def rss_kb(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def run_tiny(server, **spec) -> pb.JobStatus:
    job = server.trainer.SubmitJob(pb.SubmitJobRequest(spec=pb.JobSpec(dataset=TINY, workers=1, **spec)))
    for status in server.trainer.WatchJob(pb.WatchJobRequest(job_id=job.job_id, interval=0.2)):
        pass
    return status


def _methods():
    """(service, method descriptor) for every RPC of both descent services."""
    for service in pb.DESCRIPTOR.services_by_name.values():
        for method in service.methods:
            yield service, method


def _call(channel: grpc.Channel, service, method):
    """Call ``method`` with an empty request, whatever its streaming shape; return a function raising on error."""
    path = f"/{service.full_name}/{method.name}"
    request = getattr(pb, method.input_type.name)()
    ser, de = type(request).SerializeToString, getattr(pb, method.output_type.name).FromString
    if method.client_streaming:
        stub = channel.stream_stream(path, request_serializer=ser, response_deserializer=de)
        return lambda: list(stub(iter([request]), timeout=10))
    if method.server_streaming:
        stub = channel.unary_stream(path, request_serializer=ser, response_deserializer=de)
        return lambda: list(stub(request, timeout=10))
    stub = channel.unary_unary(path, request_serializer=ser, response_deserializer=de)
    return lambda: stub(request, timeout=10)


def test_every_rpc_needs_the_token_and_health_does_not(server):
    methods = list(_methods())
    assert len(methods) >= 16 and {"SubmitJob", "PushStream", "Predict", "Evaluate"} <= {m.name for _, m in methods}
    for channel in (server.bare_channel(), open_channel(server.address, "not-the-token")):
        with channel:
            for service, method in methods:
                code, details = code_of(_call(channel, service, method))
                assert code == Code.UNAUTHENTICATED, (method.name, code, details)
                assert "bearer token" in details
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            reflect = reflection_pb2_grpc.ServerReflectionStub(channel)
            listing = [reflection_pb2.ServerReflectionRequest(list_services="")]
            code, _ = code_of(lambda: list(reflect.ServerReflectionInfo(iter(listing), timeout=5)))
            assert code == Code.UNAUTHENTICATED
    # with the token: the same calls get past authentication (their empty requests are judged on their merits)
    for service, method in methods:
        try:
            _call(server.channel, service, method)()
        except grpc.RpcError as error:
            assert error.code() not in (Code.UNAUTHENTICATED, Code.UNKNOWN, Code.INTERNAL), (method.name, error)
    alive(server)


def test_reflection_lists_the_services_with_the_token(server):
    reflect = reflection_pb2_grpc.ServerReflectionStub(server.channel)
    (reply,) = list(reflect.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10))
    names = {s.name for s in reply.list_services_response.service}
    assert {"descent.v1.Trainer", "descent.v1.ParameterServer", "grpc.health.v1.Health"} <= names
    # what grpcurl asks next to describe and call a method: the file defining the service
    request = reflection_pb2.ServerReflectionRequest(file_containing_symbol="descent.v1.Trainer")
    (reply,) = list(reflect.ServerReflectionInfo(iter([request]), timeout=10))
    protos = reply.file_descriptor_response.file_descriptor_proto
    assert protos and any(b"SubmitJob" in proto for proto in protos)
    # grpcurl tries reflection v1 first and falls back to v1alpha when v1 is UNIMPLEMENTED
    v1 = server.channel.stream_stream("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                                      request_serializer=None, response_deserializer=None)
    code, _ = code_of(lambda: list(v1(iter([reflection_pb2.ServerReflectionRequest(list_services="").SerializeToString()]),
                                      timeout=10)))
    assert code == Code.UNIMPLEMENTED


@pytest.mark.parametrize("spec", ["npz:/etc/passwd", "mnist:/", "cifar10:../../", "npz:link.npz", "mnist:linkdir",
                                  "npz:/etc/no-such-file", "npz:linkdir/absent.npz"])
def test_paths_out_of_the_data_root_are_permission_denied_alike(server, spec):
    before = server.trainer.ListJobs(pb.ListJobsRequest())
    messages = []
    for call in (
        lambda: server.trainer.SubmitJob(pb.SubmitJobRequest(spec=pb.JobSpec(dataset=spec))),
        lambda: server.trainer.GradientCheck(pb.GradientCheckRequest(dataset=spec)),
        lambda: server.trainer.StepSizeSweep(pb.StepSizeSweepRequest(dataset=spec)),
        lambda: server.trainer.Evaluate(pb.EvaluateRequest(job_id="job-000000000000", dataset=spec)),
    ):
        code, details = code_of(call)
        assert code == Code.PERMISSION_DENIED and "data roots" in details, details
        messages.append(details)
    assert server.trainer.ListJobs(pb.ListJobsRequest()) == before


def test_the_same_message_whether_or_not_the_target_exists(server):
    def shape(spec: str) -> str:
        request = pb.SubmitJobRequest(spec=pb.JobSpec(dataset=spec))
        return code_of(server.trainer.SubmitJob, request)[1].replace(repr(spec.partition(":")[2]), "PATH")

    assert shape("npz:/etc/passwd") == shape("npz:/etc/nopasswd")
    assert shape("npz:link.npz") == shape("npz:linkdir/absent.npz") == shape("npz:../outside/secret.npz")
    assert shape("mnist:/") == shape("mnist:/no/such/dir") == shape("mnist:linkdir")


def test_labels_and_sizes_that_cannot_be_served_are_refused_before_any_allocation(server):
    before = server.trainer.ListJobs(pb.ListJobsRequest())
    rss = rss_kb(server.proc.pid)
    cases = [
        (pb.JobSpec(dataset="npz:label1e15.npz"), Code.RESOURCE_EXHAUSTED, "--max-classes"),
        (pb.JobSpec(dataset="synthetic:3,1,1000000000000000"), Code.INVALID_ARGUMENT, "classes"),
        (pb.JobSpec(dataset="npz:huge.npz"), Code.RESOURCE_EXHAUSTED, "--max-request-memory"),
        (pb.JobSpec(dataset="digits"), Code.RESOURCE_EXHAUSTED, "--max-request-memory"),  # > 1M with its copies
        (pb.JobSpec(dataset=TINY, steps=10**9), Code.RESOURCE_EXHAUSTED, "--max-steps"),
        (pb.JobSpec(dataset=TINY, workers=64), Code.RESOURCE_EXHAUSTED, "workers"),
    ]
    for spec, code, words in cases:
        got, details = code_of(server.trainer.SubmitJob, pb.SubmitJobRequest(spec=spec))
        assert got == code and words in details, (spec.dataset, got, details)
    for dataset in ("synthetic:3,1,1000000000000000", "npz:huge.npz", "npz:label1e15.npz"):
        for call, request in (
            (server.trainer.GradientCheck, pb.GradientCheckRequest(dataset=dataset)),
            (server.trainer.StepSizeSweep, pb.StepSizeSweepRequest(dataset=dataset)),
        ):
            got, details = code_of(call, request)
            assert got in (Code.INVALID_ARGUMENT, Code.RESOURCE_EXHAUSTED), (dataset, got, details)
    assert rss_kb(server.proc.pid) - rss < 8 * 1024, "refusing grew the server's memory"
    assert server.trainer.ListJobs(pb.ListJobsRequest()) == before
    alive(server)


def test_worker_ids_and_finished_jobs_cannot_be_changed(server):
    done = run_tiny(server, steps=200, seed=1)
    assert done.state == State.SUCCEEDED, done.message
    tensor = to_tensor(np.zeros((done.num_classes, done.num_features), np.float32))
    for request in (pb.PullRequest(job_id=done.job_id, worker_id="newcomer"),):
        code, details = code_of(server.params.Pull, request)
        assert code == Code.FAILED_PRECONDITION and "SUCCEEDED" in details
    code, _ = code_of(server.params.Push, pb.PushRequest(job_id=done.job_id, worker_id=f"{done.job_id}-w0", gradient=tensor))
    assert code == Code.FAILED_PRECONDITION
    code, _ = code_of(lambda: list(server.params.PushStream(iter([pb.PushRequest(job_id=done.job_id, worker_id="x")]))))
    assert code == Code.FAILED_PRECONDITION

    running = server.trainer.SubmitJob(pb.SubmitJobRequest(spec=pb.JobSpec(dataset=TINY, workers=1, steps=10**7, lr=1e-6)))
    try:
        for status in server.trainer.WatchJob(pb.WatchJobRequest(job_id=running.job_id, interval=0.1)):
            if status.state == State.RUNNING and status.steps > 0:  # its worker is placed and pushing
                break
        for worker_id, words in (("", "worker_id is empty"), ("w" * (10 << 20), "at most 128")):
            push = pb.PushRequest(job_id=running.job_id, worker_id=worker_id)
            code, details = code_of(lambda: list(server.params.PushStream(iter([push]))))
            assert code == Code.INVALID_ARGUMENT and words in details, details
            code, details = code_of(server.params.Pull, pb.PullRequest(job_id=running.job_id, worker_id=worker_id))
            assert code == Code.INVALID_ARGUMENT and words in details
        code, _ = code_of(lambda: list(server.params.PushStream(iter([pb.PushRequest(job_id=running.job_id, worker_id="stranger")]))))
        assert code == Code.PERMISSION_DENIED
        now = server.trainer.GetJob(pb.GetJobRequest(job_id=running.job_id))
        assert [w.worker_id for w in now.per_worker] == [f"{running.job_id}-w0"]
    finally:
        server.trainer.CancelJob(pb.CancelJobRequest(job_id=running.job_id))
    assert server.trainer.GetJob(pb.GetJobRequest(job_id=done.job_id)) == done  # the job of record is unchanged
    alive(server)


def test_watch_intervals_out_of_range_and_huge_echoes(server):
    job_id = server.trainer.ListJobs(pb.ListJobsRequest()).jobs[0].job_id
    for interval in (float("inf"), 1e300, 1e-9, float("nan"), -1.0, 61.0):
        code, details = code_of(lambda: list(server.trainer.WatchJob(pb.WatchJobRequest(job_id=job_id, interval=interval))))
        assert code == Code.INVALID_ARGUMENT and "interval" in details, (interval, details)
    huge = "x" * (10 << 20)
    for call in (
        lambda: server.trainer.GetJob(pb.GetJobRequest(job_id=huge)),
        lambda: server.trainer.SubmitJob(pb.SubmitJobRequest(spec=pb.JobSpec(dataset=huge))),
        lambda: server.trainer.SubmitJob(pb.SubmitJobRequest(spec=pb.JobSpec(dataset="npz:" + "a/" * 2000))),
        lambda: server.trainer.SubmitJob(pb.SubmitJobRequest(spec=pb.JobSpec(dataset="digits", dtype=huge))),
        lambda: server.trainer.GradientCheck(pb.GradientCheckRequest(job_id=huge)),
        lambda: server.trainer.SubmitJob(pb.SubmitJobRequest(spec=pb.JobSpec(dataset="bogus:" + "y" * 3000))),
    ):
        code, details = code_of(call)  # code_of asserts the message is short
        assert code in (Code.INVALID_ARGUMENT, Code.NOT_FOUND), (code, details[:200])
    alive(server)


def test_control_calls_answer_while_long_streams_fill_their_budget(server):
    """6 client streams allowed: 6 watchers of a running job hold them all; a 7th is refused at once,
    and GetJob, ListJobs and the health check still answer within 1 s."""
    job = server.trainer.SubmitJob(pb.SubmitJobRequest(spec=pb.JobSpec(dataset=TINY, workers=2, steps=10**7, lr=1e-6)))
    watchers, started = [], time.monotonic()
    try:
        for status in server.trainer.WatchJob(pb.WatchJobRequest(job_id=job.job_id, interval=0.1)):
            if (status.state == State.RUNNING and status.steps > 0) or time.monotonic() - started > 120:
                break  # its workers are placed and pushing
        assert status.state == State.RUNNING and status.steps > 0, status.message
        for _ in range(6):
            call = server.trainer.WatchJob(pb.WatchJobRequest(job_id=job.job_id, interval=0.05))
            next(call)
            watchers.append(call)
        code, details = code_of(lambda: next(server.trainer.WatchJob(pb.WatchJobRequest(job_id=job.job_id))))
        assert code == Code.RESOURCE_EXHAUSTED and "--max-streams" in details
        health = health_pb2_grpc.HealthStub(server.channel)
        with ThreadPoolExecutor(8) as pool:
            calls = [pool.submit(server.trainer.GetJob, pb.GetJobRequest(job_id=job.job_id), timeout=1) for _ in range(4)]
            calls += [pool.submit(health.Check, health_pb2.HealthCheckRequest(), timeout=1) for _ in range(4)]
            calls.append(pool.submit(server.trainer.ListJobs, pb.ListJobsRequest(), timeout=1))
            for future in calls:
                future.result()  # raises DEADLINE_EXCEEDED if a control call waited over 1 s
        before = status.steps
        deadline = time.monotonic() + 30
        while server.trainer.GetJob(pb.GetJobRequest(job_id=job.job_id)).steps <= before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server.trainer.GetJob(pb.GetJobRequest(job_id=job.job_id)).steps > before  # the workers still push
    finally:
        for call in watchers:
            call.cancel()
        server.trainer.CancelJob(pb.CancelJobRequest(job_id=job.job_id))
    time.sleep(0.5)  # the cancelled streams give their slots back
    next(server.trainer.WatchJob(pb.WatchJobRequest(job_id=job.job_id)))
    alive(server)


def test_the_cli_says_where_the_server_looks_for_a_path_it_refuses(server, layout):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESCENT_")}

    def train(spec):
        return subprocess.run([sys.executable, "-m", "client.cli", "train", "--dataset", spec, *server.cli_args],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    here = train(f"npz:{layout / 'outside' / 'secret.npz'}")  # exists on this machine, outside the server's root
    lines = here.stderr.splitlines()
    assert here.returncode == 1 and lines[0].startswith("error: PERMISSION_DENIED: ") and str(layout / "data") in lines[0]
    assert lines[1].startswith("note: ") and "exists on this machine" in lines[1] and "Traceback" not in here.stderr
    nowhere = train(f"npz:{layout / 'outside' / 'absent.npz'}")
    assert nowhere.returncode == 1 and len(nowhere.stderr.splitlines()) == 1
