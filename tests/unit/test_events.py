"""Job event log lines (server.observe.events, server.observe.logs): parseable, and telling a real job's story."""

from __future__ import annotations

import json
import logging
import time

import numpy as np
import pytest

from proto import descent_pb2 as pb
from server.observe import events
from server.jobs.job import Job
from server.jobs.spec import JobConfig
from server.observe.logs import JsonFormatter, LogfmtFormatter, parse_logfmt
from server.params.store import ParameterStore
from tests.server_process import ServerProcess


def record(message: str, **fields) -> logging.LogRecord:
    rec = logging.LogRecord("descent.events", logging.INFO, __file__, 1, message, None, None)
    rec.descent_fields = fields
    return rec


@pytest.mark.parametrize("value", ["plain", "two words", 'a "quoted" = sign', "back\\slash\nnew line", "", "tab\there"])
def test_logfmt_round_trips_awkward_values(value):
    line = LogfmtFormatter().format(record("job submitted", event="submitted", job="job-1", dataset=value))
    fields = parse_logfmt(line)
    assert fields["msg"] == "job submitted" and fields["event"] == "submitted" and fields["dataset"] == value
    assert list(fields)[:4] == ["time", "level", "logger", "msg"] and fields["level"] == "info"
    assert "\n" not in line


def test_logfmt_numbers_lists_and_json_lines():
    rec = record("job placed", event="placed", job="job-1", nodes=["n1", "n2"], loss=float("nan"), ok=True, n=3)
    fields = parse_logfmt(LogfmtFormatter().format(rec))
    assert fields["nodes"] == "n1,n2" and fields["loss"] == "nan" and fields["ok"] == "true" and fields["n"] == "3"
    obj = json.loads(JsonFormatter().format(rec))
    assert obj["nodes"] == ["n1", "n2"] and obj["loss"] is None and obj["n"] == 3 and obj["logger"] == "descent.events"
    with pytest.raises(ValueError):
        parse_logfmt('key="unterminated')


def test_progress_lines_come_every_few_seconds_and_placed_once(caplog):
    """JobProgress on a real store, with a hand-driven clock: placed once both nodes are known,
    progress every 5 s with the updates per second since the last line."""
    job = Job("job-p", JobConfig(workers=2, steps=100))
    job.store = ParameterStore(np.zeros((3, 4), np.float32), lr=0.1, target_steps=100)
    now = [0.0]
    progress = events.JobProgress(job, every_s=5.0, clock=lambda: now[0])
    caplog.set_level(logging.INFO, logger="descent.events")

    def lines():
        return [r.descent_fields for r in caplog.records]

    job.store.register("job-p-w0", "node-a")
    progress.tick()
    assert lines() == []  # one node of two known, nothing due yet
    job.store.register("job-p-w1", "node-b")
    for _ in range(10):
        job.store.push(np.ones((3, 4), np.float32), 2.0, "job-p-w0", "node-a")
    now[0] = 4.0
    progress.tick()
    assert lines() == [{"event": "placed", "job": "job-p", "workers": 2, "nodes": ["node-a", "node-b"]}]
    now[0] = 5.0
    progress.tick()
    progress.tick()  # not due again
    assert lines()[1] == {"event": "progress", "job": "job-p", "updates": 10, "of": 100, "loss": 2.0, "updates_per_s": 2.0}
    progress.close()
    assert len(lines()) == 3 and lines()[2]["updates"] == 10 and lines()[2]["updates_per_s"] == 0.0


def test_state_changes_log_queued_failed_and_cancelled(caplog):
    caplog.set_level(logging.INFO, logger="descent.events")
    job = Job("job-q", JobConfig())
    assert job.transition(pb.QUEUED, "waiting for 2 CPUs, 1 free, 0 jobs ahead")
    assert job.transition(pb.FAILED, "queued for 3601 s (--queue-timeout 3600)")
    other = Job("job-c", JobConfig())
    assert other.transition(pb.CANCELLED, "cancelled by a client before the workers started")
    assert not other.transition(pb.RUNNING)  # refused: no line
    got = [(r.descent_fields["event"], r.descent_fields["job"], r.descent_fields.get("reason")) for r in caplog.records]
    assert got == [("queued", "job-q", "waiting for 2 CPUs, 1 free, 0 jobs ahead"),
                   ("failed", "job-q", "queued for 3601 s (--queue-timeout 3600)"),
                   ("cancelled", "job-c", "cancelled by a client before the workers started")]
    assert caplog.records[1].levelname == "WARNING"


def test_a_real_server_logs_each_job_event(tmp_path):
    """A 2-worker digits job and a refused-to-run one on a real server: its stderr, parsed line by line."""
    server = ServerProcess(tmp_path / "state", num_cpus=2)
    try:
        job = server.trainer.SubmitJob(pb.SubmitJobRequest(spec=pb.JobSpec(dataset="digits", workers=2, steps=4000)))
        status = None
        for status in server.trainer.WatchJob(pb.WatchJobRequest(job_id=job.job_id, interval=0.2)):
            pass
        assert pb.JobState.Name(status.state) == "SUCCEEDED"
        cancelled = server.trainer.SubmitJob(
            pb.SubmitJobRequest(spec=pb.JobSpec(dataset="digits", workers=1, steps=10**8, lr=1e-6)))
        server.trainer.CancelJob(pb.CancelJobRequest(job_id=cancelled.job_id))
        deadline = time.monotonic() + 60
        while server.trainer.GetJob(pb.GetJobRequest(job_id=cancelled.job_id)).state != pb.CANCELLED:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        assert server.stop() == 0
    lines = [parse_logfmt(line) for line in server.log_path.read_text().splitlines() if line.startswith("time=")]
    assert lines, "no logfmt lines"
    mine = [f for f in lines if f.get("job") == job.job_id]
    kinds = [f["event"] for f in mine]
    assert kinds[0] == "submitted" and kinds[-1] == "finished", kinds
    assert {"running", "placed", "progress"} <= set(kinds), kinds
    submitted = mine[0]
    assert submitted["dataset"] == "digits" and submitted["workers"] == "2" and submitted["steps"] == "4000"
    placed = next(f for f in mine if f["event"] == "placed")
    assert len(placed["nodes"].split(",")) >= 1 and placed["workers"] == "2"
    last = [f for f in mine if f["event"] == "progress"][-1]
    assert last["updates"] == "4000" and last["of"] == "4000" and float(last["loss"]) > 0
    finished = mine[-1]
    assert abs(float(finished["test_accuracy"]) - status.test_accuracy) < 1e-6
    assert float(finished["test_accuracy"]) > 0.9 and float(finished["seconds"]) > 0
    ends = [f for f in lines if f.get("job") == cancelled.job_id and f["event"] == "cancelled"]
    assert len(ends) == 1 and ends[0]["reason"], ends
    # Every line of the run, not only job events, is logfmt with the common keys.
    others = [line for line in server.log_path.read_text().splitlines() if not line.startswith("time=")]
    assert not [line for line in others if "descent." in line], others  # (Ray's own banner lines aside)


def test_node_watch_logs_joins_and_leaves(caplog):
    from server.cluster.node_watch import NodeWatch

    caplog.set_level(logging.INFO, logger="descent.events")
    head = {"node_id": "h" * 40, "address": "10.0.0.1", "alive": True, "cpus": 0.0, "is_head": True}
    w1 = {"node_id": "a" * 40, "address": "10.0.0.2", "alive": True, "cpus": 1.0, "is_head": False}
    w2 = {"node_id": "b" * 40, "address": "10.0.0.3", "alive": True, "cpus": 1.0, "is_head": False}
    looks = iter([[head, w1], [head, w1], [head, {**w1, "alive": False}, w2]])
    watch = NodeWatch(lambda: {"nodes": next(looks)})
    for _ in range(3):
        watch.poll()
    got = [(r.descent_fields["event"], r.descent_fields["node"]) for r in caplog.records]
    assert got == [("node_joined", "h" * 12), ("node_joined", "a" * 12), ("node_joined", "b" * 12), ("node_left", "a" * 12)]
    assert "job" not in caplog.records[0].descent_fields and caplog.records[1].descent_fields["cpus"] == 1.0
