"""The pure parts of ``descent tune``: search spaces, rungs, ranking, and Optuna's samplers and pruners as
the command builds them (Optuna itself is the oracle: no server, no job)."""

import math

import pytest

from client.commands.tune_space import Dimension, parse_dimension, rank, rungs
from client.commands.tune_study import distributions, grid_size, import_optuna, make_pruner, make_sampler, open_study
from client.errors import CommandError


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


def test_rungs_are_the_pruners_own_steps_up_to_the_budget():
    assert rungs(16, 2000) == [125, 250, 500, 1000, 2000]
    assert rungs(16, 2000, eta=4) == [125, 500, 2000]
    assert rungs(9, 1000) == [125, 250, 500, 1000]
    assert rungs(16, 1000) == [62, 124, 248, 496, 1000]  # min_resource * eta**k, as Optuna's halving judges
    assert rungs(64, 400) == [50, 100, 200, 400]  # the first rung stays >= MIN_RUNG_UPDATES (50)
    assert rungs(1, 100) == [100] and rungs(5, 10) == [10]
    with pytest.raises(ValueError):
        rungs(0, 10)


def test_rank():
    # (trial, rung reached, val): the furthest rung first, then val, then trial number; failures last
    results = [(0, 0, 0.90), (1, 1, 0.80), (2, 0, None), (3, 0, 0.95), (4, 1, 0.85), (5, 0, math.nan), (6, 0, 0.95)]
    assert rank(results) == [4, 1, 3, 6, 0, 2, 5]


def test_samplers_and_pruners_are_optunas_own():
    optuna = import_optuna()
    dims = [Dimension("lr", low=1e-4, high=1e-1), Dimension("reg", values=(0.0, 1e-3))]
    space = distributions(optuna, dims)
    assert space["lr"].log and (space["lr"].low, space["lr"].high) == (1e-4, 1e-1)
    assert space["reg"].choices == (0.0, 1e-3)
    assert isinstance(make_sampler(optuna, "tpe", dims, 0), optuna.samplers.TPESampler)
    assert isinstance(make_sampler(optuna, "random", dims, 0), optuna.samplers.RandomSampler)
    assert isinstance(make_sampler(optuna, "cmaes", dims, 0), optuna.samplers.CmaEsSampler)
    with pytest.raises(ValueError, match="a grid needs a list"):
        make_sampler(optuna, "grid", dims, 0)
    grid = [Dimension("lr", values=(1e-3, 1e-2)), Dimension("reg", values=(0.0, 1e-5, 1e-3))]
    assert grid_size(grid) == 6 and isinstance(make_sampler(optuna, "grid", grid, 0), optuna.samplers.GridSampler)
    asha = make_pruner(optuna, "asha", [125, 250, 2000], 2)
    assert isinstance(asha, optuna.pruners.SuccessiveHalvingPruner) and asha._min_resource == 125
    assert isinstance(make_pruner(optuna, "halving", [125, 250, 2000], 2), optuna.pruners.BasePruner)
    assert isinstance(make_pruner(optuna, "hyperband", [125, 2000], 2), optuna.pruners.HyperbandPruner)
    assert isinstance(make_pruner(optuna, "none", [125, 2000], 2), optuna.pruners.NopPruner)
    assert isinstance(make_pruner(optuna, "halving", [2000], 2), optuna.pruners.NopPruner)


def test_asha_judges_at_once_against_those_at_the_rung_before():
    """Optuna's own asynchronous halving: a report at a rung's step is judged against the trials there before it."""
    optuna = import_optuna()
    study = optuna.create_study(direction="maximize", pruner=make_pruner(optuna, "asha", [10, 20, 40], 2))
    values = [0.5, 0.9, 0.7, 0.95]
    decisions = []
    for value in values:
        trial = study.ask({"lr": optuna.distributions.FloatDistribution(1e-3, 1e-1, log=True)})
        trial.report(0.1, 5)  # a curve point before the rung: never judged
        assert not trial.should_prune()
        trial.report(value, 10)
        decisions.append(trial.should_prune())
    assert decisions == [False, False, True, False]  # the first is promoted alone; then the top half


def test_a_study_is_created_once_and_resumed_with_its_own_settings(tmp_path):
    optuna = import_optuna()
    storage = str(tmp_path / "tune.db")
    settings = dict(sampler="tpe", pruner="halving", trials=4, budget=200, eta=2, space={"lr": "1e-3:1e-1"}, seed=3,
                    fixed={"dataset": "digits"})
    study, _, dims, plan = open_study(optuna, storage, "s1", settings)
    assert plan == [50, 100, 200] and dims == [Dimension("lr", low=1e-3, high=1e-1)]
    with pytest.raises(CommandError, match="exists"):
        open_study(optuna, storage, "s1", settings)
    again, kept, _, plan = open_study(optuna, storage, "s1", None)
    assert again._study_id == study._study_id and kept["fixed"] == {"dataset": "digits"} and plan == [50, 100, 200]
    with pytest.raises(CommandError, match="no descent study 'nope'.*s1"):
        open_study(optuna, storage, "nope", None)


def test_halving_keeps_the_best_half_of_every_trial_at_the_rung_ties_to_the_earlier():
    optuna = import_optuna()
    study = optuna.create_study(direction="maximize", pruner=make_pruner(optuna, "halving", [10, 20, 40], 2))
    values = [0.5, 0.9, 0.7, 0.95, 0.9, 0.2]
    trials = []
    for value in values:  # all report at the first rung before any is judged (the runner judges when a slot frees)
        trial = study.ask({"lr": optuna.distributions.FloatDistribution(1e-3, 1e-1, log=True)})
        trial.report(0.99, 5)  # a curve point between rungs: never judged
        assert not trial.should_prune()
        trial.report(value, 10)
        trials.append(trial)
    # keep 6 // 2 = 3: 0.95, then the two 0.9s (trial 1 before trial 4); 0.7 loses
    assert [t.should_prune() for t in trials] == [True, False, True, False, False, True]
    trials[1].report(0.8, 20)  # the next rung alone: the best of one goes on
    assert not trials[1].should_prune()
    trials[1].report(0.8, 40)  # the budget: nothing is judged there
    assert not trials[1].should_prune()
