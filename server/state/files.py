"""A job's files beside the job database: checkpoints and final results, written atomically.

``checkpoints/<job>.npz`` is the newest checkpoint of a running job (W, its version,
per-worker counts and nodes, the loss sums, the update rule's state arrays as
``optimizer_<name>``: none in checkpoints written before update rules);
``results/<job>.npz`` is a finished job's W and loss history, and where a job continued
from it starts (``end_*``: the update rule's name, state arrays and count, the chain's
updates, each worker slot's batches drawn; server.jobs.lineage). Every write goes to a
temporary file in the same directory, is fsync'ed and moved into place with
``os.replace``, so a reader (or a server that starts after a ``kill -9``) never
sees half a file. All arrays are plain numpy
(``allow_pickle=False``).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from formats.atomic_file import write_atomically
from server.params.snapshots import StartPoint, StoreState

CHECKPOINT_FORMAT = 1


class CheckpointUnreadable(ValueError):
    """A checkpoint file exists but cannot be read (the message says why)."""


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (creating its folder) so readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, data)


def _npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


class JobFiles:
    """Paths and formats of the checkpoint and result files under one state directory."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.checkpoints = self.root / "checkpoints"
        self.results = self.root / "results"
        self.legacy = self.root / "jobs"  # descent 0.1: jobs/<id>.json and jobs/<id>.npy

    def checkpoint_path(self, job_id: str) -> Path:
        return self.checkpoints / f"{job_id}.npz"

    def write_checkpoint(self, job_id: str, state: StoreState) -> None:
        ids = sorted(state.worker_steps)
        optimizer = sorted(state.optimizer)
        meta = {
            "format": CHECKPOINT_FORMAT, "workers": ids, "nodes": [state.worker_nodes.get(i, "") for i in ids],
            "optimizer": optimizer,
        }
        atomic_write(
            self.checkpoint_path(job_id),
            _npz(
                meta=np.array(json.dumps(meta)),
                weights=state.weights,
                version=np.int64(state.version),
                worker_steps=np.array([state.worker_steps[i] for i in ids], dtype=np.int64),
                loss_sums=state.loss_sums,
                loss_count=np.int64(state.loss_count),
                **{f"optimizer_{name}": state.optimizer[name] for name in optimizer},
            ),
        )

    def read_checkpoint(self, job_id: str) -> StoreState | None:
        """The newest checkpoint, None if there is none; CheckpointUnreadable if it is damaged."""
        path = self.checkpoint_path(job_id)
        try:
            with np.load(path, allow_pickle=False) as f:
                meta = json.loads(str(f["meta"]))
                if meta.get("format") != CHECKPOINT_FORMAT:
                    raise ValueError(f"checkpoint format {meta.get('format')!r}, expected {CHECKPOINT_FORMAT}")
                ids = [str(i) for i in meta["workers"]]
                steps = f["worker_steps"]
                return StoreState(
                    weights=np.ascontiguousarray(f["weights"]),
                    version=int(f["version"]),
                    worker_steps={i: int(s) for i, s in zip(ids, steps, strict=True)},
                    worker_nodes={i: str(n) for i, n in zip(ids, meta["nodes"], strict=True) if n},
                    loss_sums=np.array(f["loss_sums"], dtype=np.float64),
                    loss_count=int(f["loss_count"]),
                    optimizer={
                        str(name): np.ascontiguousarray(f[f"optimizer_{name}"]) for name in meta.get("optimizer", [])
                    },
                )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
            raise CheckpointUnreadable(f"checkpoint {path.name} cannot be read: {type(exc).__name__}: {exc}") from exc

    def remove_checkpoint(self, job_id: str) -> None:
        self.checkpoint_path(job_id).unlink(missing_ok=True)

    def write_result(
        self, job_id: str, weights: np.ndarray, loss_history: list[float], version: int, end: StartPoint | None = None
    ) -> None:
        extra = {}
        if end is not None:
            names = sorted(end.optimizer)
            meta = {"optimizer": end.optimizer_name, "arrays": names, "steps": end.steps, "rule_steps": end.rule_steps}
            extra = dict(end_meta=np.array(json.dumps(meta)), end_batches=np.array(end.batches, dtype=np.int64),
                         **{f"end_optimizer_{name}": end.optimizer[name] for name in names})
        atomic_write(
            self.results / f"{job_id}.npz",
            _npz(weights=weights, loss_history=np.asarray(loss_history, dtype=np.float64), version=np.int64(version),
                 **extra),
        )

    def read_end(self, job_id: str) -> StartPoint | None:
        """Where a job continued from this finished one starts (None without a result file; a result
        written before descent kept one gives W and its version only)."""
        try:
            with np.load(self.results / f"{job_id}.npz", allow_pickle=False) as f:
                weights, version = np.ascontiguousarray(f["weights"]), int(f["version"])
                if "end_meta" not in f.files:
                    return StartPoint(job_id, weights, steps=version)
                meta = json.loads(str(f["end_meta"]))
                return StartPoint(
                    job_id, weights, steps=int(meta["steps"]), optimizer_name=str(meta["optimizer"]),
                    optimizer={str(n): np.ascontiguousarray(f[f"end_optimizer_{n}"]) for n in meta["arrays"]},
                    rule_steps=int(meta["rule_steps"]), batches=tuple(int(b) for b in f["end_batches"]),
                )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
            raise CheckpointUnreadable(f"result of job {job_id} cannot be read: {type(exc).__name__}: {exc}") from exc

    def read_result(self, job_id: str) -> tuple[np.ndarray, list[float]] | None:
        """A finished job's W and loss history (None if it has no result file)."""
        try:
            with np.load(self.results / f"{job_id}.npz", allow_pickle=False) as f:
                return np.ascontiguousarray(f["weights"]), f["loss_history"].tolist()
        except FileNotFoundError:
            pass
        try:  # a job finished by descent 0.1
            return np.load(self.legacy / f"{job_id}.npy", allow_pickle=False), []
        except FileNotFoundError:
            return None
