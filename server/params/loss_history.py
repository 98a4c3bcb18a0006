"""A job's batch-loss history in bounded memory.

Losses are summed in blocks of ``block`` consecutive updates, with at most
``MAX_BLOCKS`` blocks per job: for jobs of up to 100,000 steps a block is one
step and everything is exact; a longer job keeps one sum per block of
``ceil(steps / 100,000)`` updates, so memory stays under 1 MB however long it runs.
"""

from __future__ import annotations

import math

import numpy as np

MAX_BLOCKS = 100_000


class LossHistory:
    """Sums of batch losses per block of updates (not thread-safe: the store's lock guards it)."""

    def __init__(self, target_steps: int):
        self.block = max(1, math.ceil(target_steps / MAX_BLOCKS))
        self._sums = np.zeros(math.ceil(target_steps / self.block))
        self._count = 0

    @classmethod
    def restore(cls, target_steps: int, sums: np.ndarray, count: int) -> LossHistory:
        """A history that goes on from ``count`` losses summed as ``sums`` (from ``state()``)."""
        history = cls(target_steps)
        if len(sums) > len(history._sums) or count > target_steps:
            raise ValueError(f"loss history of {count} steps does not fit a {target_steps}-step job")
        history._sums[: len(sums)] = sums
        history._count = int(count)
        return history

    def state(self) -> tuple[np.ndarray, int]:
        """A copy of the block sums in use and the number of losses added."""
        used = -(-self._count // self.block)
        return self._sums[:used].copy(), self._count

    def __len__(self) -> int:
        return self._count

    def add(self, loss: float) -> None:
        self._sums[self._count // self.block] += loss
        self._count += 1

    def recent_mean(self, fraction: float = 0.1) -> float:
        """Mean of the last ``fraction`` of losses (from the start of the block holding the first of them)."""
        if self._count == 0:
            return float("nan")
        first_block = (self._count - max(1, math.ceil(self._count * fraction))) // self.block
        last_block = (self._count - 1) // self.block
        steps = self._count - first_block * self.block
        return float(self._sums[first_block : last_block + 1].sum() / steps)

    def means(self) -> list[float]:
        """Mean loss per block, oldest first (per step when ``block`` is 1)."""
        full, rest = divmod(self._count, self.block)
        means = (self._sums[:full] / self.block).tolist()
        if rest:
            means.append(float(self._sums[full] / rest))
        return means
