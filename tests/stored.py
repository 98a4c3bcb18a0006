"""Reading a server's state directory from a test, the way a restarted server reads it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from proto import descent_pb2
from server.state.database import JobDatabase
from server.state.files import JobFiles


def stored_status(state_dir: Path, job_id: str) -> descent_pb2.JobStatus | None:
    """The job's record in ``state_dir/jobs.db`` (None if there is none)."""
    db = JobDatabase(Path(state_dir) / "jobs.db")
    try:
        row = db.get(job_id)
        return None if row is None else row.status
    finally:
        db.close()


def stored_states(state_dir: Path) -> dict[str, str]:
    """Every job id in ``state_dir`` with the name of its stored state."""
    if not (Path(state_dir) / "jobs.db").exists():
        return {}
    db = JobDatabase(Path(state_dir) / "jobs.db")
    try:
        return {row.job_id: descent_pb2.JobState.Name(row.state) for row in db.all()}
    finally:
        db.close()


def stored_weights(state_dir: Path, job_id: str) -> np.ndarray | None:
    """A finished job's stored W."""
    result = JobFiles(Path(state_dir)).read_result(job_id)
    return None if result is None else result[0]
