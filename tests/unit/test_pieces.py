"""A W or gradient too large for one message crosses PushStream in pieces (proto.wire ``more``).

The piece size is lowered so a small W needs several pieces: the real worker loop on the
bytes path still gets exactly the single-process W, the pieces join back into the exact
array, and pieces that disagree with themselves or with W end the call with
INVALID_ARGUMENT and change nothing.
"""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from proto import descent_pb2, descent_pb2_grpc
from proto import limits as proto_limits
from proto.limits import GRPC_OPTIONS
from proto.tensor import TensorAssembler
from proto.wire import parameters_messages, push_request_messages
from tests.unit.test_lane import BATCH, REG, SEED, SHAPE, _data, _Hand, _oracle, _status, serve  # noqa: F401
from worker.task.loop import LoopConfig, TrainLoop

PIECE = 1000  # bytes: a 10 x 65 float32 W (2,600 bytes) is 3 pieces


@pytest.fixture
def small_pieces(monkeypatch):
    monkeypatch.setattr(proto_limits, "STREAM_CHUNK_BYTES", PIECE)


def test_pieces_join_back_into_the_exact_array():
    W = np.random.default_rng(3).standard_normal((7, 13)).astype(np.float64)  # 728 bytes
    messages = [descent_pb2.Parameters.FromString(m) for m in parameters_messages(W, 5, chunk_bytes=100)]
    assert len(messages) == 8 and [m.more for m in messages] == [True] * 7 + [False]
    assert messages[0].weights.shape == [7, 13] and not messages[1].weights.shape
    pieces = TensorAssembler()
    joined = [pieces.add(m.weights, m.more) for m in messages]
    assert joined[:-1] == [None] * 7
    np.testing.assert_array_equal(joined[-1], W)
    assert messages[-1].version == 5
    grad = W.astype(np.float32)
    requests = [descent_pb2.PushRequest.FromString(m)
                for m in push_request_messages(grad, chunk_bytes=64, job_id="j", worker_id="w", loss=2.0)]
    assert len(requests) == 6 and all(r.job_id == "j" and r.loss == 2.0 for r in requests)
    pieces = TensorAssembler(limit=grad.nbytes)
    for r in requests:
        out = pieces.add(r.gradient, r.more)
    np.testing.assert_array_equal(out, grad)


@pytest.mark.parametrize("shared_memory", [False, True])  # with the lane, only the first W comes in pieces
def test_worker_gets_the_single_process_w_in_pieces(serve, small_pieces, shared_memory):  # noqa: F811
    jobs, address = serve(steps=30, shared_memory=shared_memory)
    X, y = _data()
    cfg = LoopConfig(address, "job", "job-w0", "node", BATCH, REG, SEED, secret=jobs.secret, overlap=False)
    result = TrainLoop(cfg).run(X, y)
    W, version = jobs.job.store.weights()
    assert result["shared_memory"] is shared_memory and version == 30 and result["pushes"] == 30
    np.testing.assert_allclose(W, _oracle(jobs.w0, X, y, 30), rtol=1e-6, atol=1e-9)


def _piece(data: bytes, more: bool, **tensor) -> dict:
    return dict(gradient=descent_pb2.Tensor(data=data, **tensor), more=more, loss=1.0)


BAD = {
    "larger than W": [_piece(b"\0" * 8, True, dtype="float32", shape=[10, 66])],
    "a later piece names a shape": [_piece(b"\0" * 8, True, dtype="float32", shape=list(SHAPE)),
                                    _piece(b"\0" * 8, False, dtype="float32", shape=list(SHAPE))],
    "pieces pass the size": [_piece(b"\0" * 2000, True, dtype="float32", shape=list(SHAPE)),
                             _piece(b"\0" * 2000, False)],
    "pieces end short": [_piece(b"\0" * 2000, True, dtype="float32", shape=list(SHAPE)), _piece(b"\0" * 8, False)],
    "interrupted": [_piece(b"\0" * 8, True, dtype="float32", shape=list(SHAPE)), {}],
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_pieces_that_do_not_add_up_are_invalid_argument_and_change_nothing(serve, case):  # noqa: F811
    jobs, address = serve(shared_memory=False)
    hand = _Hand(address, jobs)
    hand.send()
    next(hand.replies)
    for fields in BAD[case]:
        hand.send(**fields)
    error = _status(hand)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (case, error.details())
    W, version = jobs.job.store.weights()
    assert version == 0 and np.array_equal(W, jobs.w0)


def test_unary_push_refuses_pieces(serve):  # noqa: F811
    jobs, address = serve(shared_memory=False)
    with grpc.insecure_channel(address, options=GRPC_OPTIONS) as channel:
        stub = descent_pb2_grpc.ParameterServerStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.Push(descent_pb2.PushRequest(job_id="job", worker_id="job-w0", secret=jobs.secret, more=True,
                                              **{k: v for k, v in _piece(b"", True, dtype="float32",
                                                                         shape=list(SHAPE)).items() if k != "more"}))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "PushStream only" in caught.value.details()
    assert jobs.job.store.version == 0
