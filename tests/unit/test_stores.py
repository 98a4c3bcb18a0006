"""Both kinds of store keep the one ``Store`` protocol (server.params.protocol): same members, same parameters."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from server.errors import PermissionDenied
from server.params.protocol import Store
from server.params.search_store import SearchStore
from server.params.store import ParameterStore

MEMBERS = [name for name in vars(Store) if not name.startswith("_")] + ["alarm"]


def stores():
    w = np.zeros((3, 4), dtype=np.float32)
    return [ParameterStore(w, lr=0.1, target_steps=10), SearchStore(w, target_steps=10)]


@pytest.mark.parametrize("store", stores(), ids=lambda s: type(s).__name__)
def test_each_store_is_a_store_with_the_protocols_signatures(store):
    assert isinstance(store, Store)
    for name in MEMBERS:
        assert hasattr(store, name), f"{type(store).__name__} lacks {name}"
        declared = inspect.getattr_static(Store, name, None)
        if inspect.isfunction(declared):
            ours = list(inspect.signature(getattr(type(store), name)).parameters)
            assert ours == list(inspect.signature(declared).parameters), f"{type(store).__name__}.{name}"
    assert store.version == 0 and not store.done and store.shape == (3, 4)
    w, version = store.weights()
    assert version == 0 and w.shape == (3, 4)


def test_only_enrolled_workers_with_their_own_secret_are_authorized():
    store = ParameterStore(np.zeros((2, 3)), lr=0.1, target_steps=4)
    first = store.enroll("w1")
    store.authorize("w1", first)
    with pytest.raises(PermissionDenied):
        store.authorize("w1", "not-the-secret")
    with pytest.raises(PermissionDenied):
        store.authorize("w2", first)
    second = store.enroll("w1")  # a replaced worker gets a new secret; the old one stops working
    assert second != first
    store.authorize("w1", second)
    with pytest.raises(PermissionDenied):
        store.authorize("w1", first)


def test_a_search_store_enrolls_no_worker():
    store = SearchStore(np.zeros((2, 3)), target_steps=4)
    with pytest.raises(PermissionDenied):
        store.enroll("w1")
