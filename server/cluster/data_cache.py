"""Prepared data sets kept in Ray's object store, per (spec, seed, dtype), with size-bounded eviction.

A job's data set is loaded, split and preprocessed once (worker.data.prepare.prepare), each array
put into the object store as soon as it is final and the server's private copy dropped
before the next is built: the job (its workers, and its own evaluation) reads zero-copy
views of the shared copy. A training split over ``block_bytes`` is built and stored in
blocks of rows (read back as worker.data.rows.Rows; synthetic data from its generator in two
passes, worker.data.stream), so that at the peak the data set exists once plus one
block, not twice (plus, for data read from files, the raw pool it is gathered from). A second job on the same
(spec, seed, dtype) takes the cached entry and skips preparation altogether. Entries are
evicted least recently used first once their bytes pass ``max_bytes``; an evicted set
stays alive for as long as a running job still holds its references.

A job takes an entry with ``get`` and gives it back with ``done``. The server process
maps the pages it wrote into the object store and those its evaluation reads; once no
job has used an entry for a while (``unmap_idle``, from the housekeeping thread) the
server drops those mappings (server.cluster.shm_pages): the data stays in the object store for the
next job, and the server's RSS no longer counts it.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from server.cluster.shm_pages import unmap_shared
from worker.data.prepare import Prepared, prepare
from worker.data.rows import Rows
from worker.task.malloc import release_freed_memory

#: Default bound on the bytes of cached prepared data sets.
DEFAULT_MAX_BYTES = 2 << 30
#: Default bound on one stored block of a training split: 64 MiB (7 blocks for the CIFAR-shaped set).
DEFAULT_BLOCK_BYTES = 64 << 20
log = logging.getLogger(__name__)
_ARRAYS = ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")


def _arrays(data: Prepared) -> list[np.ndarray]:
    """Every array of a prepared set, a training split in blocks as its blocks."""
    found = []
    for name in _ARRAYS:
        value = getattr(data, name)
        found += [block for _, block in value.blocks()] if isinstance(value, Rows) else [value]
    return found


@dataclasses.dataclass(frozen=True)
class Shared:
    """A prepared data set whose arrays are views of the object store's copy, and the training split's refs.

    X_refs: the refs of the training split's blocks (one for a split in one array).
    """

    data: Prepared
    X_refs: tuple
    y_ref: Any
    nbytes: int
    key: tuple = ()


class DataCache:
    """Prepared data sets in the object store, least recently used evicted past ``max_bytes``.

    ``store`` puts a value into the object store (``put``) and reads it back (``get``) —
    the RayLauncher.
    """

    def __init__(self, store: Any, max_bytes: int = DEFAULT_MAX_BYTES, block_bytes: int = DEFAULT_BLOCK_BYTES):
        self._store = store
        self._max = int(max_bytes)
        self._block_bytes = int(block_bytes)
        if self._block_bytes < 1:
            raise ValueError(f"block_bytes must be at least 1, got {block_bytes}")
        self._entries: OrderedDict[tuple, Shared] = OrderedDict()
        self._lock = threading.Lock()
        self._preparing: dict[tuple, threading.Lock] = {}
        self._users: dict[tuple, int] = {}  # jobs using each entry now (absent: none)
        self._idle_since: dict[tuple, float] = {}  # entries no job uses and still mapped: since when

    def get(self, spec: str, seed: int, dtype: str, should_stop: Callable[[], bool] | None = None) -> Shared:
        """The shared prepared data set for (spec, seed, dtype): cached, or prepared and cached now.

        The caller uses it until it calls ``done`` with it. A preparation asks ``should_stop()``
        between blocks and raises worker.data.prepare.PreparationStopped once it is true
        (nothing is cached; what was stored so far is freed with its refs).
        """
        key = (spec.strip(), int(seed), dtype)
        with self._lock:
            key_lock = self._preparing.setdefault(key, threading.Lock())
        with key_lock:  # one preparation per key at a time; the others wait and find it cached
            with self._lock:
                if key in self._entries:
                    self._entries.move_to_end(key)
                    return self._take(key)
            started = time.monotonic()
            shared = self._share(
                lambda keep: prepare(
                    spec, seed=seed, dtype=dtype, block_bytes=self._block_bytes, keep=keep, should_stop=should_stop
                ),
                key,
            )
            log.info(
                "prepared %s (seed %d, %s) in %.1f s: %.1f MiB in the object store, the training split in %d block(s)",
                key[0][:200], seed, dtype, time.monotonic() - started, shared.nbytes / 2**20, len(shared.X_refs),
            )
            release_freed_memory()  # preparing's blocks and index arrays, kept by glibc's raised trim threshold
            with self._lock:
                self._entries[key] = shared
                self._evict(keep=key)
                self._preparing.pop(key, None)
                return self._take(key)

    def done(self, shared: Shared) -> None:
        """A job stopped using ``shared`` (from ``get``)."""
        with self._lock:
            users = self._users.get(shared.key, 0) - 1
            if users > 0:
                self._users[shared.key] = users
                return
            self._users.pop(shared.key, None)
            if self._entries.get(shared.key) is shared:
                self._idle_since[shared.key] = time.monotonic()
                return
        # evicted while in use: its last job is done with it, so its mappings go now
        unmap_shared(_arrays(shared.data))

    def unmap_idle(self, idle_for: float) -> int:
        """Drop this process's mappings of every entry no job has used for ``idle_for`` seconds; the bytes advised."""
        now, idle = time.monotonic(), []
        with self._lock:
            for key, since in list(self._idle_since.items()):
                if now - since >= idle_for:
                    del self._idle_since[key]
                    idle.append(self._entries[key].data)
        # Outside the lock: a job taking the entry meanwhile only maps the pages again as it reads them.
        return sum(unmap_shared(_arrays(data)) for data in idle)

    def _take(self, key: tuple) -> Shared:
        self._users[key] = self._users.get(key, 0) + 1
        self._idle_since.pop(key, None)
        return self._entries[key]

    def _share(self, make: Callable[[Callable[[str, np.ndarray], np.ndarray]], Prepared], key: tuple) -> Shared:
        """Prepare (``make(keep)``), each array put into the object store by ``keep`` as soon as it is final.

        ``keep`` returns the stored view and the preparation drops its private array before
        building the next, so at most one array (or one block of the training split) exists
        twice at a time, privately and in the store.
        """
        refs: dict[str, list] = {}

        def keep(name: str, array: np.ndarray) -> np.ndarray:
            ref = self._store.put(array)
            refs.setdefault(name, []).append(ref)
            return self._store.get(ref)

        data = make(keep)
        nbytes = sum(array.nbytes for array in _arrays(data))
        return Shared(data, tuple(refs["X_train"]), refs["y_train"][0], nbytes, key)

    def _evict(self, keep: tuple) -> None:
        total = sum(entry.nbytes for entry in self._entries.values())
        for key in list(self._entries):
            if total <= self._max:
                break
            if key != keep:
                total -= self._entries.pop(key).nbytes
                self._idle_since.pop(key, None)

    def keys(self) -> list[tuple]:
        """Cached (spec, seed, dtype) keys, least recently used first."""
        with self._lock:
            return list(self._entries)
