"""Keeping a job's workers alive: start one per bundle, replace any that dies, fail only on a stall.

Each worker slot (one bundle of the job's placement group) runs one worker (a Ray task
running the training loop) at a time.
When a worker dies — its process killed, its node lost — and the job still needs
updates, a replacement is started in the same bundle: at once if the bundle's node is
alive, or as soon as Ray re-places the bundle on a live node with a free CPU. It counts
(``worker_restarts``, the ``worker_replaced`` event) once it runs — it opened its stream to
the server — not when it was asked for (with no CPU free that can be a long wait). A slot
whose replacements keep failing (its bundle has no live node yet) backs off: 2 s, 4 s,
… at most 30 s between tries. The
replacement keeps the slot's worker id, so per-worker counts go on adding up to the
version. The job fails only when no update was applied for ``stall_timeout`` seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from server.jobs.job import Job
from server.observe import events
from worker.task.loop import LoopConfig

if TYPE_CHECKING:  # the launcher imports ray; the supervisor only calls it
    from server.cluster.launcher import RayLauncher

log = logging.getLogger("descent.supervisor")

#: Seconds the supervisor waits, after the store stopped, for workers to return before killing them.
STOP_GRACE = 3.0
#: Seconds before a slot's second replacement (doubling for each further one, at most RETRY_MAX).
RETRY_FIRST, RETRY_MAX = 2.0, 30.0


class Stalled(RuntimeError):
    """No worker of the job made progress for the stall timeout."""


def supervise(
    job: Job,
    launcher: RayLauncher,
    group: Any,
    make_config: Callable[[int, int], LoopConfig],
    data_refs: tuple[Sequence[Any], Any],
    stall_timeout: float,
    poll: float = 0.5,
) -> list[str]:
    """Run the job's workers until its store stops; return the errors of the workers that died.

    ``make_config(slot, incarnation)`` is the LoopConfig of a slot's n-th worker. Raises
    Stalled when no update was applied for ``stall_timeout`` seconds.
    """
    store = job.store
    slots = job.config.workers
    running: dict[Any, int] = {}  # future -> slot
    incarnation = [0] * slots
    due: dict[int, float] = {}  # slot -> when to start its replacement
    replacing: dict[int, int] = {}  # slot -> its worker's stream contacts when its replacement was started
    errors: list[str] = []

    worker_ids: dict[int, str] = {}

    def start(slot: int) -> None:
        config = make_config(slot, incarnation[slot])  # enrolls the incarnation (a fresh secret)
        worker_ids[slot] = config.worker_id
        running[launcher.start_worker(config, group, slot, *data_refs)] = slot

    progress = events.JobProgress(job)
    for slot in range(slots):
        start(slot)
    last_version, last_progress = store.version, time.monotonic()
    stopped_at = None
    try:
        while running or (due and not store.done):
            for future in launcher.wait_any(list(running), timeout=poll):
                slot = running.pop(future)
                _, error = launcher.outcome(future)
                if error is None:
                    continue
                worker_id = worker_ids[slot]
                errors.append(f"{worker_id}: {error}")
                if store.done:
                    continue
                # Back off when replacements keep failing (their bundle has no live node yet).
                failures = incarnation[slot]
                due[slot] = time.monotonic() + min(RETRY_MAX, RETRY_FIRST * 2 ** (failures - 1)) if failures else 0.0
                log.warning("job %s: worker %s died (%s); placing a replacement", job.job_id, worker_id, error)
                events.worker_lost(job, worker_id, error)
            now = time.monotonic()
            for slot, when in list(due.items()):
                if now >= when and not store.done:
                    del due[slot]
                    incarnation[slot] += 1
                    replacing[slot] = store.pushes.contacts.get(worker_ids[slot], 0)
                    start(slot)
            for slot, contacts in list(replacing.items()):  # counted once it runs: it opened its stream
                if store.pushes.contacts.get(worker_ids[slot], 0) > contacts:
                    del replacing[slot]
                    job.worker_restarts += 1
                    events.worker_replaced(job, worker_ids[slot], incarnation[slot])
            progress.tick()
            if not running and not due:
                break
            if not running:
                time.sleep(poll)
            if store.version != last_version:
                last_version, last_progress = store.version, now
            elif not store.done and now - last_progress > stall_timeout:
                raise Stalled(
                    f"no worker made progress for {stall_timeout:g} s (at {store.version} of {job.config.steps} "
                    f"steps; {len(errors)} worker failures: " + "; ".join(errors[-3:]) + ")"
                )
            if store.done:
                stopped_at = stopped_at or now
                if now - stopped_at > STOP_GRACE or job.cancel_requested.is_set():
                    break  # workers not placed yet (or stuck), or the job cancelled: killed below, at once
    finally:
        launcher.kill(list(running))
        progress.close()
    return errors
