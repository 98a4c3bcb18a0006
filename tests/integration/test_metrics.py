"""Prometheus metrics of a real server, scraped over HTTP during a real job and parsed as exposition text."""

from __future__ import annotations

import socket
import time
import urllib.request

import grpc
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from proto import descent_pb2 as pb
from proto.tensor import to_tensor


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(module_server_factory):
    port = _free_port()
    proc = module_server_factory(num_cpus=2, extra_args=["--metrics-port", str(port)])
    proc.metrics_url = f"http://127.0.0.1:{port}/metrics"
    yield proc
    assert proc.stop() == 0


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    """Every sample of the endpoint: (name, sorted labels) -> value."""
    with urllib.request.urlopen(url, timeout=10) as reply:
        assert reply.headers["Content-Type"].startswith("text/plain")
        text = reply.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_during_a_job(server):
    before = scrape(server.metrics_url)
    assert value(before, "descent_updates_applied_total") == 0
    job = server.trainer.SubmitJob(pb.SubmitJobRequest(
        spec=pb.JobSpec(dataset="digits", workers=2, steps=10**8, lr=1e-6, optimizer="momentum")
    ))
    try:
        deadline = time.time() + 120
        while server.trainer.GetJob(pb.GetJobRequest(job_id=job.job_id)).steps < 50:
            assert time.time() < deadline, "the job applied no updates"
            time.sleep(0.2)
        first = scrape(server.metrics_url)
        time.sleep(1.0)
        second = scrape(server.metrics_url)
        status = server.trainer.GetJob(pb.GetJobRequest(job_id=job.job_id))

        # updates rise, and count exactly what the stores applied
        assert 0 < value(first, "descent_updates_applied_total") < value(second, "descent_updates_applied_total")
        assert value(second, "descent_updates_applied_total") <= status.steps
        assert value(second, "descent_jobs", state="RUNNING") == 1
        assert value(second, "descent_active_workers") == 2
        assert value(second, "descent_queue_length") == 0
        assert 0 <= value(second, "descent_checkpoint_age_seconds", job=job.job_id) < 60
        # the push histograms are filled: a count, a sum, and buckets that add up to the count
        for name in ("descent_push_latency_seconds", "descent_push_cpu_seconds"):
            count = value(second, f"{name}_count")
            assert count >= value(second, "descent_updates_applied_total") * 0.9
            assert 0 < value(second, f"{name}_sum") < count  # well under a second per push
            assert value(second, f"{name}_bucket", le="+Inf") == count
        assert ("descent_staleness_updates_count", ()) in second  # declared; the consistency modes fill it
        assert value(second, "descent_rpcs_total", method="/descent.v1.Trainer/GetJob", code="OK") >= 1

        # a refused push is counted by its reason
        grad = to_tensor(np.zeros((10, 65), np.float32))
        with pytest.raises(grpc.RpcError) as denied:
            server.params.Push(pb.PushRequest(job_id=job.job_id, worker_id="intruder", secret="x", gradient=grad, loss=1.0))
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.RpcError):
            server.params.Push(pb.PushRequest(job_id="job-000000000000", worker_id="w", secret="x", gradient=grad))
        # and a call without the token, refused before it is read
        with pytest.raises(grpc.RpcError) as unauthenticated:
            bare = server.bare_channel()
            bare.unary_unary("/descent.v1.Trainer/ListJobs")(b"")
        bare.close()
        assert unauthenticated.value.code() == grpc.StatusCode.UNAUTHENTICATED
        after = scrape(server.metrics_url)
        assert value(after, "descent_pushes_refused_total", reason="permission_denied") == 1
        assert value(after, "descent_pushes_refused_total", reason="not_found") == 1
        assert value(after, "descent_rpcs_total", method="/descent.v1.ParameterServer/Push", code="PERMISSION_DENIED") == 1
        assert value(after, "descent_rpcs_total", method="/descent.v1.Trainer/ListJobs", code="UNAUTHENTICATED") == 1
    finally:
        server.trainer.CancelJob(pb.CancelJobRequest(job_id=job.job_id))
    deadline = time.time() + 60
    while value(scrape(server.metrics_url), "descent_jobs", state="CANCELLED") != 1:
        assert time.time() < deadline
        time.sleep(0.2)
    ended = scrape(server.metrics_url)
    assert value(ended, "descent_jobs", state="RUNNING") == 0 and value(ended, "descent_active_workers") == 0
    # the workers' push streams ended: counted by method and code
    assert sum(v for (name, labels), v in ended.items()
               if name == "descent_rpcs_total" and ("method", "/descent.v1.ParameterServer/PushStream") in labels) >= 2
