"""ServerMetrics without a server: the counted rule, staleness buckets and the job gauges against hand-made jobs."""

from types import SimpleNamespace

import numpy as np
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from proto import descent_pb2
from server.metrics import ServerMetrics
from server.update_rules import RuleSpec, make_rule

State = descent_pb2.JobState


def _samples(metrics):
    text = generate_latest(metrics.registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in text_string_to_metric_families(text) for s in f.samples}


def test_counted_rule_applies_the_same_update_and_counts_it():
    metrics = ServerMetrics()
    spec = RuleSpec(optimizer="adam", lr=0.1, total_steps=10)
    plain, counted = make_rule(spec, (2, 3), np.float64), metrics.counted(make_rule(spec, (2, 3), np.float64))
    w1, w2 = np.zeros((2, 3)), np.zeros((2, 3))
    for step in range(3):
        g = np.full((2, 3), step + 1.0)
        plain.apply(w1, g, step)
        counted.apply(w2, g, step)
    np.testing.assert_array_equal(w1, w2)
    assert sorted(counted.state()) == ["m", "v"]
    assert _samples(metrics)[("descent_updates_applied_total", ())] == 3


def test_staleness_histogram_buckets():
    metrics = ServerMetrics()
    for behind in (0, 0, 1, 3, 200):
        metrics.observe_staleness(behind)
    s = _samples(metrics)
    assert s[("descent_staleness_updates_bucket", (("le", "0.0"),))] == 2
    assert s[("descent_staleness_updates_bucket", (("le", "4.0"),))] == 4
    assert s[("descent_staleness_updates_bucket", (("le", "+Inf"),))] == 5
    assert s[("descent_staleness_updates_sum", ())] == 204


def test_job_gauges_read_at_scrape_time():
    store = SimpleNamespace(progress=lambda: (10, 0.5, {"w0": 4, "w1": 6}, {}))
    jobs = [
        SimpleNamespace(job_id="job-a", state=State.RUNNING, store=store, checkpoint_at=0.0, started_at=1.0),
        SimpleNamespace(job_id="job-b", state=State.SUCCEEDED, store=store, checkpoint_at=0.0, started_at=1.0),
    ]
    states = [State.RUNNING, State.SUCCEEDED, State.QUEUED, State.QUEUED, State.PENDING]
    s = _samples(ServerMetrics(lambda: jobs, lambda: states))
    assert s[("descent_jobs", (("state", "QUEUED"),))] == 2
    assert s[("descent_jobs", (("state", "FAILED"),))] == 0
    assert s[("descent_queue_length", ())] == 3
    assert s[("descent_active_workers", ())] == 2  # only the RUNNING job's
    assert s[("descent_checkpoint_age_seconds", (("job", "job-a"),))] > 1e9  # since its start at t=1
    assert ("descent_checkpoint_age_seconds", (("job", "job-b"),)) not in s
