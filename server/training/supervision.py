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

An elastic job (server.training.elastic) also grows and shrinks here: its ``Crew`` says where
each slot runs and, on every poll, whether to place one more worker or retire the newest; a
worker that dies leaves the store's membership at once, so the others never wait for it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from server.jobs.job import Job
from server.observe import events
from server.training.elastic import Crew
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


class TooManyWorkerFailures(RuntimeError):
    """The job's workers died ``max_worker_failures`` times while it still needed updates."""


def _too_many(job: Job, failed: list[tuple[str, str]]) -> TooManyWorkerFailures:
    """The failure naming the workers that died and the nodes they ran on."""
    nodes = sorted({node[:12] for _, node in failed if node}) or ["not known"]
    workers = sorted({worker for worker, _ in failed})
    return TooManyWorkerFailures(
        f"{len(failed)} worker failures (--max-worker-failures {job.config.max_worker_failures}): workers "
        f"{', '.join(workers)} on nodes {', '.join(nodes)}"
    )


def supervise(
    job: Job,
    launcher: RayLauncher,
    group: Any,
    make_config: Callable[[int, int], LoopConfig],
    data_refs: tuple[Sequence[Any], Any],
    stall_timeout: float,
    poll: float = 0.5,
    crew: Crew | None = None,
) -> list[str]:
    """Run the job's workers until its store stops; return the errors of the workers that died.

    ``make_config(slot, incarnation)`` is the LoopConfig of a slot's n-th worker. Raises
    Stalled when no update was applied for ``stall_timeout`` seconds. ``crew``: an elastic job's slots.
    """
    store = job.store
    slots = crew.base if crew is not None else job.config.workers
    running: dict[Any, int] = {}  # future -> slot
    incarnation: dict[int, int] = {}
    due: dict[int, float] = {}  # slot -> when to start its replacement
    replacing: dict[int, int] = {}  # slot -> its worker's stream contacts when its replacement was started
    errors: list[str] = []
    failed: list[tuple[str, str]] = []  # (worker, node) of each death while the job needed updates

    worker_ids: dict[int, str] = {}

    def start(slot: int, why: str = "") -> None:
        config = make_config(slot, incarnation.setdefault(slot, 0))  # enrolls the incarnation (a fresh secret)
        worker_ids[slot] = config.worker_id
        placed, bundle = crew.where(slot) if crew is not None else (group, slot)
        running[launcher.start_worker(config, placed, bundle, *data_refs)] = slot
        if crew is not None:
            crew.record(True, config.worker_id, why or "started", len(store.members()))

    def retire(slot: int, why: str) -> None:
        crew.retire(slot)
        if worker_ids[slot] in store.members():  # (a dead one waiting to be started again left already)
            store.leave(worker_ids[slot])
            crew.record(False, worker_ids[slot], why, len(store.members()))

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
                if crew is not None and crew.ended(slot):
                    continue  # retired: its CPU is given back
                if error is None:
                    continue
                worker_id = worker_ids[slot]
                errors.append(f"{worker_id}: {error}")
                if store.done:
                    continue
                failed.append((worker_id, store.progress()[3].get(worker_id, "")))
                if len(failed) >= job.config.max_worker_failures:
                    raise _too_many(job, failed)
                if crew is not None:
                    crew.node_failed(failed[-1][1])
                    store.leave(worker_id)
                    crew.record(False, worker_id, f"died: {error}", len(store.members()))
                # Back off when replacements keep failing (their bundle has no live node yet).
                failures = incarnation[slot]
                due[slot] = time.monotonic() + min(RETRY_MAX, RETRY_FIRST * 2 ** (failures - 1)) if failures else 0.0
                log.warning("job %s: worker %s died (%s); placing a replacement", job.job_id, worker_id, error)
                events.worker_lost(job, worker_id, error)
            now = time.monotonic()
            for slot, when in list(due.items()):
                if crew is not None and crew.retired(slot):  # retired while it waited to be started again
                    del due[slot]
                    crew.ended(slot)
                elif now >= when and not store.done:
                    del due[slot]
                    incarnation[slot] += 1
                    replacing[slot] = store.pushes.contacts.get(worker_ids[slot], 0)
                    start(slot, "replacing a worker that died")
            for slot, contacts in list(replacing.items()):  # counted once it runs: it opened its stream
                if store.pushes.contacts.get(worker_ids[slot], 0) > contacts:
                    del replacing[slot]
                    job.worker_restarts += 1
                    events.worker_replaced(job, worker_ids[slot], incarnation[slot])
            if crew is not None and not store.done:
                for future, slot in list(running.items()):
                    if slot in crew.overdue(now):
                        launcher.kill([future])  # its wait_any reports it next poll
                crew.adjust(sum(not crew.retired(s) for s in running.values()), start, retire, lambda: store.done)
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
        if crew is not None:
            crew.release_all()
        progress.close()
    return errors
