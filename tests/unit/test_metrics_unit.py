"""ServerMetrics without a server: what a store reports, staleness buckets and the job gauges against hand-made jobs."""

from types import SimpleNamespace

import numpy as np
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from proto import descent_pb2
from server.errors import PermissionDenied
from server.observe.metrics import ServerMetrics
from server.params.store import ParameterStore
from server.params.update_rules import RuleSpec, make_rule

State = descent_pb2.JobState


def _samples(metrics):
    text = generate_latest(metrics.registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in text_string_to_metric_families(text) for s in f.samples}


def test_a_store_reports_its_updates_and_their_staleness():
    """An Adam store with push_every 2: W as the bare rule gives it, every pushed update counted, staleness recorded."""
    metrics = ServerMetrics()
    spec = RuleSpec(optimizer="adam", lr=0.1, total_steps=6)
    store = ParameterStore(
        np.zeros((2, 3)), lr=0.1, target_steps=6, push_every=2, rule=make_rule(spec, (2, 3), np.float64),
        observer=metrics.job_observer(),
    )
    plain, w = make_rule(spec, (2, 3), np.float64), np.zeros((2, 3))
    for push, computed_on in enumerate((0, 0, 4)):  # the second push is one push (2 updates) stale
        g = np.full((2, 3), push + 1.0)
        plain.apply(w, g, 2 * push)
        store.push(g, 1.0, "w0", "", version=computed_on, updates=2)
    np.testing.assert_array_equal(store.weights()[0], w)
    s = _samples(metrics)
    assert s[("descent_updates_applied_total", ())] == 6 == store.version
    assert s[("descent_staleness_updates_bucket", (("le", "0.0"),))] == 2
    assert s[("descent_staleness_updates_bucket", (("le", "2.0"),))] == 3
    assert s[("descent_staleness_updates_sum", ())] == 2


def test_staleness_histogram_buckets():
    metrics = ServerMetrics()
    observer = metrics.job_observer()
    for behind, times in ((0, 2), (1, 1), (3, 1), (200, 1)):
        observer.stale(behind, times)
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


def test_refused_stale_and_duplicate_pushes_are_counted_per_job():
    store = ParameterStore(np.zeros((2, 3)), lr=1.0, target_steps=10)
    store.enroll("w0", 0)
    store.push(np.ones((2, 3)), 1.0, "w0", "", epoch=0, sequence=1)
    store.push(np.ones((2, 3)), 1.0, "w0", "", epoch=0, sequence=1)  # re-sent
    store.enroll("w0", 1)  # replaced: epoch 0 fenced
    for _ in range(2):
        with pytest.raises(PermissionDenied):
            store.authorize("w0", "the old secret", 0)
    job = SimpleNamespace(job_id="job-a", state=State.RUNNING, store=store, checkpoint_at=0.0, started_at=1.0,
                          config=SimpleNamespace(elastic=False), current_workers=1)
    s = _samples(ServerMetrics(lambda: [job], lambda: [State.RUNNING]))
    assert s[("descent_refused_stale_pushes_total", (("job", "job-a"),))] == 2
    assert s[("descent_duplicate_pushes_total", (("job", "job-a"),))] == 1
