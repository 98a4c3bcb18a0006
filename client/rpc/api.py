"""A typed wrapper over the ``Trainer`` stub.

Every method returns protocol messages (or a decoded array) and raises
``ApiError(code, details)`` instead of ``grpc.RpcError``; the channel carries
the explicit message limits of ``proto.limits``. ``open_api`` waits for the
channel to become ready and says clearly when no server answers.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

import grpc
import numpy as np

from client.errors import CommandError
from client.rpc.channel import open_channel
from client.rpc.model_calls import ModelCalls
from client.rpc.notes_calls import NotesCalls
from client.rpc.requests import with_optional
from proto import descent_pb2, descent_pb2_grpc
from proto.tensor import from_chunks

#: Deadline of calls that only read or change the job table.
QUICK_CALL_SECONDS = 60.0
#: Deadline of SubmitJob (the server may load a data set before answering).
SUBMIT_SECONDS = 300.0

#: How long closing a channel may take before the command stops waiting for it.
CLOSE_SECONDS = 5.0

T = TypeVar("T")


class ApiError(CommandError):
    """A call failed: ``code`` is the gRPC status name (``INVALID_ARGUMENT``, ...)."""


def _translate(error: grpc.RpcError, address: str) -> ApiError:
    code = error.code() if callable(getattr(error, "code", None)) else None
    name = code.name if code is not None else "UNKNOWN"
    details = error.details() if callable(getattr(error, "details", None)) else None
    details = details or str(error) or name.lower()
    if code == grpc.StatusCode.UNAVAILABLE:
        details = f"{details} (server at {address})"
    return ApiError(name, details)


def _in_thread(work: Callable[[], T], timeout: float | None = None) -> T:
    """Run ``work`` on a fresh daemon thread; return its result or raise its exception.

    Signals are handled on the main thread only, so gRPC never runs there: a
    KeyboardInterrupt raised inside gRPC's own locking code (creating a call,
    waiting on a response) can leave the channel's state locked, and the next
    call or ``channel.close()`` then waits forever. The main thread waits on a
    ``SimpleQueue`` instead, which a Ctrl-C interrupts cleanly and whose ``put``
    never blocks the worker. Raises ``queue.Empty`` after ``timeout`` seconds.
    """
    inbox: queue.SimpleQueue = queue.SimpleQueue()

    def run() -> None:
        try:
            inbox.put((True, work()))
        except BaseException as error:  # handed to the waiting thread
            inbox.put((False, error))

    threading.Thread(target=run, name="descent-grpc", daemon=True).start()
    ok, value = inbox.get(timeout=timeout)
    if ok:
        return value
    raise value


class TrainerApi(ModelCalls, NotesCalls):
    """The Trainer service over one channel; every failure is an ``ApiError``.

    The model calls (export_model, predict, evaluate) come from client.rpc.model_calls.

    Every gRPC operation runs on a helper thread (see ``_in_thread``), so an
    interrupt only ever abandons a wait and never corrupts the channel.
    """

    def __init__(self, channel: grpc.Channel, address: str) -> None:
        self._stub = descent_pb2_grpc.TrainerStub(channel)
        self.address = address

    def _unary(self, method, request, timeout: float | None = None):
        try:
            return _in_thread(lambda: method(request, timeout=timeout))
        except grpc.RpcError as error:
            raise _translate(error, self.address) from None

    def _stream(self, method, request) -> Iterator:
        """Yield the messages of a response stream read on a helper thread; cancel the call when closed."""
        inbox: queue.SimpleQueue = queue.SimpleQueue()
        stopped: list[bool] = []  # set by the consumer; the pump checks it between messages
        calls: list = []  # the call, once the pump has started it

        def pump() -> None:
            try:
                call = method(request)
                calls.append(call)
                for message in call:
                    if stopped:
                        break
                    inbox.put((True, message))
                call.cancel()
                inbox.put((False, None))
            except BaseException as error:  # handed to the consumer
                inbox.put((False, error))

        threading.Thread(target=pump, name="descent-stream", daemon=True).start()
        try:
            while True:
                more, item = inbox.get()
                if more:
                    yield item
                elif item is None:
                    return
                elif isinstance(item, grpc.RpcError):
                    raise _translate(item, self.address)
                else:
                    raise item
        finally:
            stopped.append(True)
            if calls:  # cancel now rather than at the next message; off the main thread, as always
                threading.Thread(target=calls[0].cancel, name="descent-cancel", daemon=True).start()

    def submit(self, spec: descent_pb2.JobSpec) -> descent_pb2.JobStatus:
        """Submit a training job; return its first status (spec with defaults filled in)."""
        return self._unary(self._stub.SubmitJob, descent_pb2.SubmitJobRequest(spec=spec), SUBMIT_SECONDS)

    def get(self, job_id: str, include_history: bool = False) -> descent_pb2.JobStatus:
        """Return the status of one job."""
        request = descent_pb2.GetJobRequest(job_id=job_id, include_history=include_history)
        return self._unary(self._stub.GetJob, request, QUICK_CALL_SECONDS)

    def list(self) -> list[descent_pb2.JobStatus]:
        """Return the status of every job the server knows."""
        return list(self._unary(self._stub.ListJobs, descent_pb2.ListJobsRequest(), QUICK_CALL_SECONDS).jobs)

    def cancel(self, job_id: str, timeout: float = QUICK_CALL_SECONDS) -> descent_pb2.JobStatus:
        """Cancel a job; return its status after the request."""
        return self._unary(self._stub.CancelJob, descent_pb2.CancelJobRequest(job_id=job_id), timeout)

    def scale(
        self, job_id: str, workers: int | None = None, bounds: tuple[int, int] | None = None,
        timeout: float = QUICK_CALL_SECONDS,
    ) -> descent_pb2.JobStatus:
        """Resize a live elastic job: a new target ``workers`` and/or new ``bounds`` (MIN, MAX); return its status."""
        request = descent_pb2.ScaleJobRequest(job_id=job_id)
        if workers is not None:
            request.workers = workers
        if bounds is not None:
            request.min_workers, request.max_workers = bounds
        return self._unary(self._stub.ScaleJob, request, timeout)

    def watch(self, job_id: str, interval: float = 0.0) -> Iterator[descent_pb2.JobStatus]:
        """Yield the job's status as the server streams it; the stream ends after a terminal state.

        Closing the iterator early (or an exception in the consumer) cancels the call.
        """
        request = descent_pb2.WatchJobRequest(job_id=job_id, interval=interval)
        yield from self._stream(self._stub.WatchJob, request)

    def weights(self, job_id: str) -> tuple[np.ndarray, int]:
        """Download the job's current W; return ``(W, version)``."""
        request = descent_pb2.GetWeightsRequest(job_id=job_id)
        with contextlib.closing(self._stream(self._stub.GetWeights, request)) as chunks:
            try:
                return from_chunks(chunks)
            except ValueError as error:
                raise ApiError("DATA_LOSS", f"malformed weight stream for job {job_id}: {error}") from None

    def gradcheck(self, request: descent_pb2.GradientCheckRequest) -> descent_pb2.GradientCheckResponse:
        """Compare analytic and numerical gradients (see ``gradcheck_request``); one answer at the end."""
        return self._unary(self._stub.GradientCheck, request)

    def gradcheck_stream(self, request: descent_pb2.GradientCheckRequest) -> Iterator[descent_pb2.GradientCheckProgress]:
        """The same check with progress: messages until the last one, which carries the result.

        Closing the iterator early (or Ctrl-C) cancels the call, and the server cancels its tasks.
        """
        yield from self._stream(self._stub.GradientCheckStream, request)

    def sweep(
        self,
        dataset: str | None = None,
        *,
        seed: int | None = None,
        reg: float | None = None,
        init_scale: float | None = None,
        step_min: float | None = None,
        step_max: float | None = None,
        points: int | None = None,
        job_id: str | None = None,
        batch_size: int | None = None,
    ) -> descent_pb2.StepSizeSweepResponse:
        """Loss after one gradient step of each step size from the same W (a random one, or a job's)."""
        request = with_optional(
            descent_pb2.StepSizeSweepRequest(),
            dataset=dataset,
            seed=seed,
            reg=reg,
            init_scale=init_scale,
            step_min=step_min,
            step_max=step_max,
            points=points,
            job_id=job_id,
            batch_size=batch_size,
        )
        return self._unary(self._stub.StepSizeSweep, request)

    def cluster(self) -> descent_pb2.ClusterInfoResponse:
        """Describe the Ray cluster: nodes, CPUs, active workers."""
        return self._unary(self._stub.ClusterInfo, descent_pb2.ClusterInfoRequest(), QUICK_CALL_SECONDS)


@contextlib.contextmanager
def open_api(
    address: str, connect_timeout: float, token: str | None = None, tls_ca: bytes | None = None
) -> Iterator[TrainerApi]:
    """Open a channel to ``address``, wait until it is ready, yield a ``TrainerApi``; close on exit.

    Every call carries ``token`` (``authorization: Bearer``); with ``tls_ca`` the channel is TLS.
    Raises ``ApiError("UNAVAILABLE", ...)`` when nothing answers within ``connect_timeout`` seconds.
    """
    channel = _in_thread(lambda: open_channel(address, token, tls_ca))
    try:
        try:
            _in_thread(lambda: grpc.channel_ready_future(channel).result(timeout=connect_timeout))
        except grpc.FutureTimeoutError:
            raise ApiError(
                "UNAVAILABLE",
                f"no descent server answered at {address} within {connect_timeout:g} s "
                "(is `descent serve` running there? check --server / DESCENT_SERVER)",
            ) from None
        yield TrainerApi(channel, address)
    finally:
        try:
            _in_thread(channel.close, timeout=CLOSE_SECONDS)  # cancels any call still running
        except queue.Empty:
            pass
