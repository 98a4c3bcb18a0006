"""An elastic job's store: workers join and leave while it runs; sync barriers and ssp clocks re-form,
no push waits forever, no step is counted twice, per-worker steps add up to the version."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from server.params.consistency import Consistency
from server.params.store import ParameterStore

SYNC, SSP0 = Consistency("sync"), Consistency("ssp", 0)


def _store(mode, target=100, members=("a", "b")):
    store = ParameterStore(np.zeros(3), lr=1.0, target_steps=target, consistency=mode, workers=0)
    for worker in members:
        store.enroll(worker)
    return store


def _push_in_thread(store, worker, grad=None):
    """Push from another thread (a sync or ssp push may wait); return the thread and where its reply lands."""
    result = {}
    grad = np.ones(3) if grad is None else grad
    thread = threading.Thread(target=lambda: result.setdefault("snap", store.push(grad, 1.0, worker, "")), daemon=True)
    thread.start()
    return thread, result


def _waiting(thread):
    thread.join(0.3)
    return thread.is_alive()


def _sums_add_up(store):
    version, _, steps, _ = store.progress()
    assert sum(steps.values()) == version
    return version, steps


def test_sync_a_worker_leaving_mid_step_releases_the_barrier_and_its_gradient_is_never_counted():
    store = _store(SYNC, members=("a", "b", "c"))
    ta, ra = _push_in_thread(store, "a", np.full(3, 2.0))
    tc, _ = _push_in_thread(store, "c", np.full(3, 9.0))
    assert _waiting(ta) and _waiting(tc)
    store.leave("c")  # its gradient is dropped; the step now waits for a and b only
    assert _waiting(ta) and store.version == 0
    tb, rb = _push_in_thread(store, "b", np.full(3, 4.0))
    for thread in (ta, tb, tc):
        thread.join(5)
        assert not thread.is_alive()
    assert store.version == 2 and np.allclose(store.weights()[0], -3.0)  # the mean of a's and b's only
    assert _sums_add_up(store)[1] == {"a": 1, "b": 1}  # c: never counted
    assert not ra["snap"].stop and not rb["snap"].stop


def test_sync_the_last_worker_of_a_step_leaving_applies_it():
    store = _store(SYNC)
    ta, _ = _push_in_thread(store, "a")
    assert _waiting(ta)
    store.leave("b")
    ta.join(5)
    assert not ta.is_alive() and store.version == 1 and _sums_add_up(store)[1] == {"a": 1}


def test_sync_a_join_widens_the_next_step():
    store = _store(SYNC)
    for worker in ("a", "b"):
        store.push(np.ones(3), 1.0, worker, "") if worker == "b" else _push_in_thread(store, worker)
    time.sleep(0.1)
    assert store.version == 2
    store.enroll("c")
    threads = [_push_in_thread(store, worker)[0] for worker in ("a", "b")]
    assert all(_waiting(thread) for thread in threads) and store.version == 2  # waits for c too
    store.push(np.ones(3), 1.0, "c", "")
    for thread in threads:
        thread.join(5)
    assert store.version == 5 and _sums_add_up(store)[1] == {"a": 2, "b": 2, "c": 1}


def test_sync_the_last_step_takes_only_the_pushes_still_needed():
    store = _store(SYNC, target=3, members=("a", "b"))
    ta, _ = _push_in_thread(store, "a")
    store.push(np.ones(3), 1.0, "b", "")
    ta.join(5)
    assert store.version == 2
    snap = store.push(np.ones(3), 1.0, "b", "")  # one push left: the step closes without a
    assert store.version == 3 and store.done and snap.stop
    assert _sums_add_up(store)[1] == {"a": 1, "b": 2}


@pytest.mark.parametrize("mode", [Consistency(), SSP0], ids=str)
def test_a_worker_that_left_finishes_its_push_and_is_told_to_stop(mode):
    store = _store(mode)
    store.push(np.ones(3), 1.0, "b", "") if mode.kind == "async" else None
    store.leave("a")
    snap = store.push(np.ones(3), 1.0, "a", "")  # its current push is applied, the reply says stop
    assert snap.stop and not store.done
    assert _sums_add_up(store)[1]["a"] == 1


def test_sync_a_push_from_a_worker_that_left_is_answered_stop_and_not_applied():
    store = _store(SYNC)
    store.leave("a")
    assert store.push(np.ones(3), 1.0, "a", "").stop and store.version == 0
    assert not store.push(np.ones(3), 1.0, "b", "").stop and store.version == 1  # b alone is the step now


def test_ssp_a_leave_releases_a_worker_waiting_for_the_slowest():
    store = _store(SSP0)
    ta, ra = _push_in_thread(store, "a")
    assert _waiting(ta)  # one clock ahead of b at bound 0
    store.leave("b")
    ta.join(5)
    assert not ta.is_alive() and not ra["snap"].stop and store.version == 1


def test_ssp_a_joining_worker_starts_at_clock_zero_and_holds_the_others_back():
    store = _store(SSP0, members=("a",))
    store.push(np.ones(3), 1.0, "a", "")
    store.enroll("b")
    ta, _ = _push_in_thread(store, "a")
    assert _waiting(ta)  # a is 2 clocks ahead of the newcomer
    store.push(np.ones(3), 1.0, "b", "")
    store.push(np.ones(3), 1.0, "b", "")
    ta.join(5)
    assert not ta.is_alive() and _sums_add_up(store)[1] == {"a": 2, "b": 2}


@pytest.mark.parametrize("mode", [Consistency(), SYNC, Consistency("ssp", 2)], ids=str)
def test_churn_ends_at_exactly_the_target_with_exact_per_worker_sums(mode):
    """Workers join and leave at random while others push: the job ends at its target, every update counted once."""
    target = 600
    store = ParameterStore(np.zeros(3), lr=0.01, target_steps=target, consistency=mode, workers=0)
    rng = np.random.default_rng(1)
    threads: dict[str, threading.Thread] = {}

    def run(worker):
        while not store.push(np.ones(3), 1.0, worker, "").stop:
            time.sleep(0.002)  # a gradient's worth of work: the churn happens while the job trains

    def join(worker):
        store.enroll(worker)
        threads[worker] = threading.Thread(target=run, args=(worker,), daemon=True)
        threads[worker].start()

    for worker in ("w0", "w1"):
        join(worker)
    names = iter(f"w{i}" for i in range(2, 1000))
    while not store.done:
        live = [worker for worker, thread in threads.items() if thread.is_alive() and worker in store._enrollment.workers()]
        if len(live) > 1 and rng.random() < 0.5:
            store.leave(str(rng.choice(live)))
        elif len(live) < 4:
            join(next(names))
        time.sleep(0.002)
    for thread in threads.values():
        thread.join(5)
        assert not thread.is_alive()
    version, steps = _sums_add_up(store)
    assert version == target and len(steps) > 4


def test_ssp_a_waiting_worker_that_is_told_to_leave_returns_with_stop():
    store = _store(SSP0)
    ta, ra = _push_in_thread(store, "a")
    assert _waiting(ta)
    store.leave("a")
    store.leave("b")  # no member left: nothing to wait for
    ta.join(5)
    assert not ta.is_alive() and ra["snap"].stop and _sums_add_up(store)[0] == 1
