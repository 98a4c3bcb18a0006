"""Atomic files in the server's state directory: one JSON status and one .npy W per job.

Every write goes to a temporary file in the same directory and is moved into
place with ``os.replace``, so a reader never sees half a file and a crash never
leaves one behind.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
from google.protobuf import json_format

from proto import descent_pb2


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class StateDir:
    """Reads and writes job files under ``root/jobs``."""

    def __init__(self, root: Path):
        self.jobs = Path(root) / "jobs"
        self.jobs.mkdir(parents=True, exist_ok=True)

    def _status_path(self, job_id: str) -> Path:
        return self.jobs / f"{job_id}.json"

    def _weights_path(self, job_id: str) -> Path:
        return self.jobs / f"{job_id}.npy"

    def save_status(self, status: descent_pb2.JobStatus, owner: str) -> None:
        """Write the status (without loss history) and the owning server's id."""
        record = descent_pb2.JobStatus()
        record.CopyFrom(status)
        del record.loss_history[:]
        payload = {"owner": owner, "status": json_format.MessageToDict(record, preserving_proto_field_name=True)}
        _atomic_write(self._status_path(status.job_id), json.dumps(payload, indent=1).encode())

    def save_weights(self, job_id: str, weights: np.ndarray) -> None:
        buffer = io.BytesIO()
        np.save(buffer, weights, allow_pickle=False)
        _atomic_write(self._weights_path(job_id), buffer.getvalue())

    def load_status(self, job_id: str) -> tuple[descent_pb2.JobStatus, str] | None:
        """The stored status and its owner, or None if there is no such job."""
        path = self._status_path(job_id)
        try:
            record = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        status = json_format.ParseDict(record["status"], descent_pb2.JobStatus())
        return status, record.get("owner", "")

    def load_weights(self, job_id: str) -> np.ndarray | None:
        try:
            return np.load(self._weights_path(job_id), allow_pickle=False)
        except FileNotFoundError:
            return None

    def job_ids(self) -> list[str]:
        return sorted(p.stem for p in self.jobs.glob("*.json"))
