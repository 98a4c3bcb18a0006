"""Prepared data sets kept in Ray's object store, per (spec, seed, dtype), with size-bounded eviction.

A job's data set is loaded, split and preprocessed once (worker.data.prepare), put into
the object store, and the server's private copy dropped: the job (its workers, and its
own evaluation) reads zero-copy views of the shared copy. A second job on the same
(spec, seed, dtype) takes the cached entry and skips preparation altogether. Entries are
evicted least recently used first once their bytes pass ``max_bytes``; an evicted set
stays alive for as long as a running job still holds its references.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from typing import Any

from worker.data import Prepared, prepare

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

    def get(self, spec: str, seed: int, dtype: str) -> Shared:
        """The shared prepared data set for (spec, seed, dtype): cached, or prepared and cached now."""
        key = (spec.strip(), int(seed), dtype)
        with self._lock:
            key_lock = self._preparing.setdefault(key, threading.Lock())
        with key_lock:  # one preparation per key at a time; the others wait and find it cached
            with self._lock:
                if key in self._entries:
                    self._entries.move_to_end(key)
                    return self._entries[key]
            shared = self._share(prepare(spec, seed=seed, dtype=dtype))
            with self._lock:
                self._entries[key] = shared
                self._evict(keep=key)
                self._preparing.pop(key, None)
            return shared

    def _share(self, data: Prepared) -> Shared:
        refs = {name: self._store.put(getattr(data, name)) for name in _ARRAYS}
        views = {name: self._store.get(ref) for name, ref in refs.items()}
        nbytes = sum(getattr(data, name).nbytes for name in _ARRAYS)
        return Shared(dataclasses.replace(data, **views), refs["X_train"], refs["y_train"], nbytes)

    def _evict(self, keep: tuple) -> None:
        total = sum(entry.nbytes for entry in self._entries.values())
        for key in list(self._entries):
            if total <= self._max:
                break
            if key != keep:
                total -= self._entries.pop(key).nbytes

    def keys(self) -> list[tuple]:
        """Cached (spec, seed, dtype) keys, least recently used first."""
        with self._lock:
            return list(self._entries)
