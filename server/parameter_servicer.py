"""The worker-facing ParameterServer service: pull W, push a gradient and get the new W back."""

from __future__ import annotations

from proto import descent_pb2, descent_pb2_grpc
from proto.tensor import from_tensor
from server.errors import JobNotActive, JobNotFound, grpc_errors, grpc_stream_errors
from server.registry import JobRegistry
from server.store import ParameterStore, Snapshot


class ParameterServicer(descent_pb2_grpc.ParameterServerServicer):
    """Thin: decode, call the job's ParameterStore, encode."""

    def __init__(self, registry: JobRegistry):
        self._registry = registry

    def _store(self, job_id: str) -> ParameterStore:
        job = self._registry.live(job_id)
        if job is None:
            raise JobNotFound(f"no running job {job_id!r} on this server")
        if job.store is None:
            raise JobNotActive(f"job {job_id} has no parameters yet")
        return job.store

    def _encode(self, store: ParameterStore, snap: Snapshot) -> descent_pb2.Parameters:
        weights = descent_pb2.Tensor(dtype=store.dtype.name, shape=store.shape, data=snap.data) if snap.data else None
        return descent_pb2.Parameters(weights=weights, version=snap.version, stop=snap.stop)

    @grpc_errors
    def Pull(self, request, context):
        store = self._store(request.job_id)
        return self._encode(store, store.pull())

    def _push(self, request) -> descent_pb2.Parameters:
        store = self._store(request.job_id)
        grad = from_tensor(request.gradient)
        return self._encode(store, store.push(grad, request.loss, request.worker_id, request.node_id))

    @grpc_errors
    def Push(self, request, context):
        return self._push(request)

    @grpc_stream_errors
    def PushStream(self, request_iterator, context):
        for request in request_iterator:
            if request.HasField("gradient"):
                reply = self._push(request)
            else:
                store = self._store(request.job_id)
                store.register(request.worker_id, request.node_id)
                reply = self._encode(store, store.pull())
            yield reply
            if reply.stop:
                return
