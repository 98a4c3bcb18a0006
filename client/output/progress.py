"""Progress bars on stderr (tqdm): a job followed over WatchJob, a gradient check over its stream.

The job bar counts applied steps out of the requested total and shows the loss
and examples/s; the check bar counts coordinates evaluated by the cluster. Both
are disabled for ``--json`` and when stderr is not a terminal.
"""

from __future__ import annotations

import contextlib
import math
import sys

from tqdm import tqdm

from client.output.render import membership_json
from client.output.text import membership_line
from client.rpc.api import ApiError, TrainerApi
from proto import descent_pb2

#: States a job never leaves.
TERMINAL_STATES = frozenset({descent_pb2.SUCCEEDED, descent_pb2.FAILED, descent_pb2.CANCELLED})

#: Times the stream may end before a terminal state before we give up.
MAX_RECONNECTS = 3


def is_terminal(status: descent_pb2.JobStatus) -> bool:
    """True when the job is SUCCEEDED, FAILED or CANCELLED."""
    return status.state in TERMINAL_STATES


def _show(bar: tqdm, status: descent_pb2.JobStatus) -> None:
    if status.spec.HasField("steps") and bar.total != status.spec.steps:
        bar.total = status.spec.steps
    bar.set_description_str(descent_pb2.JobState.Name(status.state).lower(), refresh=False)
    if status.state == descent_pb2.QUEUED:
        bar.set_postfix_str(status.message, refresh=False)  # what it waits for
    elif status.steps > 0 and math.isfinite(status.loss):
        bar.set_postfix_str(f"loss {status.loss:.4f}, {status.examples_per_second:,.0f} ex/s", refresh=False)
    if status.steps > bar.n:
        bar.update(status.steps - bar.n)
    else:
        bar.refresh()


def follow(
    api: TrainerApi, job_id: str, *, show_bar: bool, first: descent_pb2.JobStatus | None = None, bar_class: type = tqdm
) -> descent_pb2.JobStatus:
    """Watch ``job_id`` until it reaches a terminal state; return that final status.

    ``bar_class`` draws the bar: tqdm on stderr (the CLI), or ``tqdm.auto.tqdm`` (a notebook's widget).

    If the stream ends early the job is polled and watched again (a few times at
    most, then ``ApiError("UNAVAILABLE")``). A KeyboardInterrupt propagates with
    the stream cancelled and the bar closed.
    """
    total = first.spec.steps if first is not None and first.spec.HasField("steps") else None
    bar = bar_class(
        total=total,
        unit="step",
        file=sys.stderr,
        disable=not show_bar,
        dynamic_ncols=True,
        leave=True,
        desc="pending",
    )
    printed = [0.0]  # the time of the newest membership change printed

    def show(status: descent_pb2.JobStatus) -> None:
        _show(bar, status)
        for change in status.membership:  # an elastic job's joins and leaves, one line each
            if change.time > printed[0]:
                tqdm.write("workers: " + membership_line(membership_json(change)), file=sys.stderr)
                printed[0] = change.time

    try:
        if first is not None:
            show(first)
        for _ in range(MAX_RECONNECTS + 1):
            with contextlib.closing(api.watch(job_id)) as stream:
                for status in stream:
                    show(status)
                    if is_terminal(status):
                        return status
            status = api.get(job_id)
            show(status)
            if is_terminal(status):
                return status
        raise ApiError("UNAVAILABLE", f"the server keeps ending the watch of job {job_id} before it finishes")
    finally:
        bar.close()


def follow_check(
    api: TrainerApi, request: descent_pb2.GradientCheckRequest, *, show_bar: bool
) -> descent_pb2.GradientCheckResponse:
    """Run a gradient check over GradientCheckStream with a bar of coordinates; return its result.

    A KeyboardInterrupt propagates with the stream cancelled (the server then cancels its tasks).
    """
    bar = tqdm(total=None, unit="coord", unit_scale=True, file=sys.stderr, disable=not show_bar,
               dynamic_ncols=True, leave=False, desc="gradient check")
    try:
        with contextlib.closing(api.gradcheck_stream(request)) as stream:
            for message in stream:
                if message.total and bar.total != message.total:
                    bar.total = message.total
                if message.done > bar.n:
                    bar.update(message.done - bar.n)
                if message.HasField("result"):
                    return message.result
        raise ApiError("UNAVAILABLE", "the gradient check stream ended without a result")
    finally:
        bar.close()
