"""Preparing a data set stops between blocks once asked (a cancelled job, a server stopping)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from worker.data.prepare import PreparationStopped, prepare

SYNTHETIC = "synthetic:30000,64,5"
BLOCK = 64 * 65 * 4 * 50  # 50 rows of float32 per block: 72 checks in all


def _after(calls: int):
    """A should_stop that turns true on its ``calls``-th call, counting them."""
    counter = itertools.count(1)
    asked = []

    def should_stop() -> bool:
        asked.append(next(counter))
        return asked[-1] >= calls

    return should_stop, asked


@pytest.mark.parametrize("calls", [1, 2, 7, 30, 60])
def test_synthetic_preparation_stops_at_the_first_check_that_says_stop(calls):
    should_stop, asked = _after(calls)
    kept = []
    with pytest.raises(PreparationStopped):
        prepare(SYNTHETIC, 0, block_bytes=BLOCK, should_stop=should_stop, keep=lambda name, a: kept.append(name) or a)
    assert len(asked) == calls  # not one block drawn after the stop
    assert len(kept) < calls


def test_file_data_sets_stop_before_loading_and_between_blocks():
    with pytest.raises(PreparationStopped):
        prepare("digits", 0, should_stop=lambda: True)
    should_stop, asked = _after(3)
    with pytest.raises(PreparationStopped):
        prepare("digits", 0, block_bytes=65 * 4 * 100, should_stop=should_stop)
    assert len(asked) == 3


@pytest.mark.parametrize("spec", [SYNTHETIC, "digits"])
def test_a_preparation_never_asked_to_stop_is_the_plain_one(spec):
    plain = prepare(spec, 3, block_bytes=BLOCK)
    should_stop, asked = _after(10**9)
    checked = prepare(spec, 3, block_bytes=BLOCK, should_stop=should_stop)
    assert len(asked) > 5  # it was asked, between blocks
    for name in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        assert np.array_equal(np.asarray(getattr(plain, name)[:]), np.asarray(getattr(checked, name)[:])), name
