"""The parameter store: exact asynchronous updates under concurrency, validation that changes nothing."""

import threading

import numpy as np
import pytest

from server.params.loss_history import MAX_BLOCKS, LossHistory
from server.params.store import ParameterStore


def test_push_applies_vanilla_update_and_returns_new_w():
    w0 = np.arange(6, dtype=np.float64).reshape(2, 3)
    store = ParameterStore(w0, lr=0.5, target_steps=10)
    grad = np.ones((2, 3))
    snap = store.push(grad, loss=1.0, worker_id="a", node_id="n1")
    assert snap.version == 1 and not snap.stop
    np.testing.assert_array_equal(np.frombuffer(snap.data).reshape(2, 3), w0 - 0.5)
    np.testing.assert_array_equal(w0, np.arange(6).reshape(2, 3))  # caller's array untouched


def test_concurrent_pushes_lose_no_update():
    threads, pushes = 16, 200
    store = ParameterStore(np.zeros((10, 65), dtype=np.float64), lr=1.0, target_steps=threads * pushes)
    grads = [np.full((10, 65), -(i + 1), dtype=np.float64) for i in range(threads)]  # W += (i + 1) per push
    barrier = threading.Barrier(threads)

    def pusher(i):
        barrier.wait()
        for _ in range(pushes):
            store.push(grads[i], loss=float(i), worker_id=f"w{i}", node_id="n")

    workers = [threading.Thread(target=pusher, args=(i,)) for i in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    weights, version = store.weights()
    assert version == threads * pushes
    expected = pushes * sum(range(1, threads + 1))
    np.testing.assert_array_equal(weights, np.full((10, 65), expected, dtype=np.float64))
    _, _, steps, _ = store.progress()
    assert steps == {f"w{i}": pushes for i in range(threads)}
    block, losses = store.loss_history()
    assert block == 1 and sorted(losses) == sorted(float(i) for i in range(threads) for _ in range(pushes))


def test_target_reached_means_stop_and_no_more_updates():
    store = ParameterStore(np.zeros((2, 2), dtype=np.float32), lr=1.0, target_steps=3)
    grad = np.ones((2, 2), dtype=np.float32)
    stops = [store.push(grad, 0.0, "w", "n").stop for _ in range(5)]
    assert stops == [False, False, True, True, True]
    weights, version = store.weights()
    assert version == 3
    np.testing.assert_array_equal(weights, np.full((2, 2), -3.0, dtype=np.float32))
    _, _, steps, _ = store.progress()
    assert steps == {"w": 3}


def test_stop_halts_updates():
    store = ParameterStore(np.zeros(3), lr=1.0, target_steps=100)
    store.stop()
    snap = store.push(np.ones(3), 0.0, "w", "n")
    assert snap.stop and snap.version == 0
    np.testing.assert_array_equal(store.weights()[0], np.zeros(3))


@pytest.mark.parametrize(
    "grad, loss, worker, message",
    [
        (np.ones((3, 2)), 0.0, "w", r"gradient shape \[3, 2\] does not match W shape \[2, 3\]"),
        (np.ones((2, 3), dtype=np.float32), 0.0, "w", "gradient dtype float32 does not match W dtype float64"),
        (np.array([[1.0, np.nan, 0], [0, 0, 0]]), 0.0, "w", "NaN or Inf"),
        (np.array([[1.0, np.inf, 0], [0, 0, 0]]), 0.0, "w", "NaN or Inf"),
        (np.ones((2, 3)), float("nan"), "w", "batch loss must be finite"),
        (np.ones((2, 3)), 0.0, "", "worker_id is empty"),
    ],
)
def test_bad_push_rejected_without_changing_state(grad, loss, worker, message):
    store = ParameterStore(np.zeros((2, 3)), lr=1.0, target_steps=10)
    with pytest.raises(ValueError, match=message):
        store.push(grad, loss, worker, "n")
    weights, version = store.weights()
    assert version == 0
    np.testing.assert_array_equal(weights, np.zeros((2, 3)))
    assert store.loss_history() == (1, [])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_finite_gradients_are_accepted_and_one_nan_among_them_refused(dtype):
    # sum(dx**2) overflows to Inf for these: the exact check decides, not the fast one.
    big = np.full((2, 3), np.finfo(dtype).max / 2, dtype=dtype)
    store = ParameterStore(np.zeros((2, 3), dtype), lr=1e-300 if dtype == np.float64 else 1e-30, target_steps=10)
    assert store.push(big, 0.0, "w", "n").version == 1
    big[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf"):
        store.push(big, 0.0, "w", "n")
    assert store.weights()[1] == 1


def test_recent_loss_is_mean_of_last_tenth():
    store = ParameterStore(np.zeros(1), lr=0.0, target_steps=100)
    assert np.isnan(store.progress()[1])
    for i in range(20):
        store.push(np.zeros(1), float(i), "w", "n")
    assert store.progress()[1] == pytest.approx((18 + 19) / 2)


def test_long_jobs_keep_bounded_block_sums():
    history = LossHistory(target_steps=10 * MAX_BLOCKS)
    assert history.block == 10
    for i in range(105):
        history.add(float(i))
    means = history.means()
    assert len(means) == 11
    assert means[0] == pytest.approx(4.5) and means[-1] == pytest.approx(102.0)
    # the last 10% (11 losses: 94..104) start inside block 9 (90..99): the mean covers 90..104
    assert history.recent_mean(0.1) == pytest.approx(np.mean(np.arange(90, 105)))


def test_short_jobs_keep_every_loss_exactly():
    history = LossHistory(target_steps=1000)
    losses = np.random.default_rng(0).random(537)
    for loss in losses:
        history.add(loss)
    assert history.block == 1
    np.testing.assert_allclose(history.means(), losses)
    assert history.recent_mean(0.1) == pytest.approx(losses[-54:].mean())


def test_version_alarm_rings_at_its_mark_and_when_the_store_stops():
    store = ParameterStore(np.zeros((2, 3)), lr=0.1, target_steps=100)
    grad = np.ones((2, 3))
    event = store.alarm.arm(3, lambda: store.version)
    for _ in range(2):
        store.push(grad, loss=1.0, worker_id="a", node_id="n")
    assert not event.is_set()
    store.push(grad, loss=1.0, worker_id="a", node_id="n")
    assert event.is_set()
    assert store.alarm.arm(2, lambda: store.version).is_set()  # a mark already passed rings at once
    event = store.alarm.arm(50, lambda: store.version)
    store.stop()
    assert event.is_set()
