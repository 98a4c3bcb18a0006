"""Prometheus metrics of one server: what it counts as it runs and what it reads from its jobs at scrape time.

``descent serve --metrics-port N`` serves them over HTTP (``/metrics``, the text exposition
format) with the standard Python client. Every metric lives in this server's own
``CollectorRegistry`` (no module-level state). The metrics endpoint has no token: expose it on
an internal network only.

Counted as things happen (cheap: a lock and an add):
- ``descent_updates_applied_total``: updates applied to any job's W (each job's store
  reports to a ``JobObserver``).
- ``descent_pushes_refused_total{reason}``: pushes answered with an error, by status code
  (``invalid_argument``: bad gradient; ``permission_denied``: not the job's worker; ...).
- ``descent_push_latency_seconds`` and ``descent_push_cpu_seconds``: per push, from the request's
  arrival at the servicer to its reply, wall time and the handling thread's CPU time.
- ``descent_staleness_updates``: per applied gradient, the updates between the W it was
  computed on and the W it was applied to (the store's staleness, as in ``status``).
- ``descent_rpcs_total{method,code}``: every RPC by its full method name and status code.

Read from the job registry at scrape time:
- ``descent_jobs{state}``, ``descent_queue_length`` (QUEUED and PENDING jobs),
  ``descent_active_workers`` (workers known to the stores of RUNNING jobs),
  ``descent_checkpoint_age_seconds{job}`` (RUNNING jobs: seconds since their last checkpoint,
  or since they started if none yet), ``descent_refused_stale_pushes_total{job}`` (calls of a
  replaced worker's fenced epoch refused) and ``descent_duplicate_pushes_total{job}`` (re-sent
  pushes recognised and not applied again), per job in this server's memory
  (server.params.pushes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from proto import descent_pb2

State = descent_pb2.JobState

#: Push latency buckets (seconds): a loopback push is ~0.4 ms, a 12 MB W ~15 ms.
LATENCY_BUCKETS = (1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 1.0)
#: Staleness buckets (updates between a worker's pull and its push).
STALENESS_BUCKETS = (0, 1, 2, 4, 8, 16, 32, 64, 128)


class ServerMetrics:
    """The metrics of one server, in their own registry."""

    def __init__(self, jobs: Callable[[], Iterable] | None = None, states: Callable[[], Iterable[int]] | None = None):
        """``jobs`` lists the server's in-memory jobs; ``states`` the state of every job it knows."""
        self.registry = CollectorRegistry(auto_describe=True)
        self.updates = Counter("descent_updates_applied", "Updates applied to W, all jobs", registry=self.registry)
        self.refused = Counter(
            "descent_pushes_refused", "Pushes answered with an error, by gRPC status code", ["reason"],
            registry=self.registry,
        )
        self.push_latency = Histogram(
            "descent_push_latency_seconds", "Wall seconds from a push's arrival at the servicer to its reply",
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.push_cpu = Histogram(
            "descent_push_cpu_seconds", "CPU seconds of the server thread that handled one push (decode, update, encode)",
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.staleness = Histogram(
            "descent_staleness_updates", "Updates applied to W between a worker's pull and its push",
            buckets=STALENESS_BUCKETS, registry=self.registry,
        )
        self.rpcs = Counter("descent_rpcs", "RPCs by method and status code", ["method", "code"], registry=self.registry)
        if jobs is not None and states is not None:
            self.registry.register(JobCollector(jobs, states))

    def observe_push(self, wall_seconds: float, cpu_seconds: float) -> None:
        """One push handled (server.rpc.interceptors per gRPC message; server.rpc.shm_lane per push on a lane)."""
        self.push_latency.observe(wall_seconds)
        self.push_cpu.observe(cpu_seconds)

    def job_observer(self) -> JobObserver:
        """What a job's parameter store reports to (server.params.store.StoreObserver): updates and staleness."""
        return JobObserver(self)

    def serve(self, port: int, host: str):
        """Serve ``/metrics`` on ``host:port`` from a daemon thread; return the HTTP server (``shutdown()`` stops it)."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return server


class JobObserver:
    """Counts the updates a store applies and records the staleness of each gradient it applies."""

    def __init__(self, metrics: ServerMetrics):
        self._metrics = metrics

    def applied(self, updates: int) -> None:
        """``updates`` more updates applied (a push of push_every steps, or a sync step, counts them all)."""
        self._metrics.updates.inc(updates)

    def stale(self, updates_behind: int, times: int) -> None:
        """``times`` gradients applied, each computed on a W ``updates_behind`` versions old."""
        for _ in range(times):
            self._metrics.staleness.observe(updates_behind)


class JobCollector(Collector):
    """Gauges read from the jobs at scrape time: by state, queue, active workers, checkpoint age."""

    def __init__(self, jobs: Callable[[], Iterable], states: Callable[[], Iterable[int]]):
        self._jobs, self._states = jobs, states

    def collect(self):
        counts = dict.fromkeys(State.keys()[1:], 0)
        for state in self._states():
            counts[State.Name(state)] = counts.get(State.Name(state), 0) + 1
        by_state = GaugeMetricFamily("descent_jobs", "Jobs this server knows, by state", labels=["state"])
        for name, count in counts.items():
            by_state.add_metric([name], count)
        yield by_state
        yield GaugeMetricFamily(
            "descent_queue_length", "Jobs waiting to run (QUEUED or PENDING)",
            value=counts.get("QUEUED", 0) + counts.get("PENDING", 0),
        )
        now, workers = time.time(), 0
        age = GaugeMetricFamily(
            "descent_checkpoint_age_seconds", "Seconds since a RUNNING job's last checkpoint (or its start)", labels=["job"]
        )
        stale = CounterMetricFamily(
            "descent_refused_stale_pushes", "Calls of a replaced worker's fenced epoch refused", labels=["job"]
        )
        duplicates = CounterMetricFamily(
            "descent_duplicate_pushes", "Re-sent pushes recognised and not applied again", labels=["job"]
        )
        per_job = GaugeMetricFamily(
            "descent_job_workers", "Workers training a RUNNING job now (an elastic job's change as it scales)",
            labels=["job"],
        )
        for job in self._jobs():
            pushes = getattr(job.store, "pushes", None)
            if pushes is not None:
                stale.add_metric([job.job_id], pushes.refused_stale)
                duplicates.add_metric([job.job_id], pushes.duplicates)
            if job.state != State.RUNNING:
                continue
            if job.store is not None:
                workers += len(job.store.progress()[2])
                members = getattr(job.store, "members", None)  # gradient workers' stores know their members
                if members is not None:
                    per_job.add_metric([job.job_id], job.current_workers if job.config.elastic else len(members()))
            since = job.checkpoint_at or job.started_at
            if since:
                age.add_metric([job.job_id], max(now - since, 0.0))
        yield GaugeMetricFamily("descent_active_workers", "Workers known to the stores of RUNNING jobs", value=workers)
        yield per_job
        yield age
        yield stale
        yield duplicates
