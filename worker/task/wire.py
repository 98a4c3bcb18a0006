"""How a worker's gradients and W travel on its PushStream: inside the messages, or on a lane.

``open_wire`` reads the first reply. If it names a shared-memory lane (proto.shared_memory)
and this worker can map the segment, connect to its socket and send the token, it tells
the server so with a second request and returns a ``LaneWire``: the gradient is written
into the segment and a small message sent on the socket, and W is copied out of the
segment when the reply comes. Otherwise a ``GrpcWire``: the gradient in the request's
bytes (proto.wire, one copy) and W decoded from the reply without a copy; a W or gradient
over ``proto.limits.STREAM_CHUNK_BYTES`` travels in pieces, joined on arrival. A job that
compresses its gradients (worker.compress) always uses a ``GrpcWire``: each push is one
message with a ``CompressedGradient`` (worker.task.compressed), its residual kept here.
"""

from __future__ import annotations

import queue
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from proto import descent_pb2
from proto.shared_memory import PUSH, REPLY, Segment, socket_address
from proto.tensor import TensorAssembler, from_tensor
from proto.wire import push_request_messages
from worker.compress import ErrorFeedback
from worker.task.compressed import to_message

#: Seconds to connect to a lane's socket before pushing bytes instead.
CONNECT_TIMEOUT = 5.0


@dataclass
class Weights:
    """A reply, decoded: W (this worker's own array), its version, and whether to stop."""

    W: np.ndarray | None
    version: int
    stop: bool


@dataclass
class Update:
    """A gradient ready to push: computed on W at ``version``, with its batch loss."""

    grad: np.ndarray
    loss: float
    version: int


class GrpcWire:
    """Both arrays inside the PushStream messages."""

    shared_memory = False

    def __init__(
        self, outbox: queue.SimpleQueue, replies: Iterator[descent_pb2.Parameters], fields: dict,
        encoder: ErrorFeedback | None = None,
    ):
        self._outbox, self._replies, self._fields = outbox, replies, fields
        self._sequence = 0  # this worker epoch's pushes (server.params.pushes): a re-sent one keeps its number
        self._encoder = encoder  # the job's compression (worker.compress), if any

    def send(self, update: Update, updates: int) -> None:
        self._sequence += 1
        if self._encoder is not None:  # compressed: one message, never in pieces
            compressed = to_message(self._encoder.encode(update.grad))
            self._outbox.put(descent_pb2.PushRequest(
                compressed=compressed, loss=update.loss, version=update.version, updates=updates,
                sequence=self._sequence, **self._fields,
            ).SerializeToString())
            return
        for message in push_request_messages(
            update.grad, loss=update.loss, version=update.version, updates=updates, sequence=self._sequence,
            **self._fields,
        ):
            self._outbox.put(message)

    def receive(self) -> Weights:
        return decode(*receive(self._replies))


class LaneWire:
    """Both arrays in the shared segment; one small message each way on the lane's socket."""

    shared_memory = True

    def __init__(self, segment: Segment, sock: socket.socket, replies: Iterator[descent_pb2.Parameters]):
        self._segment, self._sock, self._replies = segment, sock, replies
        self._broken = False

    def send(self, update: Update, updates: int) -> None:
        np.copyto(self._segment.gradient, update.grad)
        try:
            self._sock.send(PUSH.pack(update.version, update.loss, updates))
        except OSError:  # the server closed the lane: the next receive reads why from the call
            self._broken = True

    def receive(self) -> Weights:
        message = b""
        if not self._broken:
            try:
                message = self._sock.recv(64)
            except OSError:
                pass
        if len(message) != REPLY.size:
            return self._ended()
        version, stop = REPLY.unpack(message)
        if stop:
            self._finish()
            return Weights(None, version, True)
        return Weights(self._segment.weights.copy(), version, False)  # the server writes it again next push

    def _finish(self) -> None:
        """After a stop on the lane, read the call to its end (its stop message and OK), so it ends
        as finished rather than cancelled by this worker closing its channel."""
        try:
            for _ in self._replies:
                pass
        except Exception:  # the job is over either way
            pass

    def _ended(self) -> Weights:
        """The server closed the lane: its call's status says why (an error raises here)."""
        self._sock.close()
        try:
            params, _ = receive(self._replies)
        except StopIteration:
            raise RuntimeError("the parameter server closed the lane without a reply") from None
        if params.stop:
            return Weights(None, params.version, True)
        raise RuntimeError("the parameter server closed the lane")

    def close(self) -> None:
        """Close the socket and unmap the segment (this process may run other tasks after the job)."""
        self._sock.close()
        self._segment.close()


def receive(replies: Iterator[descent_pb2.Parameters]) -> tuple[descent_pb2.Parameters, np.ndarray | None]:
    """The next reply, its pieces joined (proto.wire): the last message (its fields) and W (None on stop)."""
    params = next(replies)
    if params.stop:
        return params, None
    if not params.more:
        return params, from_tensor(params.weights)
    pieces = TensorAssembler()
    pieces.add(params.weights, True)
    while params.more:
        params = next(replies)
        W = pieces.add(params.weights, params.more)
    return params, W


def decode(params: descent_pb2.Parameters, W: np.ndarray | None) -> Weights:
    if params.stop:
        return Weights(None, params.version, True)
    return Weights(W, params.version, False)


def _connect(params: descent_pb2.Parameters, shape, dtype) -> tuple[Segment, socket.socket] | None:
    segment = Segment.attach(params.shared_memory, params.shared_memory_token, shape, dtype)
    if segment is None:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        sock.settimeout(CONNECT_TIMEOUT)
        sock.connect(socket_address(params.shared_memory))
        sock.send(segment.token)
        sock.settimeout(None)
    except OSError:
        sock.close()
        return None
    return segment, sock


def open_wire(
    outbox: queue.SimpleQueue, replies: Iterator[descent_pb2.Parameters], fields: dict,
    encoder: ErrorFeedback | None = None,
) -> tuple[GrpcWire | LaneWire, Weights]:
    """The wire this stream uses, from its first reply, and the W that reply carries (a job that
    compresses its gradients pushes them in the messages: ``encoder``)."""
    first, W = receive(replies)
    current = decode(first, W)
    if current.stop or not first.shared_memory or encoder is not None:
        return GrpcWire(outbox, replies, fields, encoder), current
    lane = _connect(first, current.W.shape, current.W.dtype)
    if lane is None:
        return GrpcWire(outbox, replies, fields), current
    outbox.put(descent_pb2.PushRequest(shared_memory=True, **fields).SerializeToString())
    return LaneWire(*lane, replies), current

