"""Admission control: refuse what cannot be served before anything is allocated.

Every job, gradient check, sweep and evaluation on another data set passes here after its fields were validated: its
data set path is confined to the data roots (server.rpc.data_roots) and must exist, its
size is read from the data set's headers (formats.sizes), and what the request will
allocate — raw data, the prepared copy, the copy in Ray's object store, W and its
copies, the loss history, the largest temporary of a check or sweep — is compared with
the configured limits. A refusal is ResourcesExhausted (RESOURCE_EXHAUSTED) naming
the limit and the ``serve`` flag that raises it; labels out of range are a RequestError.

Compute is admitted the same way: every analysis estimates the floating-point operations it
will do (``Analysis.cost_flops``), every job its whole training (server.jobs.costs.job_flops),
from the same sizes, and one above its bound (``--max-request-flops``, ``--max-job-flops``) is
refused with the estimate, the bound and what shrinks it. Analyses also hold a slot of the
server's and of their client's (by address) while they run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable, Iterator

from formats.sizes import DataSize, data_size
from proto.limits import MAX_MESSAGE_BYTES
from server.analyses.base import Analysis, ConfigT
from server.errors import RequestError, ResourcesExhausted
from server.jobs.costs import describe_flops, evaluation_bytes, evaluation_flops, job_bytes, job_flops
from server.jobs.spec import JobConfig
from server.limits import FLAGS, FLOPS_ENV, FLOPS_LIMITS, Limits
from server.rpc.data_roots import DataRoots
from worker.data.prepare import check_spec, parse_spec


def _gib(n: int) -> str:
    return f"{n / (1 << 30):.3g} GiB" if n >= 1 << 26 else f"{n / (1 << 20):.3g} MiB"


class Admission:
    """Checks a request against the limits; counts the analyses running now."""

    def __init__(
        self,
        limits: Limits,
        roots: DataRoots,
        job_dataset: Callable[[str], str],
        running_jobs: Callable[[], int],
        running_workers: Callable[[], int] = lambda: 0,
    ):
        """``job_dataset(job_id)`` is the data set spec of a known job; ``running_jobs()`` counts jobs not yet
        terminal and ``running_workers()`` their workers (each holds one worker stream)."""
        self.limits = limits
        self.roots = roots
        self._job_dataset = job_dataset
        self._running_jobs = running_jobs
        self._running_workers = running_workers
        self._analyses = threading.BoundedSemaphore(limits.analyses)
        self._per_client: dict[str, int] = {}  # a client's address → its analyses running now
        self._per_client_lock = threading.Lock()
        #: Held from admitting a job to registering it, so concurrent submissions cannot both pass a count limit.
        self.submission = threading.Lock()

    def _refuse(self, limit: str, what: str) -> ResourcesExhausted:
        value = getattr(self.limits, limit)
        shown = _gib(value) if limit == "request_memory" else f"{value:.3g}" if limit in FLOPS_LIMITS else str(value)
        env = f", or ${FLOPS_ENV[limit]}," if limit in FLOPS_ENV else ""  # an embedded server's only way
        return ResourcesExhausted(f"{what}; the limit is {shown} ({FLAGS[limit]} on `descent serve`{env} raises it)")

    def dataset(self, spec: str, cost: Callable[[DataSize], int], what: str) -> tuple[str, DataSize]:
        """The confined spec and its size, once ``cost(size)`` fits the memory limit (checked before the
        labels are read, and again with the classes they show); raises PermissionDenied,
        DatasetNotFound, RequestError or ResourcesExhausted."""
        spec = self.roots.confine(spec)
        try:
            kind, arg = check_spec(spec)
        except FileNotFoundError as error:
            raise type(error)(self.roots.not_found(error)) from None
        except ValueError as error:
            raise RequestError(str(error)) from None
        try:
            self._memory(cost(data_size(kind, arg, labels=False)), what)
            size = data_size(kind, arg)
        except ValueError as error:
            raise RequestError(str(error)) from None
        if size.num_classes > self.limits.classes:
            raise self._refuse("classes", f"data set {spec[:200]!r} has labels up to {size.num_classes - 1}, i.e. "
                                          f"{size.num_classes} classes")
        self._memory(cost(size), what)
        return spec, size

    def _memory(self, needed: int, what: str) -> None:
        if needed > self.limits.request_memory:
            raise self._refuse("request_memory", f"{what} needs about {_gib(needed)} of server memory")

    def _compute(self, flops: float, limit: str, what: str, shrink: str) -> None:
        if flops > getattr(self.limits, limit):
            raise self._refuse(limit, f"{what} would compute about {describe_flops(flops)} ({shrink})")

    def admit_job(self, config: JobConfig) -> JobConfig:
        """The job with its data set confined, or a refusal; nothing is allocated."""
        if config.workers > self.limits.workers_per_job:
            raise self._refuse("workers_per_job", f"job asks for {config.workers} workers")
        if config.steps > self.limits.steps:
            raise self._refuse("steps", f"job asks for {config.steps} steps")
        spec, size = self.dataset(config.dataset, lambda size: job_bytes(size, config), f"job on {config.dataset[:200]!r}")
        self._compute(job_flops(size, config), "job_flops", f"job on {config.dataset[:200]!r}",
                      "fewer steps, a smaller batch or data set shrink it")
        running = self._running_jobs()
        if running >= self.limits.jobs:
            raise self._refuse("jobs", f"{running} jobs are not finished yet")
        busy = self._running_workers()
        if busy + config.workers > self.limits.worker_streams:
            raise self._refuse(
                "worker_streams", f"jobs pending or running have {busy} workers and this one asks for {config.workers} more"
            )
        return dataclasses.replace(config, dataset=spec)

    def _analysis(self, dataset: str, job_id: str, cost: Callable[[DataSize], int], what: str) -> tuple[str, DataSize]:
        """The confined data set of an analysis ("" for one at a job's W) and its size, once its memory fits."""
        if job_id:
            spec = self._job_dataset(job_id)  # JobNotFound; a job's data set was confined when it was submitted
            try:
                size = data_size(*parse_spec(spec))
            except ValueError as error:  # the job's data set changed on disk since it trained
                raise RequestError(f"job {job_id}'s data set: {error}") from None
            self._memory(cost(size), what)
            return "", size
        return self.dataset(dataset, cost, what)

    def admit_analysis(self, analysis: Analysis, cfg: ConfigT) -> ConfigT:
        """The analysis with its data set confined (unchanged at a job's W), or a refusal naming its cost."""
        dataset, size = self._analysis(cfg.dataset, cfg.job_id, lambda size: analysis.cost_bytes(size, cfg), analysis.what)
        self._compute(analysis.cost_flops(size, cfg), "request_flops", analysis.what, analysis.shrink)
        return dataclasses.replace(cfg, dataset=dataset) if dataset else cfg

    def admit_evaluation(self, dataset: str) -> str:
        """The confined data set a job is evaluated on (every example, preprocessed), or a refusal."""
        spec, size = self.dataset(dataset, evaluation_bytes, "this evaluation")
        self._compute(evaluation_flops(size), "request_flops", "this evaluation", "a smaller data set shrinks it")
        return spec

    def admit_prediction(self, memory: int, reply: int) -> None:
        """A prediction that needs ``memory`` bytes of the server and a ``reply`` of that many bytes, or a refusal."""
        self._memory(memory, "this prediction")
        if reply > MAX_MESSAGE_BYTES:
            raise ResourcesExhausted(
                f"this prediction's reply would be about {_gib(reply)}, over the {_gib(MAX_MESSAGE_BYTES)} a message "
                "may carry; send fewer rows at a time"
            )

    @contextlib.contextmanager
    def analysis_slot(self, client: str = "") -> Iterator[None]:
        """Hold one of the ``analyses`` slots, and one of ``client``'s, for a check or sweep, or refuse at once."""
        if not self._analyses.acquire(blocking=False):
            raise self._refuse("analyses", "as many analyses (gradient checks, sweeps, landscapes, ...) as allowed are running")
        try:
            with self._per_client_lock:
                running = self._per_client.get(client, 0)
                if running >= self.limits.client_analyses:
                    raise self._refuse("client_analyses", f"this client ({client[:100]}) is running {running} analyses")
                self._per_client[client] = running + 1
            try:
                yield
            finally:
                with self._per_client_lock:
                    left = self._per_client.pop(client) - 1
                    if left:
                        self._per_client[client] = left
        finally:
            self._analyses.release()
