"""The worker-facing ParameterServer service: pull W, push a gradient and get the new W back.

Only a worker the job placed may push or pull: each request carries the worker's id and
the secret the job handed it at placement (ParameterStore.authorize). A job that has
ended takes no pushes or pulls at all (FAILED_PRECONDITION), so its status of record
cannot change.

On PushStream (the workers' hot path) a reply is the serialized ``Parameters`` built
once per version of W by the store (proto.wire: one copy of W) and sent as it is: the
method is registered with a serializer that passes bytes through (``add_to_server``).
The gradient is decoded without a copy (``np.frombuffer`` over the request's bytes). A W
or gradient over ``proto.limits.STREAM_CHUNK_BYTES`` travels in pieces (``more``), so
its size is bounded by memory, not by gRPC's message limit. A job with ``compress`` pushes a
``CompressedGradient`` instead (one message, never pieces): ``received_gradient`` decodes it
to W's dtype and shape at the edge (worker.task.compressed), and refuses one that does not
decode before the store sees it. Each push's payload bytes add to the job's ``push_bytes``.

A worker on the server's host moves both arrays through a shared-memory lane instead
(proto.shared_memory, server.rpc.shm_lane): its first request offers it, the reply names the
lane, its second request says it is connected, and from then on the stream's thread
answers its pushes on the lane's socket; the call ends when the store says stop. A
worker that cannot use the lane pushes bytes and the lane is dropped.
"""

from __future__ import annotations

import grpc
import numpy as np

from proto import descent_pb2, descent_pb2_grpc, lifted
from proto.tensor import TensorAssembler, from_tensor
from proto.wire import parameters_messages, passthrough
from server.errors import JobNotActive, JobNotFound, RequestError
from server.fields import check_request
from server.jobs.job import TERMINAL, Job
from server.jobs.registry import JobRegistry
from server.params.snapshots import Snapshot
from server.params.store import ParameterStore
from server.rpc.shm_lane import Lane, LanePush, Observe, host_addresses, local_peer
from server.rpc.status import grpc_errors, grpc_stream_errors
from worker.task.compressed import decode_gradient, payload_bytes

State = descent_pb2.JobState
SERVICE = "descent.v1.ParameterServer"
_PENDING = object()  # a gradient whose pieces are still arriving


class ParameterServicer(descent_pb2_grpc.ParameterServerServicer):
    """Thin: check the worker, decode, call the job's ParameterStore, encode."""

    def __init__(
        self, registry: JobRegistry, shared_memory: bool = True, observe_push: Observe | None = None,
        local_addresses: frozenset[str] | None = None,
    ):
        self._registry = registry
        self._shared_memory = shared_memory  # offer workers on this host a shared-memory lane
        self._addresses = host_addresses() if local_addresses is None else local_addresses  # this host's IPs
        self._observe_push = observe_push  # the metrics' per-push timing, for pushes on a lane

    def _store(self, request) -> ParameterStore:
        """The store of the request's job, once the request's worker is known to it."""
        return self._job(request).store

    def _job(self, request) -> Job:
        """The request's job, running with a store that knows the request's worker."""
        job = self._registry.live(request.job_id)
        if job is None:
            raise JobNotFound(f"no running job {request.job_id!r} on this server")
        if job.state in TERMINAL:
            raise JobNotActive(f"job {job.job_id} is {State.Name(job.state)}: it takes no more pushes or pulls")
        if job.store is None:
            raise JobNotActive(f"job {job.job_id} has no parameters yet")
        job.store.authorize(request.worker_id, request.secret, getattr(request, "epoch", 0))  # a PullRequest has none
        return job

    def _encode(self, store: ParameterStore, snap: Snapshot) -> descent_pb2.Parameters:
        weights = descent_pb2.Tensor(dtype=store.dtype.name, shape=store.shape, data=snap.data) if snap.data else None
        return descent_pb2.Parameters(weights=weights, version=snap.version, stop=snap.stop)

    @grpc_errors
    def Pull(self, request, context):
        store = self._store(request)
        return self._encode(store, store.pull())

    def _apply(self, request, context, grad=None, encode=None) -> Snapshot:
        job = self._job(request)
        store = job.store
        if grad is None:
            grad, sent = received_gradient(request, store, job.config.codec.kind)
        else:  # a plain gradient joined from pieces
            if job.config.codec.active:
                raise RequestError(f"this job pushes compressed gradients ({job.config.codec.kind}): "
                                   "a plain gradient is refused")
            sent = grad.nbytes
        kwargs = {} if encode is None else {"encode": encode}
        snap = store.push(
            grad, request.loss, request.worker_id, request.node_id, version=request.version,
            updates=request.updates or 1, alive=context.is_active, epoch=request.epoch, sequence=request.sequence,
            **kwargs,
        )
        job.count_push_bytes(sent)
        return snap

    @grpc_errors
    def Push(self, request, context):
        if request.more:
            raise RequestError("a gradient in pieces (more) travels on PushStream only")
        return self._encode(self._store(request), self._apply(request, context))

    @staticmethod
    def _wire(snap: Snapshot) -> tuple[bytes, ...]:
        """The serialized replies: the store's encoded Parameters (pieces of a large W), or a bare stop message."""
        if snap.stop:
            return (descent_pb2.Parameters(version=snap.version, stop=True).SerializeToString(),)
        return snap.data

    def _gradient(self, request, pieces: TensorAssembler | None) -> tuple[object, TensorAssembler | None]:
        """The request's gradient, or None while pieces of it are still to come (and the assembler)."""
        if pieces is None and not request.more:
            return None, None  # whole in this message: decoded by _apply
        if request.HasField("compressed"):
            raise RequestError("compressed: a compressed gradient travels in one message, never in pieces (more)")
        if pieces is None:
            store = self._store(request)
            pieces = TensorAssembler(limit=int(np.prod(store.shape)) * store.dtype.itemsize)
        try:
            grad = pieces.add(request.gradient, request.more)
        except ValueError as error:
            raise RequestError(f"gradient: {error}") from None
        return (grad if grad is not None else _PENDING), (pieces if grad is None else None)

    @grpc_stream_errors
    def PushStream(self, request_iterator, context):
        lane: Lane | None = None  # this stream's shared-memory lane, once offered (server.rpc.shm_lane)
        offered = False
        pieces: TensorAssembler | None = None  # a gradient arriving in pieces
        try:
            for request in request_iterator:
                check_request(request)
                pushed = request.HasField("gradient") or request.HasField("compressed")
                if pieces is not None and not request.HasField("gradient"):
                    raise RequestError("a gradient's pieces were interrupted by another request")
                if pushed:
                    if lane is not None:  # the worker could not use the lane: bytes from now on
                        lane.close()
                        lane = None
                    grad, pieces = self._gradient(request, pieces)
                    if grad is _PENDING:
                        continue  # no reply until the last piece
                    snap = self._apply(request, context, grad=grad, encode=parameters_messages)
                    replies = self._wire(snap)
                elif request.shared_memory and offered:  # second request: the worker is on the lane
                    if lane is None:
                        raise RequestError("shared_memory: this stream has no lane (the server offered none)")
                    store = self._store(request)
                    lane.accept()
                    snap = lane.serve(self._lane_push(store, request), context.is_active, self._observe_push)
                    if snap is None:  # the worker went
                        return
                    replies = self._wire(snap)
                else:
                    store = self._store(request)
                    store.register(request.worker_id, request.node_id)
                    snap = store.pull(parameters_messages)
                    replies = self._wire(snap)
                    if request.shared_memory and not offered and not snap.stop:
                        offered = True
                        local = self._shared_memory and local_peer(context.peer(), self._addresses)
                        lane = Lane.open(store.shape, store.dtype) if local else None
                        if lane is not None:  # named on the last message, which carries the reply's fields
                            replies = (*replies[:-1], replies[-1] + lane.offer())
                yield from replies
                if snap.stop:
                    return
        finally:
            if lane is not None:
                lane.close()

    @staticmethod
    def _lane_push(store: ParameterStore, hello) -> LanePush:
        """Pushes on a lane, as the worker that opened it (its identity was checked on the stream)."""

        def push(grad, loss, version, updates, encode, alive) -> Snapshot:
            return store.push(
                grad, loss, hello.worker_id, hello.node_id, version=version, updates=updates or 1,
                encode=encode, alive=alive, epoch=hello.epoch,
            )

        return push


def received_gradient(request, store: ParameterStore, kind: str = "none") -> tuple[np.ndarray, int]:
    """The push's gradient as an array of W's shape, and the payload bytes it crossed the wire in.

    A ``compressed`` gradient (worker.compress) is decoded here, at the edge, to the store's
    dtype and shape; one that does not decode to them, or whose kind is not the job's
    ``kind`` (its compress), is a RequestError (INVALID_ARGUMENT) before the store sees anything.
    """
    if not request.HasField("compressed"):
        if kind != "none":
            raise RequestError(f"this job pushes compressed gradients ({kind}): a plain gradient is refused")
        try:
            return from_tensor(request.gradient), len(request.gradient.data)
        except ValueError as error:  # a malformed tensor
            raise RequestError(f"gradient: {error}") from None
    if request.HasField("gradient"):
        raise RequestError("a push carries a gradient or a compressed gradient, not both")
    try:
        grad = decode_gradient(request.compressed, store.shape, store.dtype)
    except ValueError as error:
        raise RequestError(str(error)) from None
    if request.compressed.kind != kind:
        raise RequestError(f"compressed gradient of kind {request.compressed.kind}: this job's compress is {kind}")
    return grad, payload_bytes(request.compressed)


def add_to_server(servicer: ParameterServicer, server: grpc.Server) -> None:
    """Register the service; PushStream replies are pre-serialized bytes, passed through as they are."""
    handlers = {
        "Pull": grpc.unary_unary_rpc_method_handler(
            servicer.Pull,
            request_deserializer=descent_pb2.PullRequest.FromString,
            response_serializer=descent_pb2.Parameters.SerializeToString,
        ),
        "Push": grpc.unary_unary_rpc_method_handler(
            servicer.Push,
            request_deserializer=lifted.push_request,
            response_serializer=descent_pb2.Parameters.SerializeToString,
        ),
        "PushStream": grpc.stream_stream_rpc_method_handler(
            servicer.PushStream,
            request_deserializer=lifted.push_request,
            response_serializer=passthrough,
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    server.add_registered_method_handlers(SERVICE, handlers)
