"""The durable job store: one SQLite database (WAL mode) in the server's state directory.

Every job is one row: its status record (a ``JobStatus`` as JSON, without the loss
history), its state, and the server instance that owns it. Every server start is one
row of ``instances`` with a heartbeat; a non-terminal job whose owner's heartbeat is
older than the lease belongs to whichever server claims it first (a compare-and-set
``UPDATE``). Each change is one transaction, so a ``kill -9`` at any instant leaves
the database consistent: SQLite's WAL journal is replayed or discarded as a whole.

A row whose record cannot be parsed is returned as damaged (``DAMAGED`` with the
reason), never raised: one bad record must not break ``descent jobs``.

Several server processes may share one state directory (``descent serve`` and the
embedded servers of CLI commands): each opens its own connection; SQLite's locking
and ``busy_timeout`` serialise their writes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import json_format

from proto import descent_pb2

State = descent_pb2.JobState
TERMINAL_STATES = (State.SUCCEEDED, State.FAILED, State.CANCELLED)

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS instances (
    instance_id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    state INTEGER NOT NULL,
    owner TEXT,
    record TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state);
"""


class StateDirError(RuntimeError):
    """The state directory cannot be used (a newer schema, or not a database)."""


@dataclass(frozen=True)
class Instance:
    """A server instance's lease: where it runs and when it last renewed it."""

    host: str
    pid: int
    heartbeat_at: float


@dataclass(frozen=True)
class Row:
    """One stored job: its status (or why it could not be read) and its owner."""

    job_id: str
    state: int
    owner: str | None
    status: descent_pb2.JobStatus  # state DAMAGED with the reason when the record is unreadable


def encode(status: descent_pb2.JobStatus) -> str:
    """A status as the stored JSON record (the loss history is kept with the weights, not here)."""
    record = descent_pb2.JobStatus()
    record.CopyFrom(status)
    del record.loss_history[:]
    return json.dumps(json_format.MessageToDict(record, preserving_proto_field_name=True), separators=(",", ":"))


def decode(job_id: str, created_at: float, record: str) -> descent_pb2.JobStatus:
    """The stored record as a status; a record that cannot be parsed becomes a DAMAGED status."""
    try:
        status = json_format.ParseDict(json.loads(record), descent_pb2.JobStatus())
        if status.job_id != job_id:
            raise ValueError(f"record names job {status.job_id[:80]!r}")
        return status
    except Exception as exc:  # json, protobuf and our own errors alike: the record is damaged
        reason = f"{type(exc).__name__}: {exc}"[:300]
        return descent_pb2.JobStatus(
            job_id=job_id, state=State.DAMAGED, created_at=created_at, message=f"stored record is damaged ({reason})"
        )


class JobDatabase:
    """Job rows and server-instance leases in ``<state_dir>/jobs.db``."""

    def __init__(self, path: Path, busy_timeout: float = 30.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a committed transaction survives a crash of the process
            # (kill -9); only a power loss may lose the last ones.
            self._db.execute("PRAGMA synchronous=NORMAL")
            with self._write():
                for statement in _SCHEMA.strip().split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                found = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
                if found is None:
                    self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                elif int(found[0]) > SCHEMA_VERSION:
                    raise StateDirError(
                        f"{self.path} was written by a newer descent (schema {found[0]}, this one reads "
                        f"{SCHEMA_VERSION}); upgrade descent or use another --state-dir"
                    )
        except sqlite3.DatabaseError as exc:
            raise StateDirError(f"{self.path} is not a usable job database ({exc}); move it away to start afresh") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    class _Transaction:
        def __init__(self, db: JobDatabase):
            self._outer = db

        def __enter__(self):
            self._outer._lock.acquire()
            try:
                self._outer._db.execute("BEGIN IMMEDIATE")
            except BaseException:
                self._outer._lock.release()
                raise
            return self._outer._db

        def __exit__(self, exc_type, exc, tb):
            db = self._outer._db
            try:
                if exc_type is None:
                    db.execute("COMMIT")
            finally:
                try:
                    if db.in_transaction:  # an error; SQLite rolls back by itself on some (SQLITE_FULL)
                        db.execute("ROLLBACK")
                finally:
                    self._outer._lock.release()

    def _write(self) -> JobDatabase._Transaction:
        """One write transaction (BEGIN IMMEDIATE … COMMIT), rolled back on an exception."""
        return JobDatabase._Transaction(self)

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # -- server instances and their leases ------------------------------------------

    def register_instance(self, instance_id: str, host: str, pid: int) -> None:
        now = time.time()
        with self._write() as db:
            db.execute("INSERT INTO instances VALUES (?, ?, ?, ?, ?)", (instance_id, host, pid, now, now))

    def heartbeat(self, instance_id: str) -> None:
        with self._write() as db:
            db.execute("UPDATE instances SET heartbeat_at = ? WHERE instance_id = ?", (time.time(), instance_id))

    def retire_instance(self, instance_id: str) -> None:
        """Forget the instance (a clean shutdown): its unfinished jobs are free at once."""
        with self._write() as db:
            db.execute("UPDATE jobs SET owner = NULL WHERE owner = ?", (instance_id,))
            db.execute("DELETE FROM instances WHERE instance_id = ?", (instance_id,))

    def instances(self) -> dict[str, Instance]:
        """Every registered server instance (live or not) by id."""
        rows = self._read("SELECT instance_id, host, pid, heartbeat_at FROM instances")
        return {r[0]: Instance(r[1], int(r[2]), float(r[3])) for r in rows}

    def unfinished(self) -> list[Row]:
        """Every job that is neither finished nor damaged, oldest first."""
        rows = self._read(
            "SELECT job_id, created_at, state, owner, record FROM jobs WHERE state NOT IN (?, ?, ?, ?) "
            "ORDER BY created_at",
            (*TERMINAL_STATES, State.DAMAGED),
        )
        return [row for row in (self._row(*r) for r in rows) if row.state != State.DAMAGED]

    def claim(self, job_id: str, owner: str | None, new_owner: str) -> bool:
        """Take an orphaned job: set its owner to ``new_owner`` if it is still ``owner``; return whether it was."""
        with self._write() as db:
            cursor = db.execute(
                "UPDATE jobs SET owner = ?, updated_at = ? WHERE job_id = ? AND owner IS ?",
                (new_owner, time.time(), job_id, owner),
            )
            return cursor.rowcount == 1

    def prune_instances(self, lease: float) -> None:
        """Drop instance rows whose lease ran out long ago (their jobs are orphans either way)."""
        with self._write() as db:
            db.execute("DELETE FROM instances WHERE heartbeat_at < ?", (time.time() - 10 * lease,))

    # -- job rows ---------------------------------------------------------------------

    def insert(self, status: descent_pb2.JobStatus, owner: str) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?)",
                (status.job_id, status.created_at, status.state, owner, encode(status), time.time()),
            )

    def update(self, status: descent_pb2.JobStatus, owner: str) -> bool:
        """Write the job's record if ``owner`` still owns it; return whether it did."""
        with self._write() as db:
            cursor = db.execute(
                "UPDATE jobs SET state = ?, record = ?, updated_at = ? WHERE job_id = ? AND owner IS ?",
                (status.state, encode(status), time.time(), status.job_id, owner),
            )
            return cursor.rowcount == 1

    def import_record(self, status: descent_pb2.JobStatus) -> None:
        """Add a record from an old state directory (kept if a row of that id exists)."""
        with self._write() as db:
            db.execute(
                "INSERT OR IGNORE INTO jobs VALUES (?, ?, ?, NULL, ?, ?)",
                (status.job_id, status.created_at, status.state, encode(status), time.time()),
            )

    def get(self, job_id: str) -> Row | None:
        rows = self._read("SELECT job_id, created_at, state, owner, record FROM jobs WHERE job_id = ?", (job_id,))
        return self._row(*rows[0]) if rows else None

    def all(self) -> list[Row]:
        rows = self._read("SELECT job_id, created_at, state, owner, record FROM jobs ORDER BY created_at")
        return [self._row(*r) for r in rows]

    @staticmethod
    def _row(job_id: str, created_at: float, state: int, owner: str | None, record: str) -> Row:
        status = decode(job_id, created_at, record)
        return Row(job_id, status.state if status.state == State.DAMAGED else state, owner, status)
