"""Job event log lines on a real server: its stderr, parsed line by line, tells a real job's story.

Its own server: the test reads the whole log after a clean stop.
"""

from __future__ import annotations

import time

from proto import descent_pb2 as pb
from server.observe.logs import parse_logfmt


def test_a_real_server_logs_each_job_event(server_factory):
    """A 2-worker digits job and a refused-to-run one on a real server: its stderr, parsed line by line."""
    server = server_factory(num_cpus=2)
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
