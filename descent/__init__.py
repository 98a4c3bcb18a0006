"""descent's Python API: train linear SVMs on a descent server from Python or a notebook.

A thin facade over the client's RPC layer (client.rpc) and connection (client.connection): it
speaks only the protocol, never imports ``server`` or ``worker``, and returns plain dataclasses
of numpy arrays that draw themselves (``.plot()`` gives a matplotlib Figure; a notebook cell
shows the picture). Failures are ``descent.DescentError`` subclasses named after the status
codes the CLI prints.

Example::

    import descent

    with descent.connect() as session:                 # an embedded server (and Ray) meanwhile
        job = session.train(dataset="digits")
        print(job.wait().test_accuracy)                # ≈ 0.97
        job.curve().plot()
        session.gradcheck(dataset="digits", checks=10).passed

May import client, proto and formats (never server or worker).
"""

from descent.errors import (
    Aborted,
    AlreadyExists,
    Cancelled,
    DataLoss,
    DeadlineExceeded,
    DescentError,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    JobFailed,
    NotFound,
    OutOfRange,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    Unimplemented,
    Unknown,
)
from descent.job import Job
from descent.notes import GradCheck, Landscape, Minibatch, Sweep
from descent.results import Curve, Evaluation, Prediction, Status, Templates, TuneResult
from descent.session import Session, connect

__all__ = [
    "connect", "Session", "Job",
    "Status", "Curve", "Templates", "Evaluation", "Prediction", "TuneResult", "GradCheck", "Sweep", "Landscape", "Minibatch",
    "DescentError", "InvalidArgument", "NotFound", "AlreadyExists", "PermissionDenied", "Unauthenticated",
    "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable",
    "DataLoss", "DeadlineExceeded", "Cancelled", "Unknown", "JobFailed",
]
