"""Job event log lines (server.observe.events, server.observe.logs): parseable, in process.

A real job's story on a real server: integration/test_events_server.py.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from proto import descent_pb2 as pb
from server.jobs.job import Job
from server.jobs.spec import JobConfig
from server.observe import events
from server.observe.logs import JsonFormatter, LogfmtFormatter, parse_logfmt
from server.params.store import ParameterStore


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
