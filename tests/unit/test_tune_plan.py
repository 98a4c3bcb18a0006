"""The pure plan of ``descent tune``: search spaces, log-uniform sampling, grids, rungs, ranking."""

import math

import numpy as np
import pytest

from client.commands.tune_plan import Dimension, Rung, grid_trials, parse_dimension, random_trials, rank, rungs, survivors


def test_parse_dimension():
    assert parse_dimension("lr", "1e-4:1e-1") == Dimension("lr", low=1e-4, high=1e-1)
    assert parse_dimension("reg", "1e-5, 1e-3,1e-5") == Dimension("reg", values=(1e-5, 1e-3))  # duplicates once
    for name, text, words in [
        ("batch_size", "1:2", "cannot search 'batch_size'"),
        ("lr", "0:1", "0 < LOW <= HIGH"),
        ("lr", "1:0.1", "0 < LOW <= HIGH"),
        ("lr", "1:2:3", "LOW:HIGH"),
        ("lr", "a,b", "not a number"),
        ("lr", "inf:1", "not finite"),
        ("lr", ",", "give LOW:HIGH"),
    ]:
        with pytest.raises(ValueError, match=words):
            parse_dimension(name, text)


def test_random_trials_are_log_uniform_and_seeded():
    dims = [Dimension("lr", low=1e-4, high=1e-1), Dimension("momentum", values=(0.5, 0.9))]
    points = random_trials(dims, 4000, np.random.default_rng(7))
    logs = np.log10([p["lr"] for p in points])
    assert logs.min() >= -4 and logs.max() <= -1
    # log-uniform: each decade holds a third of the points (uniform in lr would put 90% in the last)
    counts = np.histogram(logs, bins=[-4, -3, -2, -1])[0] / len(logs)
    np.testing.assert_allclose(counts, [1 / 3] * 3, atol=0.03)
    assert {p["momentum"] for p in points} == {0.5, 0.9}
    assert random_trials(dims, 5, np.random.default_rng(7)) == points[:5]  # same seed, same trials
    with pytest.raises(ValueError):
        random_trials(dims, 0, np.random.default_rng(0))


def test_grid_is_every_combination():
    dims = [Dimension("lr", values=(1e-3, 1e-2)), Dimension("reg", values=(0.0, 1e-5, 1e-3))]
    points = grid_trials(dims)
    assert len(points) == 6
    assert points[0] == {"lr": 1e-3, "reg": 0.0} and points[-1] == {"lr": 1e-2, "reg": 1e-3}
    assert len({tuple(p.values()) for p in points}) == 6
    with pytest.raises(ValueError, match="a grid needs a list"):
        grid_trials([Dimension("lr", low=1e-3, high=1e-1)])


def test_rungs_of_successive_halving():
    assert rungs(16, 2000, halving=True) == [Rung(16, 125), Rung(8, 250), Rung(4, 500), Rung(2, 1000), Rung(1, 2000)]
    assert rungs(16, 2000, halving=False) == [Rung(16, 2000)]
    assert rungs(9, 1000, halving=True) == [Rung(9, 125), Rung(5, 250), Rung(3, 500), Rung(2, 1000)]
    # the first rung's budget stays >= MIN_RUNG_UPDATES (50): fewer halvings
    assert rungs(64, 400, halving=True) == [Rung(64, 50), Rung(32, 100), Rung(16, 200), Rung(8, 400)]
    assert rungs(1, 100, halving=True) == [Rung(1, 100)]
    assert rungs(5, 10, halving=True) == [Rung(5, 10)]
    # halving spends less than training every trial for the whole budget
    plan = rungs(16, 2000, halving=True)
    assert sum(r.trials * r.updates for r in plan) == 5 * 2000 < 16 * 2000
    with pytest.raises(ValueError):
        rungs(0, 10, halving=True)


def test_rank_and_survivors():
    # (trial, rung reached, val): the furthest rung first, then val, then trial number; failures last
    results = [(0, 0, 0.90), (1, 1, 0.80), (2, 0, None), (3, 0, 0.95), (4, 1, 0.85), (5, 0, math.nan), (6, 0, 0.95)]
    assert rank(results) == [4, 1, 3, 6, 0, 2, 5]
    assert survivors([(0, 0.9), (1, None), (2, 0.93), (3, 0.91)], 2) == [2, 3]
    assert survivors([(0, 0.9)], 3) == [0]
