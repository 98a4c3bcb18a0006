"""The worker-facing ParameterServer service: pull W, push a gradient and get the new W back.

Only a worker the job placed may push or pull: each request carries the worker's id and
the secret the job handed it at placement (ParameterStore.authorize). A job that has
ended takes no pushes or pulls at all (FAILED_PRECONDITION), so its status of record
cannot change.
"""

from __future__ import annotations

from proto import descent_pb2, descent_pb2_grpc
from proto.tensor import from_tensor
from server.errors import JobNotActive, JobNotFound, RequestError, grpc_errors, grpc_stream_errors
from server.fields import check_request
from server.job import TERMINAL
from server.registry import JobRegistry
from server.store import ParameterStore, Snapshot

State = descent_pb2.JobState


class ParameterServicer(descent_pb2_grpc.ParameterServerServicer):
    """Thin: check the worker, decode, call the job's ParameterStore, encode."""

    def __init__(self, registry: JobRegistry):
        self._registry = registry

    def _store(self, request) -> ParameterStore:
        """The store of the request's job, once the request's worker is known to it."""
        job = self._registry.live(request.job_id)
        if job is None:
            raise JobNotFound(f"no running job {request.job_id!r} on this server")
        if job.state in TERMINAL:
            raise JobNotActive(f"job {job.job_id} is {State.Name(job.state)}: it takes no more pushes or pulls")
        if job.store is None:
            raise JobNotActive(f"job {job.job_id} has no parameters yet")
        job.store.authorize(request.worker_id, request.secret)
        return job.store

    def _encode(self, store: ParameterStore, snap: Snapshot) -> descent_pb2.Parameters:
        weights = descent_pb2.Tensor(dtype=store.dtype.name, shape=store.shape, data=snap.data) if snap.data else None
        return descent_pb2.Parameters(weights=weights, version=snap.version, stop=snap.stop)

    @grpc_errors
    def Pull(self, request, context):
        store = self._store(request)
        return self._encode(store, store.pull())

    def _push(self, request) -> descent_pb2.Parameters:
        store = self._store(request)
        try:
            grad = from_tensor(request.gradient)
        except ValueError as error:  # a malformed tensor
            raise RequestError(f"gradient: {error}") from None
        return self._encode(store, store.push(grad, request.loss, request.worker_id, request.node_id))

    @grpc_errors
    def Push(self, request, context):
        return self._push(request)

    @grpc_stream_errors
    def PushStream(self, request_iterator, context):
        for request in request_iterator:
            check_request(request)
            if request.HasField("gradient"):
                reply = self._push(request)
            else:
                store = self._store(request)
                store.register(request.worker_id, request.node_id)
                reply = self._encode(store, store.pull())
            yield reply
            if reply.stop:
                return
