"""Consistency modes of the parameter store (sync, ssp:S, push_every) and staleness, with real threads."""

import threading
import time

import numpy as np
import pytest

from server.errors import Cancelled, RequestError
from server.params.consistency import Consistency, parse_consistency
from server.params.staleness import BUCKETS, StalenessHistogram
from server.params.store import ParameterStore


@pytest.mark.parametrize("text, parsed", [("async", Consistency()), ("sync", Consistency("sync")),
                                          ("ssp:0", Consistency("ssp", 0)), ("ssp:12", Consistency("ssp", 12))])
def test_modes_parse(text, parsed):
    assert parse_consistency(text) == parsed and str(parsed) == text


@pytest.mark.parametrize("text", ["", "ssp", "ssp:", "ssp:-1", "ssp:x", "SYNC", "ssp:99999999", "async "])
def test_bad_modes_are_named(text):
    with pytest.raises(RequestError, match="consistency must be one of async, sync, ssp:S"):
        parse_consistency(text)


def test_staleness_histogram_percentiles_against_sorting():
    rng = np.random.default_rng(0)
    values = rng.geometric(0.3, size=1001) - 1
    hist = StalenessHistogram()
    for v in values:
        hist.add(int(v))
    ordered = np.sort(values)
    for q in (50, 99):
        assert hist.percentile(q) == ordered[int(np.ceil(q / 100 * len(values))) - 1]
    assert hist.max == values.max() and sum(hist.counts()) == len(values)
    assert hist.counts() == np.bincount(values).tolist()


def test_staleness_overflow_bucket_reports_the_exact_max():
    hist = StalenessHistogram()
    hist.add(0)
    hist.add(500)
    assert hist.counts()[-1] == 1 and len(hist.counts()) == BUCKETS
    assert hist.percentile(99) == 500 and hist.max == 500 and hist.percentile(50) == 0


def test_async_staleness_is_version_applied_minus_version_computed():
    store = ParameterStore(np.zeros(4), lr=1.0, target_steps=10)
    g = np.ones(4)
    store.push(g, 0.0, "a", "", version=0)  # staleness 0, now v1
    store.push(g, 0.0, "b", "", version=0)  # computed on v0, applied at v1: 1
    store.push(g, 0.0, "a", "", version=0)  # 2
    store.push(g, 0.0, "b", "", version=3)  # 0
    s = store.staleness()
    assert s.histogram == [2, 1, 1] and s.max == 2 and s.p50 == 0 and s.p99 == 2


def test_gradient_from_the_future_is_refused_and_changes_nothing():
    store = ParameterStore(np.zeros(4), lr=1.0, target_steps=10)
    with pytest.raises(RequestError, match="computed on version 5, but W is at version 0"):
        store.push(np.ones(4), 0.0, "a", "", version=5)
    assert store.version == 0 and store.staleness().histogram == []


def test_push_every_counts_k_updates_and_must_match():
    store = ParameterStore(np.zeros(3), lr=0.5, target_steps=8, push_every=4)
    with pytest.raises(RequestError, match="must carry 4 update"):
        store.push(np.ones(3), 1.0, "a", "", updates=1)
    snap = store.push(np.full(3, 2.0), 3.0, "a", "", updates=4)  # the sum of 4 local gradients
    assert snap.version == 4
    np.testing.assert_array_equal(store.weights()[0], np.full(3, -1.0))
    assert store.progress()[2] == {"a": 4} and store.loss_history()[1] == [3.0] * 4
    assert store.push(np.ones(3), 1.0, "a", "", updates=4).stop and store.version == 8


def _enrolled(store, workers):
    for w in workers:
        store.enroll(w)


def test_sync_applies_the_mean_once_every_worker_pushed_and_all_get_the_same_w():
    w0 = np.arange(6, dtype=np.float64).reshape(2, 3)
    store = ParameterStore(w0, lr=0.1, target_steps=6, consistency=Consistency("sync"), workers=3)
    _enrolled(store, ["a", "b", "c"])
    grads = {w: np.full((2, 3), float(i + 1)) for i, w in enumerate("abc")}
    replies, barrier = {}, threading.Barrier(3)

    def push(w):
        barrier.wait()
        replies[w] = store.push(grads[w], float(ord(w)), w, "", version=0)

    threads = [threading.Thread(target=push, args=(w,)) for w in "abc"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert {r.version for r in replies.values()} == {3}
    assert len({id(r.data) for r in replies.values()}) == 1  # one encoding shared by all three
    np.testing.assert_allclose(np.frombuffer(replies["a"].data).reshape(2, 3), w0 - 0.1 * 2.0)
    assert store.progress()[2] == {"a": 1, "b": 1, "c": 1}
    assert store.staleness().histogram == [3]


def test_sync_push_waits_for_the_others_and_leaves_when_its_caller_does():
    store = ParameterStore(np.zeros(2), lr=1.0, target_steps=4, consistency=Consistency("sync"), workers=2)
    _enrolled(store, ["a", "b"])
    alive = threading.Event()
    alive.set()
    outcome = []

    def push():
        try:
            store.push(np.ones(2), 0.0, "a", "", version=0, alive=alive.is_set)
        except Cancelled as exc:
            outcome.append(exc)

    thread = threading.Thread(target=push)
    thread.start()
    time.sleep(0.5)
    assert thread.is_alive() and store.version == 0  # waiting for b
    alive.clear()
    thread.join(5)
    assert not thread.is_alive() and isinstance(outcome[0], Cancelled)
    # b's push completes the step with a's held gradient: nothing was lost or applied twice.
    snap = store.push(np.full(2, 3.0), 0.0, "b", "", version=0)
    assert snap.version == 2
    np.testing.assert_array_equal(store.weights()[0], np.full(2, -2.0))


def test_sync_waiters_wake_when_the_store_stops():
    store = ParameterStore(np.zeros(2), lr=1.0, target_steps=4, consistency=Consistency("sync"), workers=2)
    _enrolled(store, ["a", "b"])
    result = []
    thread = threading.Thread(target=lambda: result.append(store.push(np.ones(2), 0.0, "a", "", version=0)))
    thread.start()
    time.sleep(0.3)
    store.stop()
    thread.join(5)
    assert result[0].stop and store.version == 0


def test_sync_replaced_worker_takes_the_dead_ones_slot():
    store = ParameterStore(np.zeros(2), lr=1.0, target_steps=4, consistency=Consistency("sync"), workers=2)
    _enrolled(store, ["a", "b"])
    dead = threading.Thread(target=lambda: _swallow(lambda: store.push(np.full(2, 100.0), 0.0, "a", "", version=0,
                                                                        alive=lambda: False)))
    dead.start()
    dead.join(5)
    threading.Thread(target=lambda: store.push(np.full(2, 1.0), 0.0, "a", "", version=0)).start()  # its replacement
    time.sleep(0.3)
    assert store.push(np.full(2, 3.0), 0.0, "b", "", version=0).version == 2
    np.testing.assert_array_equal(store.weights()[0], np.full(2, -2.0))  # mean(1, 3): the dead push was replaced


def _swallow(call):
    try:
        call()
    except Cancelled:
        pass


@pytest.mark.parametrize("bound", [0, 1, 3])
def test_ssp_never_lets_a_worker_get_more_than_s_pushes_ahead(bound):
    workers, pushes = 3, 12
    store = ParameterStore(np.zeros(4), lr=0.01, target_steps=workers * pushes,
                           consistency=Consistency("ssp", bound), workers=workers)
    names = [f"w{i}" for i in range(workers)]
    _enrolled(store, names)
    spreads, lock = [], threading.Lock()

    def run(name, delay):
        for _ in range(pushes):
            time.sleep(delay)
            snap = store.push(np.ones(4), 0.0, name, "", version=store.version)
            steps = store.progress()[2]  # read after the reply: the slowest can only have moved on
            with lock:
                spreads.append(steps[name] - min(steps.get(n, 0) for n in names))
            if snap.stop:
                return

    threads = [threading.Thread(target=run, args=(n, 0.03 if n == "w0" else 0.0)) for n in names]  # w0 is slow
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert store.version == workers * pushes
    assert store.max_clock_spread == bound  # the fast ones got exactly as far ahead as allowed
    assert max(spreads) <= bound
    if bound == 0:
        assert store.staleness().max <= workers - 1


def test_async_lets_fast_workers_run_ahead():
    store = ParameterStore(np.zeros(4), lr=0.01, target_steps=20, workers=2)
    _enrolled(store, ["fast", "slow"])
    for _ in range(10):
        store.push(np.ones(4), 0.0, "fast", "")
    assert store.max_clock_spread == 10 and store.version == 10
