"""Jobs survive their server: kill -9 and SIGTERM mid-job, damaged records, failed checkpoint writes.

Real server processes on a real local Ray cluster sharing one state directory, as a
user restarting ``descent serve`` would.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from proto import descent_pb2 as pb
from proto.tensor import from_chunks
from tests.server_process import ROOT
from tests.stored import stored_states, stored_status

State = pb.JobState


def submit(server, **spec) -> str:
    return server.trainer.SubmitJob(pb.SubmitJobRequest(spec=pb.JobSpec(**spec))).job_id


def get(server, job_id) -> pb.JobStatus:
    return server.trainer.GetJob(pb.GetJobRequest(job_id=job_id))


def wait_for(condition, timeout: float, poll: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"not within {timeout} s")


def finish(server, job_id) -> pb.JobStatus:
    for status in server.trainer.WatchJob(pb.WatchJobRequest(job_id=job_id, interval=0.5)):
        pass
    return status


def assert_exact(status: pb.JobStatus, steps: int) -> None:
    assert State.Name(status.state) == "SUCCEEDED", status.message
    assert status.steps == status.version == steps
    assert sum(w.steps for w in status.per_worker) == steps


def test_kill_9_mid_job_resumes_from_a_checkpoint_with_exact_steps(server_factory, state_dir):
    state = state_dir
    first = server_factory(state)
    job_id = submit(first, dataset="digits", workers=2, steps=40_000, lr=1e-3, seed=5)
    killed_at = wait_for(lambda: (s := get(first, job_id)).version >= 10_000 and s, timeout=240)
    assert killed_at.checkpoint_version > 0, "a checkpoint was written before the kill"
    first.kill()
    # The job trains on between that look and the kill: what the killed server left is its record.
    left = stored_status(state, job_id)
    assert left.checkpoint_version >= killed_at.checkpoint_version

    second = server_factory(state)
    try:
        restarted = time.monotonic()
        resumed = wait_for(lambda: (s := get(second, job_id)).state == State.RUNNING and s.resumed_from > 0 and s, 30)
        assert time.monotonic() - restarted < 10
        assert resumed.restarts == 1
        assert resumed.resumed_from == left.checkpoint_version  # exactly the last checkpoint it wrote
        final = finish(second, job_id)
        assert_exact(final, 40_000)
        assert final.resumed_from == resumed.resumed_from and final.test_accuracy > 0.9
        weights, version = from_chunks(second.trainer.GetWeights(pb.GetWeightsRequest(job_id=job_id)))
        assert version == 40_000 and weights.shape == (10, 65) and np.isfinite(weights).all()
    finally:
        assert second.stop() == 0


def test_sigterm_checkpoints_and_the_next_server_resumes_where_it_stopped(server_factory, state_dir):
    state = state_dir
    first = server_factory(state)
    job_id = submit(first, dataset="digits", workers=2, steps=30_000, lr=1e-3)
    wait_for(lambda: get(first, job_id).version >= 3_000, timeout=240)
    first.channel.close()
    started = time.monotonic()
    first.proc.send_signal(signal.SIGTERM)
    first.proc.wait(timeout=30)
    took = time.monotonic() - started
    first.stop()
    assert first.proc.returncode == 0
    assert took < 5.0, f"SIGTERM took {took:.1f} s"

    # Nothing lost: the checkpoint written at shutdown is the version W had when it stopped.
    stopped = stored_status(state, job_id)
    assert State.Name(stopped.state) == "RUNNING" and stopped.version >= 3_000
    assert stopped.checkpoint_version == stopped.version

    second = server_factory(state)
    try:
        final = finish(second, job_id)
        assert_exact(final, 30_000)
        assert final.restarts == 1
        assert final.resumed_from == stopped.version
    finally:
        assert second.stop() == 0


def test_a_damaged_record_is_listed_as_such_and_the_rest_still_works(server_factory, state_dir):
    state = state_dir
    server = server_factory(state)
    try:
        good = finish(server, submit(server, dataset="digits", workers=1, steps=50))
        bad = finish(server, submit(server, dataset="digits", workers=1, steps=50))
    finally:
        server.stop()
    with sqlite3.connect(state / "jobs.db") as db:
        db.execute("UPDATE jobs SET record = substr(record, 1, 40) WHERE job_id = ?", (bad.job_id,))

    server = server_factory(state)  # it starts
    try:
        listed = {s.job_id: s for s in server.trainer.ListJobs(pb.ListJobsRequest()).jobs}
        assert State.Name(listed[good.job_id].state) == "SUCCEEDED"
        assert State.Name(listed[bad.job_id].state) == "DAMAGED"
        assert "damaged" in listed[bad.job_id].message
        assert State.Name(get(server, bad.job_id).state) == "DAMAGED"
        assert_exact(finish(server, submit(server, dataset="digits", workers=1, steps=50)), 50)
    finally:
        assert server.stop() == 0


def test_a_failed_checkpoint_write_is_shown_and_a_later_one_succeeds(server_factory, state_dir):
    state = state_dir
    server = server_factory(state, extra_args=["--checkpoint-seconds", "0.5"])
    try:
        job_id = submit(server, dataset="digits", workers=1, steps=2_000_000, lr=1e-4)
        wait_for(lambda: get(server, job_id).checkpoint_version > 0, timeout=120)
        # A full disk, simulated: the checkpoint folder becomes a file, so writes fail.
        shutil.rmtree(state / "checkpoints")
        (state / "checkpoints").write_text("not a folder")
        failing = wait_for(lambda: (s := get(server, job_id)).checkpoint_error and s, timeout=30)
        assert "checkpoint at version" in failing.checkpoint_error
        assert State.Name(failing.state) == "RUNNING"
        later = wait_for(lambda: (s := get(server, job_id)).version > failing.version + 100 and s, timeout=30)
        assert later.state == State.RUNNING  # training went on
        (state / "checkpoints").unlink()
        healed = wait_for(lambda: (s := get(server, job_id)).checkpoint_version > failing.checkpoint_version
                          and not s.checkpoint_error and s, timeout=30)
        assert healed.checkpoint_at > failing.checkpoint_at
        server.trainer.CancelJob(pb.CancelJobRequest(job_id=job_id))
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize("resume", [False])
def test_no_resume_ends_orphans_failed_with_the_reason(server_factory, state_dir, resume):
    state = state_dir
    first = server_factory(state)
    job_id = submit(first, dataset="digits", workers=1, steps=10_000_000, lr=1e-5)
    wait_for(lambda: get(first, job_id).version > 10, timeout=120)
    first.kill()
    second = server_factory(state, extra_args=["--no-resume"])
    try:
        failed = wait_for(lambda: (s := get(second, job_id)).state == State.FAILED and s, timeout=30)
        assert "--no-resume" in failed.message
    finally:
        assert second.stop() == 0


def ray_worker_pids(server, name: str = "_RayTrainLoop") -> list[int]:
    """PIDs of the server's Ray worker processes (in its session) whose command line names ``name``."""
    sid = os.getsid(server.proc.pid)
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getsid(int(entry)) != sid:
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if name.encode() in f.read():
                    pids.append(int(entry))
        except (ProcessLookupError, FileNotFoundError, PermissionError):
            continue
    return pids


def test_a_job_waits_queued_for_cpus_then_runs(server_factory, state_dir):
    server = server_factory(state_dir, num_cpus=2)
    try:
        first = submit(server, dataset="digits", workers=2, steps=10_000_000, lr=1e-5)
        wait_for(lambda: get(server, first).state == State.RUNNING, timeout=120)
        second = submit(server, dataset="digits", workers=2, steps=300)
        queued = wait_for(lambda: (s := get(server, second)).state == State.QUEUED and s, timeout=60)
        assert "waiting for 2 CPUs, 0 free" in queued.message, queued.message
        server.trainer.CancelJob(pb.CancelJobRequest(job_id=first))
        done = finish(server, second)
        assert_exact(done, 300)
        assert "waiting" not in done.message  # what it waited for is no longer true
        too_big = pytest.raises(Exception, submit, server, dataset="digits", workers=3, steps=10)
        assert "RESOURCE_EXHAUSTED" in str(too_big.value.code())
    finally:
        assert server.stop() == 0


def test_a_killed_worker_is_replaced_and_the_step_count_stays_exact(server_factory, state_dir):
    server = server_factory(state_dir, num_cpus=3)
    try:
        job_id = submit(server, dataset="digits", workers=2, steps=60_000, lr=1e-3)
        wait_for(lambda: get(server, job_id).version > 2_000, timeout=120)
        victims = wait_for(lambda: ray_worker_pids(server), timeout=30)
        os.kill(victims[0], signal.SIGKILL)
        healed = wait_for(lambda: (s := get(server, job_id)).worker_restarts >= 1 and s, timeout=60)
        assert healed.state == State.RUNNING
        wait_for(lambda: len(ray_worker_pids(server)) == 2, timeout=60)  # full width again
        final = finish(server, job_id)
        assert_exact(final, 60_000)
        assert final.worker_restarts >= 1 and len(final.per_worker) == 2
    finally:
        assert server.stop() == 0


def children_running(pid: int, marker: bytes) -> list[int]:
    """PIDs of ``pid``'s child processes whose command line contains ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if ppid == pid and marker in cmdline:
            found.append(int(entry))
    return found


def test_an_embedded_server_stops_and_releases_its_job_when_its_command_is_killed(server_factory, state_dir):
    state = state_dir
    env = {k: v for k, v in os.environ.items() if k != "DESCENT_SERVER"}
    cli = subprocess.Popen(
        [sys.executable, "-m", "client.cli", "train", "--dataset", "digits", "--steps", "100000000", "--lr", "1e-6",
         "--state-dir", str(state)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        job_id = wait_for(lambda: next((j for j, s in stored_states(state).items() if s == "RUNNING"), None), 120)
        server_pid = children_running(cli.pid, b"-m\0server")[0]
        wait_for(lambda: stored_status(state, job_id).checkpoint_version > 0, 60)
    finally:
        cli.kill()
        cli.wait()
    wait_for(lambda: not os.path.exists(f"/proc/{server_pid}") or b" Z " in open(f"/proc/{server_pid}/stat", "rb").read(), 15)
    left = stored_status(state, job_id)
    assert pb.JobState.Name(left.state) == "RUNNING"  # left unfinished, for the next server

    server = server_factory(state)
    try:
        resumed = wait_for(lambda: (s := get(server, job_id)).state == State.RUNNING and s.restarts == 1 and s, 60)
        assert resumed.resumed_from >= left.checkpoint_version > 0
        server.trainer.CancelJob(pb.CancelJobRequest(job_id=job_id))
    finally:
        assert server.stop() == 0
