"""The shared-memory lane: a real gRPC server and the real worker loop, against a single-process oracle.

A worker on the server's host trains through the lane and gets exactly the W a plain SGD loop
gets on the same batches; a worker on the bytes path gets the same W; bad lane input ends the
call with INVALID_ARGUMENT naming it and changes nothing; a worker that vanishes leaves no
name in /dev/shm.
"""

from __future__ import annotations

import os
import socket
import threading
from concurrent import futures

import grpc
import numpy as np
import pytest

from proto import descent_pb2
from proto import shared_memory as shm
from proto.limits import GRPC_OPTIONS
from proto.shared_memory import PUSH, Segment
from proto.tensor import from_tensor
from proto.wire import passthrough
from server.jobs.job import Job
from server.jobs.spec import JobConfig
from server.params.store import ParameterStore
from server.rpc.parameter_servicer import ParameterServicer, add_to_server
from server.rpc.shm_lane import local_peer
from worker.data.rows import sample_batch
from worker.kernel import svm_loss_grad
from worker.task.loop import PUSH_STREAM, LoopConfig, TrainLoop

SHAPE = (10, 65)
LR, REG, BATCH, SEED = 1e-2, 1e-3, 32, 7


class _Jobs:
    """One RUNNING job with a real store, as the servicer's registry."""

    def __init__(self, steps: int):
        self.w0 = (1e-3 * np.random.default_rng(0).standard_normal(SHAPE)).astype(np.float32)
        self.job = Job("job", JobConfig(), state=descent_pb2.RUNNING)
        self.job.store = ParameterStore(self.w0, lr=LR, target_steps=steps)
        self.secret = self.job.store.enroll("job-w0")

    def live(self, job_id):
        return self.job if job_id == "job" else None


@pytest.fixture
def serve():
    servers = []

    def start(steps: int = 40, shared_memory: bool = True):
        jobs = _Jobs(steps)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=GRPC_OPTIONS)
        add_to_server(ParameterServicer(jobs, shared_memory=shared_memory), server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        servers.append(server)
        return jobs, f"127.0.0.1:{port}"

    yield start
    for server in servers:
        server.stop(0)


def _ours() -> list[str]:
    return [p.name for p in shm.SHM_DIR.glob(f"descent-{os.getpid()}-*")]


def _data():
    rng = np.random.default_rng(1)
    return rng.standard_normal((200, SHAPE[1])).astype(np.float32), rng.integers(0, SHAPE[0], 200)


def _oracle(w0, X, y, steps):
    rng, W = np.random.default_rng(SEED), w0.copy()
    for _ in range(steps):
        Xb, yb = sample_batch(X, y, BATCH, rng)
        _, dW = svm_loss_grad(W, Xb, yb, REG)
        W += np.multiply(dW, -LR)
    return W


@pytest.mark.parametrize("shared_memory", [True, False])
def test_worker_gets_the_single_process_w_on_the_lane_and_on_bytes(serve, shared_memory):
    jobs, address = serve(steps=40, shared_memory=shared_memory)
    X, y = _data()
    cfg = LoopConfig(address, "job", "job-w0", "node", BATCH, REG, SEED, secret=jobs.secret, overlap=False)
    result = TrainLoop(cfg).run(X, y)
    W, version = jobs.job.store.weights()
    assert result["shared_memory"] is shared_memory
    assert version == 40 and result["pushes"] == 40
    np.testing.assert_allclose(W, _oracle(jobs.w0, X, y, 40), rtol=1e-6, atol=1e-9)
    assert _ours() == []  # the name went at the first push


def test_overlapping_worker_on_the_lane_applies_exactly_the_target(serve):
    jobs, address = serve(steps=25)
    X, y = _data()
    cfg = LoopConfig(address, "job", "job-w0", "node", BATCH, REG, SEED, secret=jobs.secret)
    result = TrainLoop(cfg).run(X, y)
    assert result["shared_memory"] and jobs.job.store.version == 25 and result["pushes"] == 25
    assert jobs.job.store.staleness().p50 == 1  # the next gradient was computed while a push was in flight


class _Hand:
    """A hand-driven PushStream, to send what the worker never would."""

    def __init__(self, address: str, jobs: _Jobs):
        self.jobs = jobs
        self.channel = grpc.insecure_channel(address, options=GRPC_OPTIONS)
        call = self.channel.stream_stream(PUSH_STREAM, request_serializer=passthrough,
                                          response_deserializer=descent_pb2.Parameters.FromString)
        self.outbox: list = []
        self._ready = threading.Condition()
        self.replies = call(self._requests())

    def _requests(self):
        while True:
            with self._ready:
                self._ready.wait_for(lambda: self.outbox)
                item = self.outbox.pop(0)
            if item is None:
                return
            yield item

    def send(self, **fields) -> None:
        request = descent_pb2.PushRequest(job_id="job", worker_id="job-w0", secret=self.jobs.secret, **fields)
        with self._ready:
            self.outbox.append(request.SerializeToString())
            self._ready.notify()

    def hello(self) -> descent_pb2.Parameters:
        self.send(shared_memory=True)
        return next(self.replies)

    def lane(self, first, token=None):
        segment = Segment.attach(first.shared_memory, first.shared_memory_token, SHAPE, np.float32)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        sock.connect(shm.socket_address(first.shared_memory))
        sock.send(segment.token if token is None else token)
        self.send(shared_memory=True)
        return segment, sock


def _status(hand: _Hand) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        next(hand.replies)
    return caught.value


def test_nan_gradient_on_the_lane_is_invalid_argument_and_changes_nothing(serve):
    jobs, address = serve()
    hand = _Hand(address, jobs)
    first = hand.hello()
    assert first.shared_memory and len(first.shared_memory_token) == shm.TOKEN_BYTES
    segment, sock = hand.lane(first)
    segment.gradient[...] = 0.0
    segment.gradient[3, 4] = np.nan
    sock.send(PUSH.pack(0, 1.0, 1))
    assert sock.recv(64) == b""  # the server closed the lane...
    error = _status(hand)  # ...and the call says why
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "NaN" in error.details()
    W, version = jobs.job.store.weights()
    assert version == 0 and np.array_equal(W, jobs.w0)
    np.testing.assert_array_equal(from_tensor(first.weights), jobs.w0)


def test_wrong_token_and_malformed_lane_messages_are_refused(serve):
    jobs, address = serve()
    hand = _Hand(address, jobs)
    hand.lane(hand.hello(), token=b"x" * shm.TOKEN_BYTES)
    error = _status(hand)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "token" in error.details()

    hand = _Hand(address, jobs)
    _, sock = hand.lane(hand.hello())
    sock.send(b"\x01\x02\x03")
    error = _status(hand)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "lane message of 3 bytes" in error.details()
    assert jobs.job.store.version == 0 and _ours() == []


def test_switching_to_a_lane_the_server_never_offered_is_invalid_argument(serve):
    jobs, address = serve(shared_memory=False)  # `--no-shared-memory`
    hand = _Hand(address, jobs)
    assert not hand.hello().shared_memory
    hand.send(shared_memory=True)
    error = _status(hand)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "no lane" in error.details()


def test_saying_connected_without_connecting_is_invalid_argument(serve):
    jobs, address = serve()
    hand = _Hand(address, jobs)
    first = hand.hello()
    hand.send(shared_memory=True)  # but never connected
    error = _status(hand)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "no connection sent its token" in error.details()
    assert not (shm.SHM_DIR / first.shared_memory).exists()


def test_a_worker_that_cannot_map_the_lane_pushes_bytes_and_the_lane_goes(serve):
    jobs, address = serve()
    hand = _Hand(address, jobs)
    first = hand.hello()
    assert (shm.SHM_DIR / first.shared_memory).exists()
    hand.send(gradient=descent_pb2.Tensor(dtype="float32", shape=SHAPE, data=np.ones(SHAPE, np.float32).tobytes()),
              loss=1.0)
    reply = next(hand.replies)
    assert reply.version == 1 and not (shm.SHM_DIR / first.shared_memory).exists()
    np.testing.assert_allclose(from_tensor(reply.weights), jobs.w0 - LR, rtol=1e-6)


def test_a_worker_that_vanishes_on_the_lane_ends_its_call_and_leaves_nothing(serve):
    jobs, address = serve()
    hand = _Hand(address, jobs)
    segment, sock = hand.lane(hand.hello())
    segment.gradient[...] = 1.0
    sock.send(PUSH.pack(0, 1.0, 1))
    assert len(sock.recv(64)) == shm.REPLY.size
    np.testing.assert_allclose(segment.weights, jobs.w0 - LR, rtol=1e-6)
    sock.close()  # as a kill -9 would
    with pytest.raises(StopIteration):  # the server's thread left the lane; the call ends
        next(hand.replies)
    assert jobs.job.store.version == 1 and _ours() == []


def test_segment_attach_checks_name_size_and_token(tmp_path, monkeypatch):
    made = Segment.create(SHAPE, np.float32)
    try:
        assert Segment.attach(made.name, made.token, SHAPE, np.float32) is not None
        assert Segment.attach(made.name, b"\0" * shm.TOKEN_BYTES, SHAPE, np.float32) is None
        assert Segment.attach(made.name, made.token, (10, 66), np.float32) is None
        assert Segment.attach("../../etc/passwd", made.token, SHAPE, np.float32) is None
    finally:
        made.unlink()
    assert Segment.attach(made.name, made.token, SHAPE, np.float32) is None  # gone

    def full(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full)
    assert Segment.create(SHAPE, np.float32) is None and _ours() == []


def _mapped(name: str) -> bool:
    with open("/proc/self/maps") as maps:
        return name in maps.read()


def test_segment_close_unmaps_it_unless_a_view_is_still_held():
    made = Segment.create(SHAPE, np.float32)
    made.unlink()
    try:
        assert _mapped(made.name)
        made.close()
        made.close()  # idempotent
        assert not _mapped(made.name) and not hasattr(made, "weights")
        held = Segment.create(SHAPE, np.float32)
        held.unlink()
        view = held.weights[:2]
        held.close()  # the view keeps the mapping alive, without an error
        view[...] = 1.0
        assert _mapped(held.name) and view.sum() == 2 * SHAPE[1]
    finally:
        made.close()


def test_sweep_removes_names_of_dead_servers_only(tmp_path, monkeypatch):
    monkeypatch.setattr(shm, "SHM_DIR", tmp_path)
    dead = tmp_path / ("descent-4194303-" + "ab" * 12)  # the largest pid Linux allows: not running here
    live = tmp_path / (f"descent-{os.getppid()}-" + "cd" * 12)
    huge = tmp_path / ("descent-9999999999-" + "ef" * 12)  # no such pid could exist: left alone, no error
    other = tmp_path / "unrelated"
    for path in (dead, live, huge, other):
        path.write_bytes(b"x")
    assert shm.sweep() == 1
    assert not dead.exists() and live.exists() and huge.exists() and other.exists()


def test_a_stranger_connecting_first_does_not_take_the_workers_lane(serve):
    jobs, address = serve()
    hand = _Hand(address, jobs)
    first = hand.hello()
    stranger = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    stranger.connect(shm.socket_address(first.shared_memory))
    stranger.send(b"y" * shm.TOKEN_BYTES)  # not the token: its connection is closed, the next one taken
    segment, sock = hand.lane(first)
    segment.gradient[...] = 1.0
    sock.send(PUSH.pack(0, 1.0, 1))
    assert len(sock.recv(64)) == shm.REPLY.size and jobs.job.store.version == 1
    assert stranger.recv(64) == b""  # closed by the server
    sock.close()


@pytest.mark.parametrize("peer, local", [
    ("ipv4:127.0.0.1:5000", True), ("ipv6:[::1]:5000", True), ("ipv6:[::ffff:127.0.0.1]:5000", True),
    ("unix:/tmp/s", True), ("ipv4:10.1.2.3:5000", True), ("ipv4:10.9.9.9:5000", False),
    ("ipv6:[fe80::1%eth0]:5000", False), ("garbage", False),
])
def test_only_a_peer_on_this_host_is_offered_a_lane(peer, local):
    assert local_peer(peer, frozenset({"10.1.2.3"})) is local
