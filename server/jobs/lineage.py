"""Jobs that continue others (``init_from``): what a child inherits, which parents it may have, and
where a finished job leaves off for a child to go on from.

A child's spec is its parent's with the fields the client set written over it (so ``--steps N``
alone means N more updates of the same job). A parent must have ended with weights (SUCCEEDED or
CANCELLED after training), and its data set must give W the shape the child's data set gives.
The child starts from the parent's end (``StartPoint``, kept in the parent's result file): its W,
its update rule's state and count (used when the child's optimizer is the same), the updates of
the whole chain, and the batches each worker slot drew, so the slots' batch streams go on.
"""

from __future__ import annotations

from collections.abc import Callable

from formats.datasets import parse_spec
from formats.sizes import data_size
from proto import descent_pb2
from server.errors import JobNotActive, JobNotFound, RequestError
from server.params.snapshots import StartPoint, StoreState
from server.state.files import CheckpointUnreadable, JobFiles

State = descent_pb2.JobState
#: The states a job can be continued from (it ended, with weights).
CONTINUABLE = (State.SUCCEEDED, State.CANCELLED)


def continuation(
    spec: descent_pb2.JobSpec, status_of: Callable[[str], descent_pb2.JobStatus], files: JobFiles
) -> tuple[descent_pb2.JobSpec, descent_pb2.JobStatus | None, StartPoint | None]:
    """The spec to resolve, the parent and where the job starts (``spec`` and two Nones without init_from);
    JobNotFound or JobNotActive naming why the parent cannot be continued."""
    if not spec.init_from:
        return spec, None, None
    try:
        parent = status_of(spec.init_from)
    except JobNotFound as exc:
        raise JobNotFound(f"init_from: {exc}") from None
    return inherit(spec, parent), parent, start_point(parent, files)


def inherit(spec: descent_pb2.JobSpec, parent: descent_pb2.JobStatus) -> descent_pb2.JobSpec:
    """The child's spec: the parent's, with every field the client set in ``spec`` written over it."""
    merged = descent_pb2.JobSpec()
    merged.CopyFrom(parent.spec)
    merged.MergeFrom(spec)
    return merged


def check_parent(parent: descent_pb2.JobStatus) -> None:
    """Raise JobNotActive unless ``parent`` ended with weights a job can go on from."""
    if parent.state not in CONTINUABLE:
        name = State.Name(parent.state)
        raise JobNotActive(
            f"init_from: job {parent.job_id} is {name}; a job continues only from a SUCCEEDED or CANCELLED one"
            + (" (wait for it to end or cancel it)" if name in ("PENDING", "QUEUED", "RUNNING") else "")
        )


def start_point(parent: descent_pb2.JobStatus, files: JobFiles) -> StartPoint:
    """Where a child of ``parent`` starts; JobNotActive if it cannot be continued."""
    check_parent(parent)
    try:
        end = files.read_end(parent.job_id)
    except CheckpointUnreadable as exc:
        raise JobNotActive(f"init_from: {exc}") from None
    if end is None:
        raise JobNotActive(f"init_from: job {parent.job_id} ended without weights (it never trained)")
    return end


def check_shape(parent: descent_pb2.JobStatus, dataset: str) -> None:
    """Raise RequestError unless the (confined) ``dataset`` gives W the parent's shape."""
    try:
        size = data_size(*parse_spec(dataset))
    except ValueError as error:
        raise RequestError(f"data set {dataset[:200]!r}: {error}") from None
    want, got = (parent.num_classes, parent.num_features), (size.num_classes, size.num_features + 1)
    if want != got:
        raise RequestError(
            f"init_from: job {parent.job_id}'s W is {want[0]} x {want[1]} but data set {dataset[:200]!r} "
            f"gives {got[0]} x {got[1]} (classes x features + bias): continue on a data set of the same shape"
        )


def slot_of(worker_id: str, job_id: str) -> int | None:
    """The slot of one of ``job_id``'s workers (``JOB-wSLOT``), None for any other id."""
    prefix = f"{job_id}-w"
    tail = worker_id[len(prefix):] if worker_id.startswith(prefix) else ""
    return int(tail) if tail.isdigit() else None


def end_point(job_id: str, optimizer: str, start: StartPoint | None, state: StoreState) -> StartPoint:
    """Where a job that ended at ``state`` leaves off (its child's StartPoint)."""
    before = start.batches if start is not None else ()
    drawn = list(before)
    for worker_id, steps in state.worker_steps.items():
        slot = slot_of(worker_id, job_id)
        if slot is not None:
            drawn += [0] * max(slot + 1 - len(drawn), 0)
            drawn[slot] += steps
    return StartPoint(
        parent=job_id, weights=state.weights, steps=(start.steps if start else 0) + state.version,
        optimizer_name=optimizer, optimizer=state.optimizer,
        rule_steps=(start.rule_offset(optimizer) if start else 0) + state.version, batches=tuple(drawn),
    )
