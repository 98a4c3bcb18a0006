"""A cancel or a SIGTERM does not wait for a data preparation in progress: it stops between blocks.

A real server with 1 MiB blocks and a synthetic set that takes seconds to prepare (~8 s here
under load, whole); the job is cancelled, or the server stopped, a moment after it was submitted,
while its data set is being prepared. The server's log says the preparation never finished.
"""

from __future__ import annotations

import signal
import time

from proto import descent_pb2 as pb
from tests.integration.test_durability import get, submit, wait_for

State = pb.JobState
SLOW_TO_PREPARE = "synthetic:30000,3072,10"  # 30,000 x 3,073 float32: 369 MB in 1 MiB blocks


def _preparing(server) -> str:
    job_id = submit(server, dataset=SLOW_TO_PREPARE, workers=1, steps=10)
    wait_for(lambda: get(server, job_id).state == State.PENDING, timeout=30)
    time.sleep(0.5)  # well into the preparation (it draws the raw rows first)
    return job_id


def test_a_cancel_stops_a_data_preparation_in_progress(server_factory):
    server = server_factory(num_cpus=1, extra_args=["--data-block", "1M"])
    try:
        job_id = _preparing(server)
        asked = time.monotonic()
        status = server.trainer.CancelJob(pb.CancelJobRequest(job_id=job_id))
        took = time.monotonic() - asked
        assert State.Name(status.state) == "CANCELLED", status.message
        assert "while its data set was being prepared" in status.message
        assert took < 5.0, f"the cancel took {took:.1f} s"
    finally:
        assert server.stop() == 0
    assert "prepared synthetic" not in server.log_path.read_text()


def test_sigterm_stops_a_data_preparation_in_progress(server_factory):
    server = server_factory(num_cpus=1, extra_args=["--data-block", "1M"])
    job_id = _preparing(server)
    sent = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=60) == 0
    took = time.monotonic() - sent
    log = server.log_path.read_text()
    assert "prepared synthetic" not in log
    assert f"job {job_id}: data preparation stopped: the server stops" in log
    assert took < 5.0, f"SIGTERM took {took:.1f} s"
    assert f"job {job_id}: left for the next server" in log  # unfinished, for the next server to prepare again
