"""The seeds of a job: its initial W and each worker slot's batch stream, reproducible from the job's seed.

A test (or anyone) can rebuild exactly the batches worker slot i draws and the W a job
starts from: slot i's generator is ``np.random.default_rng(worker_seeds(seed, n)[i])``
and it draws one batch per step with ``worker.data.rows.sample_batch``.
"""

from __future__ import annotations

import numpy as np


def worker_seeds(seed: int, workers: int, restarts: int = 0) -> list[int]:
    """The batch-stream seed of each worker slot (a resumed job draws fresh streams per restart).

    The first-batch gradient check draws its batch from slot 0's seed (worker 0's first batch).
    """
    entropy = seed if restarts == 0 else [seed, restarts]
    states = np.random.SeedSequence(entropy).generate_state(workers + 1, dtype=np.uint64)
    return [int(s) for s in states[1:]]


def replacement_seed(seed: int, restarts: int, slot: int, incarnation: int) -> int:
    """The batch-stream seed of a slot's ``incarnation``-th replacement worker."""
    return int(np.random.SeedSequence([seed, restarts, slot, incarnation]).generate_state(1, dtype=np.uint64)[0])


def initial_weights(seed: int, init_scale: float, shape: tuple[int, int], dtype: str) -> np.ndarray:
    """W at version 0: ``init_scale`` times standard normal draws from the job's seed."""
    rng = np.random.default_rng(int(np.random.SeedSequence(seed).generate_state(1, dtype=np.uint64)[0]))
    return (init_scale * rng.standard_normal(shape)).astype(dtype)
