"""Compressed pushes end to end on a real gRPC server (in this process, no Ray): the worker loop
encodes, the servicer decodes at the edge, the store applies exactly the decoded gradients; a
payload that does not decode to W's shape is INVALID_ARGUMENT and leaves the job unchanged."""

from __future__ import annotations

from concurrent import futures

import grpc
import numpy as np
import pytest

from proto import descent_pb2, descent_pb2_grpc
from proto.limits import GRPC_OPTIONS
from proto.tensor import to_tensor
from server.jobs.job import Job
from server.jobs.spec import JobConfig
from server.params.store import ParameterStore
from server.rpc.parameter_servicer import ParameterServicer, add_to_server
from worker.compress import Codec, Compressed, ErrorFeedback, decode, encode, parse_compress
from worker.data.rows import sample_batch
from worker.kernel import svm_loss_grad
from worker.task.compressed import to_message
from worker.task.loop import LoopConfig, TrainLoop

SHAPE = (5, 33)
LR, REG, BATCH, SEED, STEPS = 1e-2, 1e-3, 32, 7, 30


class _Jobs:
    """One RUNNING job with a real store, as the servicer's registry."""

    def __init__(self, dtype=np.float32, compress="topk:0.1"):
        self.w0 = (1e-3 * np.random.default_rng(0).standard_normal(SHAPE)).astype(dtype)
        self.job = Job("job", JobConfig(compress=compress), state=descent_pb2.RUNNING)
        self.job.store = ParameterStore(self.w0, lr=LR, target_steps=STEPS)
        self.secret = self.job.store.enroll("job-w0")

    def live(self, job_id):
        return self.job if job_id == "job" else None


@pytest.fixture
def serve():
    servers = []

    def start(dtype=np.float32, compress="topk:0.1"):
        jobs = _Jobs(dtype, compress)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=GRPC_OPTIONS)
        add_to_server(ParameterServicer(jobs), server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        servers.append(server)
        return jobs, f"127.0.0.1:{port}"

    yield start
    for server in servers:
        server.stop(0)


def _data():
    rng = np.random.default_rng(1)
    return rng.standard_normal((200, SHAPE[1])).astype(np.float32), rng.integers(0, SHAPE[0], 200)


def _oracle(w0, X, y, codec: Codec):
    """One worker without overlap, in one process: W -= lr * decode(encode(dW)), residual carried."""
    rng, W, feedback, sent = np.random.default_rng(SEED), w0.copy(), ErrorFeedback(codec), 0
    for _ in range(STEPS):
        Xb, yb = sample_batch(X, y, BATCH, rng)
        _, dW = svm_loss_grad(W, Xb, yb, REG)
        compressed = feedback.encode(dW)
        sent += compressed.nbytes
        W += np.multiply(decode(compressed, W.shape, W.dtype), -LR)
    return W, sent


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("compress", ["fp16", "int8", "topk:0.05"])
def test_the_store_applies_exactly_the_decoded_gradients(serve, compress, dtype):
    jobs, address = serve(dtype, compress)
    X, y = _data()
    cfg = LoopConfig(address, "job", "job-w0", "node", BATCH, REG, SEED, secret=jobs.secret, overlap=False,
                     compress=compress)
    result = TrainLoop(cfg).run(X, y)
    W, version = jobs.job.store.weights()
    assert version == STEPS and result["pushes"] == STEPS
    assert result["shared_memory"] is False  # compressed pushes travel in the messages
    assert W.dtype == dtype  # the server keeps W in the job's own dtype
    expected, sent = _oracle(jobs.w0, X.astype(dtype), y, parse_compress(compress))
    np.testing.assert_allclose(W, expected, rtol=1e-6, atol=1e-9)
    assert jobs.job.push_bytes == sent
    assert jobs.job.status().push_bytes == sent < STEPS * W.nbytes / 1.9


def test_uncompressed_pushes_count_their_bytes_too(serve):
    jobs, address = serve(compress="none")
    cfg = LoopConfig(address, "job", "job-w0", "node", BATCH, REG, SEED, secret=jobs.secret, overlap=False,
                     shared_memory=False)
    TrainLoop(cfg).run(*_data())
    assert jobs.job.status().push_bytes == STEPS * int(np.prod(SHAPE)) * 4


def _good() -> Compressed:
    return encode(np.ones(SHAPE, np.float32), Codec("topk", 0.1))


def _with(kind="topk", shape=SHAPE, **arrays) -> descent_pb2.CompressedGradient:
    good = _good()
    return to_message(Compressed(kind, shape, {**good.arrays, **arrays}))


def _raw(name, dtype, shape, data) -> descent_pb2.CompressedGradient:
    message = to_message(_good())
    getattr(message, name).CopyFrom(descent_pb2.Tensor(dtype=dtype, shape=shape, data=data))
    return message


HOSTILE = [
    (_with(shape=(SHAPE[1], SHAPE[0])), "W has [5, 33]"),
    (_with(shape=(5, 34)), "W has [5, 33]"),
    (_with(shape=()), "W has [5, 33]"),
    (_with(indices=np.array([0, 165] + list(range(2, 17)), np.int32)), "in [0, 165)"),
    (_with(indices=np.arange(3, dtype=np.int32)), "one length"),
    (_with(kind="fp16", values=np.ones((5, 32), np.float16)), "expected [5, 33]"),
    (_with(kind="int8", values=np.ones(SHAPE, np.int8)), "scales missing"),
    (_with(kind="gzip"), "unknown kind 'gzip'"),
    (_raw("values", "float32", [17], b"\x00" * 10), "needs 68 bytes, got 10"),
    (_raw("values", "complex128", [17], b"\x00" * 272), "dtype 'complex128'"),
    (_raw("indices", "int32", [-17], b""), "negative dimension"),
]


@pytest.mark.parametrize("compressed,words", HOSTILE)
@pytest.mark.parametrize("stream", [False, True])
def test_a_payload_that_does_not_decode_to_w_is_invalid_argument_and_changes_nothing(serve, compressed, words, stream):
    jobs, address = serve()
    before, version = jobs.job.store.weights()
    request = descent_pb2.PushRequest(job_id="job", worker_id="job-w0", secret=jobs.secret, compressed=compressed,
                                      loss=1.0, version=version)
    with grpc.insecure_channel(address, options=GRPC_OPTIONS) as channel:
        stub = descent_pb2_grpc.ParameterServerStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            if stream:
                list(stub.PushStream(iter([descent_pb2.PushRequest(job_id="job", worker_id="job-w0", secret=jobs.secret),
                                           request])))
            else:
                stub.Push(request)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert words in info.value.details() and "compressed gradient" in info.value.details()
        after, version_after = jobs.job.store.weights()
        assert version_after == version and np.array_equal(after, before) and jobs.job.push_bytes == 0
        good = request.__class__()
        good.CopyFrom(request)
        good.compressed.CopyFrom(to_message(_good()))
        reply = stub.Push(good)  # the job still takes a well-formed push
        assert reply.version == version + 1


def test_gradient_and_compressed_together_or_in_pieces_are_refused(serve):
    jobs, address = serve()
    fields = dict(job_id="job", worker_id="job-w0", secret=jobs.secret, compressed=to_message(_good()))
    with grpc.insecure_channel(address, options=GRPC_OPTIONS) as channel:
        stub = descent_pb2_grpc.ParameterServerStub(channel)
        both = descent_pb2.PushRequest(gradient=to_tensor(np.zeros(SHAPE, np.float32)), **fields)
        for call, words in ((lambda: stub.Push(both), "not both"),
                            (lambda: list(stub.PushStream(iter([descent_pb2.PushRequest(more=True, **fields)]))),
                             "never in pieces")):
            with pytest.raises(grpc.RpcError) as info:
                call()
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and words in info.value.details()
    assert jobs.job.store.weights()[1] == 0


@pytest.mark.parametrize("job,push,words", [
    ("topk:0.1", "fp16", "of kind fp16: this job's compress is topk"),
    ("none", "topk:0.1", "of kind topk: this job's compress is none"),
    ("fp16", None, "this job pushes compressed gradients (fp16): a plain gradient is refused"),
])
def test_a_push_of_another_kind_than_the_jobs_is_refused(serve, job, push, words):
    jobs, address = serve(compress=job)
    grad = np.ones(SHAPE, np.float32)
    payload = (dict(gradient=to_tensor(grad)) if push is None
               else dict(compressed=to_message(encode(grad, parse_compress(push)))))
    request = descent_pb2.PushRequest(job_id="job", worker_id="job-w0", secret=jobs.secret, **payload)
    with grpc.insecure_channel(address, options=GRPC_OPTIONS) as channel:
        with pytest.raises(grpc.RpcError) as info:
            descent_pb2_grpc.ParameterServerStub(channel).Push(request)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and words in info.value.details()
    assert jobs.job.store.weights()[1] == 0 and jobs.job.push_bytes == 0

