"""Running a search job (strategies #1 and #2): rounds of candidates evaluated in parallel Ray tasks.

A job's steps are its budget of loss evaluations (server.params.search_store). Each round the
job's thread draws the examples the round is judged on (a batch of
``batch_size`` drawn with replacement, or the whole training split when batch_size is at
least its size), re-evaluates the kept W on a fresh batch (not needed on the whole split,
whose loss does not change), and hands ``workers`` tasks a share of the round's
candidates each, named by their seeds (``worker.search.candidate_losses``). The store
keeps the best candidate only if its loss is below W's on the same examples.

Random search evaluates ``CANDIDATES_PER_TASK`` fresh candidates per task per round;
random local search one per task, all around the W the round started from (the notes'
sequential loop, ``workers`` directions at a time). ``lr`` is local search's step scale:
W + lr · randn; random search draws W = init_scale · randn.
"""

from __future__ import annotations

import numpy as np

from server.cluster.launcher import RayLauncher
from server.errors import Cancelled
from server.jobs.job import Job
from server.params.search_store import SearchStore
from worker.search import batch_loss, candidate, candidate_losses, candidate_seed

#: Fresh candidates one task evaluates per round in random search (rounds are independent there).
CANDIDATES_PER_TASK = 16


def search(job: Job, launcher: RayLauncher, X: np.ndarray, y: np.ndarray, batch_seed: int) -> None:
    """Run rounds until the store has evaluated the job's steps (or it is stopped or cancelled)."""
    cfg, store = job.config, job.store
    assert isinstance(store, SearchStore)
    local = cfg.strategy == "random-local-search"
    per_task = 1 if local else CANDIDATES_PER_TASK
    scale = cfg.lr if local else cfg.init_scale
    dtype = store.dtype.name
    full = cfg.batch_size >= len(y)
    rng = np.random.default_rng(batch_seed)
    X_ref, y_ref = launcher.put(X), launcher.put(y)
    W, loss = store.current()
    if full and not np.isfinite(loss):
        store.set_loss(batch_loss(W, X, y, cfg.reg, None))
    stopping = lambda: job.cancel_requested.is_set() or job.suspended.is_set()  # noqa: E731
    while not stopping() and store.remaining() > 0:
        rows = None if full else rng.integers(0, len(y), size=cfg.batch_size)
        W, loss = store.current()
        if not full:
            store.set_loss(batch_loss(W, X, y, cfg.reg, rows))
            if store.remaining() == 0:
                return
        first = store.version
        count = min(store.remaining(), cfg.workers * per_task)
        seeds = [candidate_seed(cfg.seed, first + i) for i in range(count)]
        parts = [list(p) for p in np.array_split(seeds, min(cfg.workers, count)) if len(p)]
        base = W if local else None
        losses: list[tuple[int, float]] = []
        try:
            for i, part in launcher.imap_tasks(
                candidate_losses, (X_ref, y_ref), parts, should_stop=stopping,
                base=base, shape=W.shape, scale=scale, reg=cfg.reg, rows=rows, dtype=dtype,
            ):
                losses.extend(zip(parts[i], part))
        except Cancelled:
            return
        best_seed, best_loss = min(losses, key=lambda pair: pair[1])
        store.offer([(candidate(base, W.shape, scale, int(best_seed), dtype), best_loss)], count)
