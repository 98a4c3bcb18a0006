"""Strategies #1 and #2: the acceptance rule and the search store (search jobs on a real server: e2e/test_search_e2e.py)."""

from __future__ import annotations

import numpy as np
import pytest

from server.errors import PermissionDenied
from server.params.search_store import SearchStore
from server.params.store import ParameterStore
from worker import search, svm
from worker.data import prepare as data


def test_accepts_only_a_strictly_lower_finite_loss():
    assert search.accepts(2.0, 1.5)
    assert not search.accepts(2.0, 2.0)
    assert not search.accepts(2.0, 2.5)
    assert not search.accepts(2.0, float("nan"))
    assert search.accepts(float("inf"), 9.0)


def test_candidates_are_reproducible_from_their_seeds():
    base = np.ones((3, 4))
    seed = search.candidate_seed(7, 12)
    assert seed == search.candidate_seed(7, 12) != search.candidate_seed(7, 13)
    step = 0.5 * np.random.default_rng(seed).standard_normal((3, 4))
    np.testing.assert_array_equal(search.candidate(None, (3, 4), 0.5, seed), step)
    np.testing.assert_array_equal(search.candidate(base, (3, 4), 0.5, seed), base + step)
    d = data.prepare("digits", 0, dtype="float64")
    rows = np.arange(50)
    losses = search.candidate_losses(d.X_train, d.y_train, [seed, seed + 1], base=None, shape=(10, 65), scale=1e-2,
                                     reg=1e-3, rows=rows)
    for s, loss in zip([seed, seed + 1], losses):
        W = search.candidate(None, (10, 65), 1e-2, s)
        assert loss == pytest.approx(svm.svm_loss_naive(W, d.X_train[:50], d.y_train[:50], 1e-3)[0], rel=1e-12)


def test_store_never_accepts_a_step_that_raises_the_loss():
    rng = np.random.default_rng(0)
    store = SearchStore(np.zeros((2, 3)), target_steps=10_000)
    store.set_loss(5.0)
    kept = [5.0]
    while store.remaining():
        W, loss = store.current()
        offers = [(rng.standard_normal((2, 3)), float(v)) for v in loss + rng.normal(0.0, 0.5, size=3)]
        taken = store.offer(offers, len(offers))
        best_W, best = min(offers, key=lambda o: o[1])
        after_W, after = store.current()
        if taken:
            assert best < loss and after == best
            np.testing.assert_array_equal(after_W, best_W)
        else:
            assert best >= loss and after == loss
            np.testing.assert_array_equal(after_W, W)
        kept.append(after)
    assert np.all(np.diff(kept) <= 0) and 0 < store.accepted < len(kept)
    assert store.version == store.loss_evaluations == 10_000 and store.done
    history = store.loss_history()[1]
    assert len(history) == 10_000 and np.all(np.diff(history) <= 0)


def test_store_counts_the_budget_and_checkpoints_like_a_parameter_store():
    store = SearchStore(np.zeros((2, 3)), target_steps=5)
    store.set_loss(3.0)
    assert store.offer([(np.ones((2, 3)), 1.0)], 3) and store.version == 4
    assert store.offer([(np.full((2, 3), 2.0), 0.5)], 3) and store.version == 5  # capped at the budget
    state = store.capture()
    assert state.version == 5 and state.worker_steps == {"search": 5}
    resumed = SearchStore.resume(state, 0.1, 5)
    np.testing.assert_array_equal(resumed.weights()[0], np.full((2, 3), 2.0))
    assert resumed.loss_history() == store.loss_history() and resumed.done
    with pytest.raises(PermissionDenied):
        store.authorize("w0", "secret")
    assert isinstance(ParameterStore.resume(state, 0.1, 5), ParameterStore)  # the same StoreState shape
