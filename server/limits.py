"""The server's configurable limits: what one request, and the server as a whole, may take."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_bytes(text: str) -> int:
    """``"4G"``, ``"512M"``, ``"1000000"`` → bytes; ValueError otherwise."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", text.upper())
    if not match:
        raise ValueError(f"{text!r} is not a size (e.g. 4G, 512M, 1000000)")
    return int(float(match[1]) * _UNITS[match[2]])


def default_request_memory() -> int:
    """Half of this machine's physical memory (1 GiB if it cannot be read)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):
        return 1 << 30


@dataclass(frozen=True)
class Limits:
    """Each limit names the ``serve`` flag that raises it (see server.config)."""

    request_memory: int = 1 << 30  # bytes one job or analysis may allocate (--max-request-memory)
    jobs: int = 64  # jobs not yet finished (pending, queued, running) at once (--max-jobs)
    analyses: int = 4  # gradient checks and sweeps running at once (--max-analyses)
    client_analyses: int = 2  # of those, from one client address at once (--max-analyses-per-client)
    request_flops: float = 1e12  # floating-point operations one analysis may compute (--max-request-flops)
    job_flops: float = 1e15  # floating-point operations one job may compute (--max-job-flops)
    workers_per_job: int = 128  # (--max-workers-per-job)
    steps: int = 10**9  # steps of one job (--max-steps)
    classes: int = 10_000  # classes of a data set, i.e. rows of W (--max-classes)
    client_streams: int = 512  # long client calls at once: WatchJob, GetWeights, checks, sweeps (--max-streams)
    worker_streams: int = 256  # worker PushStreams at once (--max-worker-streams)


#: The limits counted in floating-point operations: given as numbers like 1e12.
FLOPS_LIMITS = frozenset({"request_flops", "job_flops"})
#: Their environment variables (an embedded server, started by a command, reads them too).
FLOPS_ENV = {"request_flops": "DESCENT_MAX_REQUEST_FLOPS", "job_flops": "DESCENT_MAX_JOB_FLOPS"}

#: The flag that raises each limit, for RESOURCE_EXHAUSTED messages.
FLAGS = {
    "request_memory": "--max-request-memory",
    "jobs": "--max-jobs",
    "analyses": "--max-analyses",
    "client_analyses": "--max-analyses-per-client",
    "request_flops": "--max-request-flops",
    "job_flops": "--max-job-flops",
    "workers_per_job": "--max-workers-per-job",
    "steps": "--max-steps",
    "classes": "--max-classes",
    "client_streams": "--max-streams",
    "worker_streams": "--max-worker-streams",
}
