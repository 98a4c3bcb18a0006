"""The durable job store on its own: transactions, leases, orphans, damaged records, checkpoint files."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from proto import descent_pb2 as pb
from server.errors import StorageUnavailable
from server.jobs.registry import JobRegistry
from server.jobs.spec import JobConfig
from server.params.loss_history import LossHistory
from server.params.store import ParameterStore
from server.state.database import JobDatabase, StateDirError
from server.state.files import CheckpointUnreadable, JobFiles

State = pb.JobState


def dead_pid() -> int:
    """The PID of a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_claim_is_compare_and_set(tmp_path):
    db = JobDatabase(tmp_path / "jobs.db")
    db.insert(pb.JobStatus(job_id="job-a", state=State.RUNNING, created_at=1.0), "old")
    assert db.claim("job-a", "old", "me")
    assert not db.claim("job-a", "old", "someone-else")  # already taken
    assert db.get("job-a").owner == "me"
    assert not db.update(pb.JobStatus(job_id="job-a", state=State.SUCCEEDED), "old")  # not the owner any more
    assert db.get("job-a").state == State.RUNNING


def test_orphans_are_jobs_whose_server_is_gone(tmp_path):
    first = JobRegistry(tmp_path, lease=60)
    job = first.create(JobConfig(steps=10))
    db = JobDatabase(tmp_path / "jobs.db")
    # One registry per process in real life: give the first one another live process's PID.
    db._db.execute("UPDATE instances SET pid = ? WHERE instance_id = ?", (os.getppid(), first.instance_id))
    second = JobRegistry(tmp_path, lease=60)
    assert second.orphans() == []  # the first server holds a fresh lease and its process is alive
    # A server whose process died is an orphan's owner at once, lease or not.
    db.register_instance("ghost", os.uname().nodename, dead_pid())
    db.insert(pb.JobStatus(job_id="job-ghost", state=State.RUNNING, created_at=2.0), "ghost")
    assert [r.job_id for r in second.orphans()] == ["job-ghost"]
    # A clean shutdown releases the jobs at once.
    first.retire()
    assert {r.job_id for r in second.orphans()} == {job.job_id, "job-ghost"}
    adopted = second.adopt(next(r for r in second.orphans() if r.job_id == job.job_id))
    assert adopted is not None and adopted.restarts == 1 and adopted.resumed_from == 0
    assert job.job_id not in {r.job_id for r in second.orphans()}


def test_an_expired_lease_makes_an_orphan(tmp_path):
    first = JobRegistry(tmp_path, lease=0.2)
    job = first.create(JobConfig(steps=10))
    db = JobDatabase(tmp_path / "jobs.db")
    # Pretend the first server lives on another host: only its lease can tell.
    db._db.execute("UPDATE instances SET host = 'elsewhere', heartbeat_at = heartbeat_at - 10")
    second = JobRegistry(tmp_path, lease=0.2)
    assert [r.job_id for r in second.orphans()] == [job.job_id]


def test_a_damaged_record_is_listed_not_raised(tmp_path):
    registry = JobRegistry(tmp_path)
    good = registry.create(JobConfig(steps=10))
    bad = registry.create(JobConfig(steps=10))
    with sqlite3.connect(tmp_path / "jobs.db") as db:
        db.execute("UPDATE jobs SET record = '{\"job_id\": 7' WHERE job_id = ?", (bad.job_id,))
    fresh = JobRegistry(tmp_path)
    states = {s.job_id: State.Name(s.state) for s in fresh.list()}
    assert states[bad.job_id] == "DAMAGED" and states[good.job_id] != "DAMAGED"
    assert "damaged" in fresh.status(bad.job_id).message
    assert bad.job_id not in {r.job_id for r in fresh.orphans()}  # never resumed


def test_a_newer_schema_or_a_non_database_is_a_clear_error(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "jobs.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateDirError, match="not a usable job database"):
        JobDatabase(tmp_path / "a" / "jobs.db")
    db = JobDatabase(tmp_path / "jobs.db")
    db._db.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    db.close()
    with pytest.raises(StateDirError, match="newer descent"):
        JobDatabase(tmp_path / "jobs.db")


def test_legacy_records_are_imported_and_unfinished_ones_failed(tmp_path):
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "job-old1.json").write_text(
        '{"owner": "h:1", "status": {"job_id": "job-old1", "state": "SUCCEEDED", "steps": "7", "version": "7"}}'
    )
    (tmp_path / "jobs" / "job-old2.json").write_text(
        '{"owner": "h:1", "status": {"job_id": "job-old2", "state": "RUNNING"}}'
    )
    (tmp_path / "jobs" / "job-old3.json").write_text("{trunc")
    np.save(tmp_path / "jobs" / "job-old1.npy", np.ones((2, 3), np.float32))
    registry = JobRegistry(tmp_path)
    states = {s.job_id: State.Name(s.state) for s in registry.list()}
    assert states == {"job-old1": "SUCCEEDED", "job-old2": "FAILED", "job-old3": "DAMAGED"}
    weights, version = registry.weights("job-old1")
    assert weights.shape == (2, 3) and version == 7


def test_a_checkpoint_round_trips_and_resumes_the_store_exactly(tmp_path):
    rng = np.random.default_rng(0)
    store = ParameterStore(rng.standard_normal((3, 4)).astype(np.float32), lr=0.1, target_steps=10)
    for i in range(6):
        store.push(rng.standard_normal((3, 4)).astype(np.float32), float(i), f"w{i % 2}", f"node{i % 2}")
    files = JobFiles(tmp_path)
    files.write_checkpoint("job-x", store.capture())
    state = files.read_checkpoint("job-x")
    resumed = ParameterStore.resume(state, lr=0.1, target_steps=10)
    np.testing.assert_array_equal(resumed.weights()[0], store.weights()[0])
    assert resumed.progress() == store.progress()
    assert resumed.loss_history() == store.loss_history()
    # The same four pushes on both give the same W, and the count stops at exactly 10.
    for i in range(5):
        grad = rng.standard_normal((3, 4)).astype(np.float32)
        a, b = store.push(grad, 1.0, "w0", ""), resumed.push(grad, 1.0, "w0", "")
        assert a.version == b.version and a.data == b.data
    assert resumed.version == 10 and sum(resumed.progress()[2].values()) == 10


def test_a_damaged_checkpoint_is_reported_not_loaded(tmp_path):
    files = JobFiles(tmp_path)
    files.checkpoints.mkdir()
    files.checkpoint_path("job-y").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CheckpointUnreadable, match="job-y.npz"):
        files.read_checkpoint("job-y")
    assert files.read_checkpoint("job-z") is None


def test_loss_history_restores_in_blocks():
    history = LossHistory(250_000)  # blocks of 3 steps
    for i in range(1000):
        history.add(float(i))
    sums, count = history.state()
    again = LossHistory.restore(250_000, sums, count)
    assert again.means() == history.means() and again.recent_mean() == history.recent_mean()
    with pytest.raises(ValueError):
        LossHistory.restore(10, sums, count)


def test_a_full_disk_refuses_a_new_job_cleanly_and_saves_are_retried(tmp_path):
    registry = JobRegistry(tmp_path)
    job = registry.create(JobConfig(steps=10))
    pages = registry._db._db.execute("PRAGMA page_count").fetchone()[0]
    registry._db._db.execute(f"PRAGMA max_page_count = {pages}")  # SQLITE_FULL from here on
    with pytest.raises(StorageUnavailable, match="cannot record the job"):
        for _ in range(50):  # fill the last free page, then fail
            registry.create(JobConfig(steps=10, dataset="x" * 2000))
    job.message = "y" * 100_000
    registry.save(job)  # does not raise: logged, kept for a retry
    assert job.job_id in registry._unsaved
    registry._db._db.execute("PRAGMA max_page_count = 1073741823")
    registry.heartbeat()  # the retry succeeds once there is room again
    assert job.job_id not in registry._unsaved
    assert JobDatabase(tmp_path / "jobs.db").get(job.job_id).status.message == "y" * 100_000
