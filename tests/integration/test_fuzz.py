"""Fuzzing a real server: thousands of random and mutated valid requests over every RPC, from a
seeded generator. Every answer is a deliberate status: never UNKNOWN, never an INTERNAL that the
server did not log under the request id it sent back; the server stays up, ``ListJobs`` works
and the finished job of record is unchanged afterwards.

The server runs with a 1 MB request-memory limit, so fuzzed jobs and analyses on real data are
refused by admission instead of keeping the machine busy; a few run for real on a tiny job.
"""

from __future__ import annotations

import collections
import random
import re
import struct

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor as F

from proto import descent_pb2 as pb

SEED = 20261126
CALLS = 3000
TINY = "synthetic:300,4,3"
LIMITS = ["--max-request-memory", "1M", "--max-jobs", "2", "--max-steps", "3000", "--max-analyses", "1"]

STRINGS = [
    "", "digits", "x", "job-000000000000", "../../etc/passwd", "npz:/etc/passwd", "mnist:/", "cifar10:../../",
    "synthetic:3,1,1000000000000000", "synthetic:-1,2,3", "synthetic:1e3,2,2", "npz:", "mnist:.", "float16",
    "float32", "analytic", "numerical", "brute", "\x00", "é" * 50, "\u202e" * 3, "a" * 129, "w" * 5000, "%s%n",
    "synthetic:100000000,1000000,10", "digits:1", "npz:huge.npz", " digits ", "job-../x",
]
DOUBLES = [0.0, -0.0, 1.0, -1.0, 0.5, 1e-9, 1e-300, 5e-324, 1e300, -1e300, float("inf"), float("-inf"), float("nan"),
           0.05, 60.0, 61.0, 1e-5]
INTS = [0, 1, -1, 2, 7, 256, 2**31 - 1, -(2**31), 2**53, 2**63 - 1, -(2**63), 10**9, 10**12]


def random_string(rng: random.Random, known: list[str]) -> str:
    roll = rng.random()
    if roll < 0.3:
        return rng.choice(known)
    if roll < 0.6:
        return rng.choice(STRINGS)
    if roll < 0.8:
        return "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randrange(0, 40)))
    return f"synthetic:{rng.choice(INTS)},{rng.choice(INTS)},{rng.choice(INTS)}"


def random_tensor(rng: random.Random) -> pb.Tensor:
    shape = [rng.choice([0, 1, 3, 4, 65, -1, 2**40]) for _ in range(rng.randrange(0, 4))]
    dtype = rng.choice(["float32", "float64", "int8", "object", "", "<f4", "complex128", "float32" * 10])
    data = bytes(rng.randrange(256) for _ in range(rng.choice([0, 4, 12, 48, 1000])))
    return pb.Tensor(dtype=dtype, shape=shape, data=data)


def mutate(message, rng: random.Random, known: list[str]) -> None:
    """Set some fields of ``message`` (in place) to random or hostile values of their type."""
    for field in message.DESCRIPTOR.fields:
        if rng.random() > 0.35:
            continue
        name = field.name
        if field.type == F.TYPE_MESSAGE:
            target = getattr(message, name)
            if field.message_type.name == "Tensor":
                target.CopyFrom(random_tensor(rng))
            elif not field.is_repeated:
                mutate(target, rng, known)
            continue
        if field.is_repeated:
            del getattr(message, name)[:]
            if field.type == F.TYPE_DOUBLE:
                getattr(message, name).extend(rng.choice(DOUBLES) for _ in range(rng.randrange(0, 20)))
            continue
        if field.type == F.TYPE_STRING:
            value = random_string(rng, known)
        elif field.type == F.TYPE_DOUBLE:
            value = rng.choice(DOUBLES)
        elif field.type == F.TYPE_BOOL:
            value = rng.random() < 0.5
        elif field.type == F.TYPE_ENUM:
            value = rng.randrange(-3, 8)
        elif field.type == F.TYPE_INT32:
            value = max(-(2**31), min(2**31 - 1, rng.choice(INTS)))
        elif field.type == F.TYPE_INT64:
            value = rng.choice(INTS)
        else:
            continue
        setattr(message, name, value)


@pytest.fixture(scope="module")
def server(module_server_factory):
    proc = module_server_factory(num_cpus=2, extra_args=LIMITS)
    yield proc
    assert proc.stop() == 0, "server did not shut down cleanly"


def test_thousands_of_random_and_mutated_requests(server):
    job = server.trainer.SubmitJob(pb.SubmitJobRequest(spec=pb.JobSpec(dataset=TINY, workers=1, steps=200)))
    for finished in server.trainer.WatchJob(pb.WatchJobRequest(job_id=job.job_id, interval=0.1)):
        pass
    assert finished.state == pb.SUCCEEDED, finished.message
    known = [job.job_id, f"{job.job_id}-w0", TINY, "digits"]
    t, p = server.trainer, server.params
    calls = {
        "SubmitJob": (t.SubmitJob, lambda: pb.SubmitJobRequest(spec=pb.JobSpec(dataset="digits", steps=100))),
        "GetJob": (t.GetJob, lambda: pb.GetJobRequest(job_id=job.job_id)),
        "ListJobs": (t.ListJobs, pb.ListJobsRequest),
        "CancelJob": (t.CancelJob, lambda: pb.CancelJobRequest(job_id=job.job_id)),
        "ScaleJob": (t.ScaleJob, lambda: pb.ScaleJobRequest(job_id=job.job_id, workers=2)),
        "WatchJob": (lambda r, timeout: list(t.WatchJob(r, timeout=timeout)), lambda: pb.WatchJobRequest(job_id=job.job_id)),
        "GetWeights": (lambda r, timeout: list(t.GetWeights(r, timeout=timeout)), lambda: pb.GetWeightsRequest(job_id=job.job_id)),
        "GradientCheck": (t.GradientCheck, lambda: pb.GradientCheckRequest(dataset="digits", checks=5)),
        "GradientCheckStream": (lambda r, timeout: list(t.GradientCheckStream(r, timeout=timeout)),
                                lambda: pb.GradientCheckRequest(dataset="digits", checks=5)),
        "StepSizeSweep": (t.StepSizeSweep, lambda: pb.StepSizeSweepRequest(dataset="digits", points=3, step_min=1e-3, step_max=1)),
        "ClusterInfo": (t.ClusterInfo, pb.ClusterInfoRequest),
        "Pull": (p.Pull, lambda: pb.PullRequest(job_id=job.job_id, worker_id=f"{job.job_id}-w0")),
        "Push": (p.Push, lambda: pb.PushRequest(job_id=job.job_id, worker_id=f"{job.job_id}-w0", loss=1.0)),
        "PushStream": (lambda r, timeout: list(p.PushStream(iter([r, r]), timeout=timeout)),
                       lambda: pb.PushRequest(job_id=job.job_id, worker_id=f"{job.job_id}-w0")),
        "ExportModel": (lambda r, timeout: list(t.ExportModel(r, timeout=timeout)),
                        lambda: pb.ExportModelRequest(job_id=job.job_id)),
        "Predict": (t.Predict, lambda: pb.PredictRequest(
            job_id=job.job_id, inputs=pb.Tensor(dtype="float32", shape=[2, 4], data=b"\0" * 32))),
        "Evaluate": (t.Evaluate, lambda: pb.EvaluateRequest(job_id=job.job_id, split="test")),
        "Minibatch": (t.Minibatch, lambda: pb.MinibatchRequest(dataset=TINY, draws=3, batch_sizes=[1, 2, 4])),
        "Landscape": (t.Landscape, lambda: pb.LandscapeRequest(dataset=TINY, points=3)),
    }
    rng = random.Random(SEED)
    codes: collections.Counter = collections.Counter()
    internal: list[str] = []
    for i in range(CALLS):
        name = rng.choice(sorted(calls))
        call, build = calls[name]
        request = build()
        if rng.random() < 0.9:
            mutate(request, rng, known)
        if name in ("GradientCheck", "GradientCheckStream", "StepSizeSweep", "Minibatch", "Landscape") and (
            request.job_id == job.job_id
        ):
            request.job_id = ""  # a check at a real job's W really runs: a few are enough (below)
        try:
            call(request, timeout=30)
            codes["OK"] += 1
        except grpc.RpcError as error:
            codes[error.code().name] += 1
            if error.code() == grpc.StatusCode.INTERNAL:
                internal.append(error.details() or "")
    for _ in range(3):  # analyses at the finished job's W run for real
        t.GradientCheck(pb.GradientCheckRequest(job_id=job.job_id, checks=5), timeout=120)
        t.StepSizeSweep(pb.StepSizeSweepRequest(job_id=job.job_id, points=3, step_min=1e-3, step_max=1), timeout=120)

    print(dict(codes))
    assert sum(codes.values()) == CALLS
    assert codes["UNKNOWN"] == 0, dict(codes)
    log = server.log_path.read_text()
    for details in internal:
        match = re.search(r"request id ([0-9a-f]{12})", details)
        assert match and f"request id {match[1]}" in log, f"INTERNAL not logged: {details[:300]}"
    assert codes["INTERNAL"] == 0, internal[:5]  # with this seed: each one found so far was a bug, now fixed
    assert codes["INVALID_ARGUMENT"] > CALLS // 10 and codes["OK"] > 0  # the mutations reached the checks
    assert server.proc.poll() is None, "the server died"
    assert t.GetJob(pb.GetJobRequest(job_id=job.job_id)) == finished  # the job of record is unchanged
    assert job.job_id in {j.job_id for j in t.ListJobs(pb.ListJobsRequest(), timeout=10).jobs}


def test_mutated_bytes_are_refused_cleanly(server):
    """Valid requests with flipped and cut bytes, sent raw: parsed or refused, never UNKNOWN."""
    rng = random.Random(SEED + 1)
    raw = server.channel.unary_unary("/descent.v1.Trainer/GetJob", request_serializer=None, response_deserializer=None)
    valid = pb.GetJobRequest(job_id="job-000000000000", include_history=True).SerializeToString()
    codes: collections.Counter = collections.Counter()
    for _ in range(500):
        data = bytearray(valid)
        for _ in range(rng.randrange(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        data = bytes(data[: rng.randrange(len(data) + 1)]) + struct.pack("B", rng.randrange(256)) * rng.randrange(3)
        try:
            raw(data, timeout=10)
            codes["OK"] += 1
        except grpc.RpcError as error:
            codes[error.code().name] += 1
    assert codes["UNKNOWN"] == 0 and codes["INTERNAL"] == 0, dict(codes)  # undecodable: INVALID_ARGUMENT
    assert codes["INVALID_ARGUMENT"] > 0, dict(codes)
    assert server.proc.poll() is None
    server.trainer.ListJobs(pb.ListJobsRequest(), timeout=10)


def test_mutated_push_stream_bytes_are_refused_cleanly(server):
    """PushStream decodes its requests itself (proto.wire, no copy): flipped and cut bytes of a valid push are
    refused with a status, never UNKNOWN or INTERNAL, and the server lives on."""
    rng = random.Random(SEED + 2)
    raw = server.channel.stream_stream(
        "/descent.v1.ParameterServer/PushStream", request_serializer=None, response_deserializer=None
    )
    gradient = pb.Tensor(dtype="float32", shape=[3, 5], data=b"\0" * 60)
    valid = pb.PushRequest(
        job_id="job-000000000000", worker_id="job-000000000000-w0", secret="s" * 32, gradient=gradient, loss=1.0
    ).SerializeToString()
    codes: collections.Counter = collections.Counter()
    for _ in range(300):
        data = bytearray(valid)
        for _ in range(rng.randrange(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        data = bytes(data[: rng.randrange(len(data) + 1)])
        try:
            list(raw(iter([data, data]), timeout=10))
            codes["OK"] += 1
        except grpc.RpcError as error:
            codes[error.code().name] += 1
    assert codes["UNKNOWN"] == 0 and codes["INTERNAL"] == 0, dict(codes)
    assert server.proc.poll() is None
    server.trainer.ListJobs(pb.ListJobsRequest(), timeout=10)
