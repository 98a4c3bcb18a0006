"""The RPCs behind the notes' pictures (Minibatch, Landscape), a part of client.rpc.api.TrainerApi."""

from __future__ import annotations

from client.rpc.requests import with_optional
from proto import descent_pb2

#: Deadline of the measurements: the server loads the data set and runs Ray tasks first.
NOTES_CALL_SECONDS = 600.0


class NotesCalls:
    """Mixed into TrainerApi (which provides ``_unary`` and ``_stub``)."""

    def minibatch(
        self, dataset=None, *, job_id=None, seed=None, reg=None, init_scale=None, draws=None, batch_sizes=None
    ) -> descent_pb2.MinibatchResponse:
        """Cosine of batch vs full gradient and µs per example, per batch size (a random W, or a job's)."""
        request = with_optional(
            descent_pb2.MinibatchRequest(), dataset=dataset, job_id=job_id, seed=seed, reg=reg, init_scale=init_scale,
            draws=draws,
        )
        request.batch_sizes.extend(batch_sizes or ())
        return self._unary(self._stub.Minibatch, request, NOTES_CALL_SECONDS)

    def landscape(
        self, dataset=None, *, job_id=None, seed=None, reg=None, init_scale=None, examples=None, points=None, span=None
    ) -> descent_pb2.LandscapeResponse:
        """The loss along a random line and over a random plane through W (a random one, or a job's)."""
        request = with_optional(
            descent_pb2.LandscapeRequest(), dataset=dataset, job_id=job_id, seed=seed, reg=reg, init_scale=init_scale,
            examples=examples, points=points, span=span,
        )
        return self._unary(self._stub.Landscape, request, NOTES_CALL_SECONDS)
