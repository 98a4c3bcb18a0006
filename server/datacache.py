"""Prepared data sets kept in Ray's object store, per (spec, seed, dtype), with size-bounded eviction.

A job's data set is loaded, split and preprocessed once (worker.data.prepare), put into
the object store, and the server's private copy dropped: the job (its workers, and its
own evaluation) reads zero-copy views of the shared copy. A second job on the same
(spec, seed, dtype) takes the cached entry and skips preparation altogether. Entries are
evicted least recently used first once their bytes pass ``max_bytes``; an evicted set
stays alive for as long as a running job still holds its references.

A job takes an entry with ``get`` and gives it back with ``done``. The server process
maps the pages it wrote into the object store and those its evaluation reads; once no
job has used an entry for a while (``unmap_idle``, from the housekeeping thread) the
server drops those mappings (server.pages): the data stays in the object store for the
next job, and the server's RSS no longer counts it.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from server.pages import unmap_shared
from worker.data import Prepared, prepare
from worker.malloc import release_freed_memory

#: Default bound on the bytes of cached prepared data sets.
DEFAULT_MAX_BYTES = 2 << 30
_ARRAYS = ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")


@dataclasses.dataclass(frozen=True)
class Shared:
    """A prepared data set whose arrays are views of the object store's copy, and the training split's refs."""

    data: Prepared
    X_ref: Any
    y_ref: Any
    nbytes: int
    key: tuple = ()


class DataCache:
    """Prepared data sets in the object store, least recently used evicted past ``max_bytes``.

    ``store`` puts a value into the object store (``put``) and reads it back (``get``) —
    the RayLauncher.
    """

    def __init__(self, store: Any, max_bytes: int = DEFAULT_MAX_BYTES):
        self._store = store
        self._max = int(max_bytes)
        self._entries: OrderedDict[tuple, Shared] = OrderedDict()
        self._lock = threading.Lock()
        self._preparing: dict[tuple, threading.Lock] = {}
        self._users: dict[tuple, int] = {}  # jobs using each entry now (absent: none)
        self._idle_since: dict[tuple, float] = {}  # entries no job uses and still mapped: since when

    def get(self, spec: str, seed: int, dtype: str) -> Shared:
        """The shared prepared data set for (spec, seed, dtype): cached, or prepared and cached now.

        The caller uses it until it calls ``done`` with it.
        """
        key = (spec.strip(), int(seed), dtype)
        with self._lock:
            key_lock = self._preparing.setdefault(key, threading.Lock())
        with key_lock:  # one preparation per key at a time; the others wait and find it cached
            with self._lock:
                if key in self._entries:
                    self._entries.move_to_end(key)
                    return self._take(key)
            shared = self._share(lambda: prepare(spec, seed=seed, dtype=dtype), key)
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
        unmap_shared(getattr(shared.data, name) for name in _ARRAYS)

    def unmap_idle(self, idle_for: float) -> int:
        """Drop this process's mappings of every entry no job has used for ``idle_for`` seconds; the bytes advised."""
        now, idle = time.monotonic(), []
        with self._lock:
            for key, since in list(self._idle_since.items()):
                if now - since >= idle_for:
                    del self._idle_since[key]
                    idle.append(self._entries[key].data)
        # Outside the lock: a job taking the entry meanwhile only maps the pages again as it reads them.
        return sum(unmap_shared(getattr(data, name) for name in _ARRAYS) for data in idle)

    def _take(self, key: tuple) -> Shared:
        self._users[key] = self._users.get(key, 0) + 1
        self._idle_since.pop(key, None)
        return self._entries[key]

    def _share(self, make: Callable[[], Prepared], key: tuple) -> Shared:
        """Prepare (``make``), put each array into the object store and drop its private copy before the next.

        At most one split exists twice at a time (privately and in the store), not all of them.
        """
        data = make()
        arrays = {name: getattr(data, name) for name in _ARRAYS}
        rest = dataclasses.replace(data, **dict.fromkeys(_ARRAYS))
        del data  # the arrays dict holds the only references now
        nbytes = sum(array.nbytes for array in arrays.values())
        refs = {name: self._store.put(arrays.pop(name)) for name in _ARRAYS}
        views = {name: self._store.get(ref) for name, ref in refs.items()}
        return Shared(dataclasses.replace(rest, **views), refs["X_train"], refs["y_train"], nbytes, key)

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
