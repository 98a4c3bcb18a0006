"""A read-only (N, D) matrix kept as consecutive blocks of rows (a large training split in the object
store), and ``sample_batch``, the mini-batch a step draws from rows.

Ray puts an array into its object store by copying it whole, so an array that must be
built before it is put exists twice at the peak. A split stored as blocks of rows is
built and put one block at a time instead (server.cluster.data_cache): at the peak there is the
data set once plus one block. ``Rows`` reads such a split back as one matrix:

- ``X[idx]`` with an integer index array gathers rows in ``idx``'s order; sorted indices
  are gathered block by block straight into the result (``sample_batch`` sorts its draw,
  a batch being a set of rows and its gradient a sum over them, and calls
  ``take_sorted``, which skips the checks: as fast as ``X[idx]`` on one array);
- ``X[a:b]`` slices rows; ``blocks()`` walks the blocks with their first row;
- ``np.asarray(X)`` joins the blocks into one private array, a full copy, for the code
  that needs one matrix. Training, the evaluation (``svm.accuracy``) and full-batch
  losses (``svm.svm_loss``) work block by block instead.

Every block but the last has the same number of rows, so a row's block is a division.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np


class Rows:
    """Blocks of rows (2-D arrays with the same columns and dtype) read as one (N, D) matrix."""

    ndim = 2

    def __init__(self, blocks: Sequence[np.ndarray]):
        blocks = tuple(blocks)
        if not blocks:
            raise ValueError("Rows needs at least one block")
        first = blocks[0]
        for block in blocks:
            if block.ndim != 2 or block.shape[1] != first.shape[1] or block.dtype != first.dtype:
                raise ValueError(f"blocks must be 2-D with the same columns and dtype: {block.shape} {block.dtype} "
                                 f"against {first.shape} {first.dtype}")
        if any(len(block) != len(first) for block in blocks[:-1]) or not 0 < len(blocks[-1]) <= len(first):
            raise ValueError(f"every block but the last must have {len(first)} rows, the last 1 to {len(first)}: "
                             f"{[len(block) for block in blocks]}")
        self._blocks = blocks
        self._step = len(first)
        self.shape = (sum(len(block) for block in blocks), first.shape[1])
        self.dtype = first.dtype

    @property
    def nbytes(self) -> int:
        return sum(block.nbytes for block in self._blocks)

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"Rows(shape={self.shape}, dtype={self.dtype}, blocks={len(self._blocks)})"

    def blocks(self) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, block) for every block, in order."""
        for number, block in enumerate(self._blocks):
            yield number * self._step, block

    def __array__(self, dtype=None, copy=None):
        if copy is False:
            raise ValueError("Rows has no single array to view: joining its blocks copies them")
        joined = np.concatenate(self._blocks)
        return joined if dtype is None else joined.astype(dtype, copy=False)

    def __getitem__(self, key):
        if isinstance(key, slice):
            return self._slice(key)
        idx = None if isinstance(key, tuple) else np.asarray(key)
        if idx is None or idx.ndim != 1 or not (np.issubdtype(idx.dtype, np.integer) or idx.size == 0):
            raise TypeError(f"Rows takes a 1-D integer index array or a slice of rows, got {type(key).__name__}")
        n = len(self)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"row index out of range for {n} rows")
        idx = idx.astype(np.int64, copy=False)
        idx = np.where(idx < 0, idx + n, idx)
        if idx.size < 2 or bool(np.all(idx[1:] >= idx[:-1])):
            return self.take_sorted(idx)
        order = np.argsort(idx, kind="stable")
        gathered = self.take_sorted(idx[order])
        out = np.empty_like(gathered)
        out[order] = gathered
        return out

    def take_sorted(self, idx: np.ndarray) -> np.ndarray:
        """The rows at ``idx``, a sorted int64 array of indices in [0, N) (not checked: the batch sampler's fast path)."""
        out = np.empty((len(idx), self.shape[1]), dtype=self.dtype)
        bounds = np.searchsorted(idx, np.arange(1, len(self._blocks) + 1) * self._step)
        start = 0
        for number, end in enumerate(bounds):
            if end > start:
                np.take(self._blocks[number], idx[start:end] - number * self._step, axis=0,
                        out=out[start:end], mode="clip")  # "clip": no buffered copy of out; idx checked above
            start = end
        return out

    def _slice(self, key: slice) -> np.ndarray:
        start, stop, step = key.indices(len(self))
        if step != 1:
            return self[np.arange(start, stop, step)]
        parts = [
            block[max(start - first, 0):max(stop - first, 0)]
            for first, block in self.blocks()
            if first < stop and first + len(block) > start
        ]
        if len(parts) == 1:
            return parts[0]
        return np.concatenate(parts) if parts else np.empty((0, self.shape[1]), dtype=self.dtype)


def sample_batch(X, y, batch_size, rng):
    """Return (X[idx], y[idx]) for batch_size indices drawn uniformly WITH replacement.

    With replacement every step is an independent draw (no epoch state to share between
    asynchronous workers); rng is a np.random.Generator. X may be a worker.data.rows.Rows.
    """
    if batch_size < 1 or len(X) == 0 or len(X) != len(y):
        raise ValueError(f"need batch_size >= 1 and matching non-empty X {np.shape(X)}, y {np.shape(y)}; "
                         f"got batch_size {batch_size}")
    idx = rng.integers(0, len(X), size=batch_size)
    if isinstance(X, Rows):
        idx.sort()  # gathered block by block in order (a batch is a set of rows: its gradient sums over them)
        return X.take_sorted(idx), y[idx]
    return X[idx], y[idx]


def skip_batches(rng, num_rows: int, batch_size: int, batches: int) -> None:
    """Advance ``rng`` past ``batches`` draws of ``sample_batch`` over ``num_rows`` rows, gathering nothing
    (a job continued from another goes on with the batch stream its parent's worker drew)."""
    for _ in range(batches):
        rng.integers(0, num_rows, size=batch_size)
