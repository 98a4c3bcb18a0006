"""The push record (server.params.pushes) against an oracle over seeded random histories.

The oracle replays the history with nothing but sets: a push is applied iff its epoch is the
newest its worker id has seen (by fence or by push) and no push of that (worker, epoch) with a
sequence as large was applied before; else it is stale (older epoch) or a duplicate.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from server.errors import PermissionDenied
from server.params.pushes import PushRecord, Verdict
from server.params.store import ParameterStore


def _oracle(history):
    newest, applied, verdicts = {}, set(), []
    for event in history:
        if event[0] == "fence":
            _, worker, epoch = event
            newest[worker] = max(newest.get(worker, -1), epoch)
            verdicts.append(None)
            continue
        _, worker, epoch, sequence = event
        if sequence == 0:
            verdicts.append(Verdict.APPLY)
            continue
        newest[worker] = max(newest.get(worker, -1), epoch)
        if epoch < newest[worker]:
            verdicts.append(Verdict.STALE)
        elif any(w == worker and e == epoch and s >= sequence for w, e, s in applied):
            verdicts.append(Verdict.DUPLICATE)
        else:
            applied.add((worker, epoch, sequence))
            verdicts.append(Verdict.APPLY)
    return verdicts


def _history(rng: random.Random, length: int):
    """Workers pushing in order, re-sending, being replaced (fenced) while an old epoch goes on pushing."""
    epochs = {w: 0 for w in ("w0", "w1", "w2")}
    sequences: dict[tuple[str, int], int] = {}
    history = []
    for _ in range(length):
        worker = rng.choice(list(epochs))
        roll = rng.random()
        if roll < 0.08:  # a replacement is placed
            epochs[worker] += 1
            history.append(("fence", worker, epochs[worker]))
            continue
        epoch = epochs[worker] - (1 if roll < 0.2 and epochs[worker] > 0 else 0)  # an old epoch comes back
        key = (worker, epoch)
        if roll < 0.35 and sequences.get(key):  # a re-sent push (the same sequence again, or an older one)
            sequence = rng.randint(1, sequences[key])
        elif roll < 0.38:
            sequence = 0  # a worker that sends no sequence
        else:
            sequences[key] = sequences.get(key, 0) + rng.randint(1, 2)
            sequence = sequences[key]
        history.append(("push", worker, epoch, sequence))
    return history


@pytest.mark.parametrize("seed", range(20))
def test_the_record_agrees_with_the_oracle_on_random_histories(seed):
    history = _history(random.Random(seed), 400)
    record = PushRecord()
    verdicts = []
    for event in history:
        if event[0] == "fence":
            record.fence(event[1], event[2])
            verdicts.append(None)
        else:
            verdicts.append(record.admit(*event[1:]))
    assert verdicts == _oracle(history)
    assert record.refused_stale == verdicts.count(Verdict.STALE) > 0
    assert record.duplicates == verdicts.count(Verdict.DUPLICATE) > 0


def test_a_resent_push_is_recognised_and_a_fenced_epoch_refused():
    record = PushRecord()
    assert record.admit("w0", 0, 1) is Verdict.APPLY
    assert record.admit("w0", 0, 1) is Verdict.DUPLICATE  # the same push again, after a lost reply
    assert record.admit("w0", 0, 2) is Verdict.APPLY
    record.fence("w0", 1)  # w0 was replaced
    assert record.admit("w0", 0, 3) is Verdict.STALE  # the old one, back from a partition
    assert record.admit("w0", 1, 1) is Verdict.APPLY  # the replacement starts its own count
    assert record.last_applied("w0") == (1, 1)
    assert (record.refused_stale, record.duplicates) == (1, 1)


def test_the_store_applies_a_resent_push_once_and_refuses_a_fenced_epoch():
    store = ParameterStore(np.zeros((2, 3)), lr=1.0, target_steps=100)
    old = store.enroll("w0", 0)
    grad = np.ones((2, 3))
    store.push(grad, 1.0, "w0", "", epoch=0, sequence=1)
    again = store.push(grad, 1.0, "w0", "", epoch=0, sequence=1)  # the reply was lost; the worker sends it again
    assert store.version == 1 and again.version == 1
    np.testing.assert_array_equal(store.weights()[0], -grad)  # applied once: W = 0 - lr * grad
    assert (store.pushes.duplicates, store.pushes.refused_stale) == (1, 0)

    new = store.enroll("w0", 1)  # w0 replaced: epoch 0 is fenced
    with pytest.raises(PermissionDenied, match="replaced by a newer one"):
        store.authorize("w0", old, 0)
    store.authorize("w0", new, 1)
    with pytest.raises(PermissionDenied, match="replaced by a newer one"):  # a push already past authorization
        store.push(grad, 1.0, "w0", "", epoch=0, sequence=2)
    store.push(grad, 1.0, "w0", "", epoch=1, sequence=1)
    assert store.version == 2 and store.pushes.refused_stale == 2
