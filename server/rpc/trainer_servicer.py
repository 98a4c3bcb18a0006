"""The client-facing Trainer service: thin decode → call → encode over registry, runner and launcher."""

from __future__ import annotations

import time
from collections.abc import Callable

from proto import descent_pb2, descent_pb2_grpc
from proto.tensor import to_chunks
from server.analyses import export as model_export
from server.analyses import inference
from server.analyses.base import Analysis
from server.analyses.gradcheck import GRADIENT_CHECK
from server.analyses.landscape import LANDSCAPE
from server.analyses.minibatch import MINIBATCH
from server.analyses.sweep import SWEEP
from server.cluster.launcher import RayLauncher
from server.errors import JobNotActive
from server.jobs.job import TERMINAL, Job
from server.jobs.lineage import check_shape, continuation
from server.jobs.registry import JobRegistry
from server.jobs.spec import resolve
from server.rpc import cluster_view
from server.rpc.admission import Admission
from server.rpc.status import grpc_errors, grpc_stream_errors
from server.rpc.streams import caller_gone, client_of
from server.training.elastic import rescale

State = descent_pb2.JobState

#: Seconds CancelJob waits for the job to reach a terminal state before answering.
CANCEL_WAIT = 10.0
#: Default seconds between WatchJob updates.
WATCH_INTERVAL = 0.5


class TrainerServicer(descent_pb2_grpc.TrainerServicer):
    """Job control, gradient checks, sweeps and cluster facts for clients."""

    def __init__(
        self, registry: JobRegistry, start_job: Callable[[Job], None], launcher: RayLauncher, admission: Admission
    ):
        """``start_job`` runs a submitted job in the background (server.training.runner.JobRunner.start)."""
        self._registry = registry
        self._start_job = start_job
        self._launcher = launcher
        self._admission = admission

    @grpc_errors
    def SubmitJob(self, request, context):
        spec, parent, start = continuation(request.spec, self._registry.status, self._registry.files)
        with self._admission.submission:
            config = self._admission.admit_job(resolve(spec))
            if parent is not None:
                check_shape(parent, config.dataset)
            self._launcher.check_capacity(config.bounds[0])  # an elastic job needs only its MIN to start
            job = self._registry.create(config, start)
        self._start_job(job)
        return job.status()

    @grpc_errors
    def GetJob(self, request, context):
        return self._registry.status(request.job_id, request.include_history)

    @grpc_errors
    def ListJobs(self, request, context):
        return descent_pb2.ListJobsResponse(jobs=self._registry.list())

    @grpc_errors
    def CancelJob(self, request, context):
        job = self._live_or_explain(request.job_id)
        if job.terminal:
            raise JobNotActive(f"job {job.job_id} is already {State.Name(job.state)}")
        job.request_cancel("cancelled by a client")
        deadline = time.monotonic() + CANCEL_WAIT
        while not job.terminal and time.monotonic() < deadline:
            job.wait_for_change(deadline - time.monotonic())
        return job.status()

    @grpc_errors
    def ScaleJob(self, request, context):
        given = request.HasField("min_workers") or request.HasField("max_workers")
        bounds = (request.min_workers, request.max_workers) if given else None
        workers = request.workers if request.HasField("workers") else None
        rescale(self._live_or_explain(request.job_id), workers, bounds)
        return self._registry.status(request.job_id)

    def _live_or_explain(self, job_id: str) -> Job:
        job = self._registry.live(job_id)
        if job is None:
            status = self._registry.status(job_id)  # raises JobNotFound
            raise JobNotActive(
                f"job {job_id} is {State.Name(status.state)} and not run by this server; it cannot be changed here"
            )
        return job

    @grpc_stream_errors
    def WatchJob(self, request, context):
        interval = request.interval or WATCH_INTERVAL  # the range was checked by server.fields
        # A stored job not yet ended (its server stopped; this one adopts it in a moment, or another
        # server runs it): follow its stored status until it ends or this server takes it over.
        while (job := self._registry.live(request.job_id)) is None:
            status = self._registry.status(request.job_id)
            yield status
            if status.state in TERMINAL or not context.is_active():
                return
            time.sleep(interval)
        while context.is_active():
            status = job.status()
            yield status
            if status.state in TERMINAL:
                return
            job.wait_for_change(interval)

    @grpc_stream_errors
    def GetWeights(self, request, context):
        weights, version = self._registry.weights(request.job_id)
        yield from to_chunks(weights, version)

    def _analyze(self, analysis: Analysis, request, context):
        """Every analysis the same way: resolve, admit its cost, run in an analysis slot (its tasks cancelled once the
        call ends: cancelled, past its deadline or its client gone), respond."""
        cfg = self._admission.admit_analysis(analysis, analysis.resolve(request))
        with self._admission.analysis_slot(client_of(context)):
            return analysis.respond(analysis.run(self._launcher, self._registry, cfg, caller_gone(context)))

    @grpc_errors
    def GradientCheck(self, request, context):
        return self._analyze(GRADIENT_CHECK, request, context)

    @grpc_stream_errors
    def GradientCheckStream(self, request, context):
        cfg = self._admission.admit_analysis(GRADIENT_CHECK, GRADIENT_CHECK.resolve(request))
        with self._admission.analysis_slot(client_of(context)):
            for event in GRADIENT_CHECK.events(self._launcher, self._registry, cfg, caller_gone(context)):
                yield GRADIENT_CHECK.progress(event)

    @grpc_errors
    def StepSizeSweep(self, request, context):
        return self._analyze(SWEEP, request, context)

    @grpc_errors
    def ClusterInfo(self, request, context):
        server_node = self._launcher.node_id()  # this process's Ray node
        return cluster_view.cluster_response(self._launcher.cluster(), server_node, self._registry.live_jobs())

    @grpc_stream_errors
    def ExportModel(self, request, context):
        yield from model_export.export_parts(self._registry, request.job_id, request.include_test_split)

    @grpc_errors
    def Predict(self, request, context):
        return inference.predict(self._registry, request.job_id, request.inputs, self._admission.admit_prediction)

    @grpc_errors
    def Evaluate(self, request, context):
        dataset = self._admission.admit_evaluation(request.dataset) if request.dataset else ""
        with self._admission.analysis_slot(client_of(context)):
            return inference.evaluate(self._registry, request.job_id, dataset, request.split)

    @grpc_errors
    def Minibatch(self, request, context):
        return self._analyze(MINIBATCH, request, context)

    @grpc_errors
    def Landscape(self, request, context):
        return self._analyze(LANDSCAPE, request, context)
