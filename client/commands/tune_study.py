"""Optuna behind ``descent tune``: its samplers, its pruners and the study's storage (glue only).

Optuna is a dependency of the client alone (the ``client`` extra; CMA-ES also needs ``cmaes``):
``import_optuna`` imports it or names the extra to install. A study lives in an SQLite file
(Optuna's RDB storage, which ``optuna-dashboard`` reads): ``STATE_DIR/tune.db`` beside an
embedded server's jobs, or a local file the user names. The search (data set, fixed options,
space, sampler, pruner, budget) is kept in the study's user attributes, so ``--resume STUDY``
needs nothing else.
"""

from __future__ import annotations

import math
from typing import Any

from client.commands.tune_space import Dimension, parse_dimension
from client.commands.tune_space import rungs as make_rungs
from client.errors import CommandError
from formats.extras import import_extra

SAMPLERS = ("tpe", "random", "grid", "cmaes")
PRUNERS = ("halving", "asha", "hyperband", "none")
#: The study's user attribute that holds the search's settings.
SETTINGS = "descent"


def import_optuna():
    """The optuna module (its logging quieted); MissingExtra naming the extra that brings it."""
    optuna = import_extra("optuna", "descent tune")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def distributions(optuna, dimensions: list[Dimension]) -> dict[str, Any]:
    """Optuna's distribution of each dimension: a log-uniform float range, or a choice of values."""
    dist = optuna.distributions
    return {
        d.name: dist.FloatDistribution(d.low, d.high, log=True) if d.is_range else dist.CategoricalDistribution(d.values)
        for d in dimensions
    }


def grid_size(dimensions: list[Dimension]) -> int:
    """How many points a grid over ``dimensions`` has; ValueError for a range (a grid needs values)."""
    for dim in dimensions:
        if dim.is_range:
            raise ValueError(f"{dim.name}: a grid needs a list of values (V1,V2,...), not a range")
    return math.prod(len(dim.values) for dim in dimensions)


def make_sampler(optuna, name: str, dimensions: list[Dimension], seed: int):
    """The sampler ``name`` (see SAMPLERS), seeded."""
    samplers = optuna.samplers
    if name == "grid":
        grid_size(dimensions)
        class AskAndTellGrid(samplers.GridSampler):
            """Optuna's grid, less its ``study.stop()`` once the grid is done (allowed only inside ``optimize``):
            the runner asks for exactly the grid's size."""

            def after_trial(self, study, trial, state, values) -> None:
                pass

        return AskAndTellGrid({d.name: list(d.values) for d in dimensions}, seed=seed)
    if name == "random":
        return samplers.RandomSampler(seed=seed)
    if name == "cmaes":
        import_extra("cmaes", "--sampler cmaes")  # Optuna's CMA-ES sampler imports it only when it first samples
        return samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    return samplers.TPESampler(seed=seed)


def make_pruner(optuna, name: str, rungs: list[int], eta: int):
    """The pruner ``name`` (see PRUNERS) over the rungs' updates (none when there is one rung).

    ``asha`` and ``hyperband`` are Optuna's own, which judge a trial against those that reached its
    rung before it (the first ones there are always promoted). ``halving`` is successive halving
    as an Optuna pruner that ranks a trial among every trial that reported at its rung so far
    (``HalvingPruner``); the runner asks it only when a slot is free and no new trial is left to
    start (client.commands.tune_runner), so a rung has filled when it judges, and no slot waits.
    """
    pruners = optuna.pruners
    if name == "none" or len(rungs) == 1:
        return pruners.NopPruner()
    if name == "hyperband":
        return pruners.HyperbandPruner(min_resource=rungs[0], max_resource=rungs[-1], reduction_factor=eta)
    if name == "asha":
        return pruners.SuccessiveHalvingPruner(min_resource=rungs[0], reduction_factor=eta)
    return _halving_pruner(optuna)(rungs, eta)


def _halving_pruner(optuna):
    """The HalvingPruner class (made when Optuna is imported: it derives from Optuna's BasePruner)."""

    class HalvingPruner(optuna.pruners.BasePruner):
        """At a rung's step a trial goes on if it is among the best 1/eta (at least one) of the trials that
        reported there, ties to the earlier trial; any other step prunes nothing."""

        def __init__(self, rungs: list[int], eta: int):
            self._rungs, self._eta = set(rungs[:-1]), eta

        def prune(self, study, trial) -> bool:
            step = trial.last_step
            if step not in self._rungs:
                return False
            there = [(-t.intermediate_values[step], t.number) for t in study.get_trials(deepcopy=False)
                     if step in t.intermediate_values and math.isfinite(t.intermediate_values[step])]
            mine = (-trial.intermediate_values[step], trial.number)
            keep = max(1, len(there) // self._eta)
            return not math.isfinite(mine[0]) or sorted(there).index(mine) >= keep

    return HalvingPruner


def open_study(optuna, storage: str, name: str, settings: dict[str, Any] | None):
    """A new study ``name`` with ``settings``, or (``settings`` None) the one to resume, with its sampler,
    pruner and settings; CommandError if it exists (new) or does not (resume)."""
    url = f"sqlite:///{storage}"
    if settings is None:
        try:
            summaries = {s.study_name: s for s in optuna.get_all_study_summaries(url)}
        except Exception as error:  # a damaged or foreign file
            raise CommandError("FAILED_PRECONDITION", f"cannot read the study storage {storage}: {error}") from None
        if name not in summaries or SETTINGS not in summaries[name].user_attrs:
            known = ", ".join(sorted(summaries)) or "none"
            raise CommandError("NOT_FOUND", f"no descent study {name!r} in {storage} (studies there: {known})")
        settings = summaries[name].user_attrs[SETTINGS]
    dimensions = [parse_dimension(n, text) for n, text in settings["space"].items()]
    if settings["pruner"] == "none":  # nothing is judged on the way: one job per trial
        rungs = [settings["budget"]]
    else:
        rungs = make_rungs(settings["trials"], settings["budget"], settings["eta"])
    sampler = make_sampler(optuna, settings["sampler"], dimensions, settings["seed"])
    pruner = make_pruner(optuna, settings["pruner"], rungs, settings["eta"])
    if "created" not in settings:
        try:
            study = optuna.create_study(study_name=name, storage=url, direction="maximize", sampler=sampler, pruner=pruner)
        except optuna.exceptions.DuplicatedStudyError:
            raise CommandError("ALREADY_EXISTS", f"study {name!r} exists in {storage}: --resume {name} continues it") from None
        study.set_user_attr(SETTINGS, {**settings, "created": True})
        return study, settings, dimensions, rungs
    return optuna.load_study(study_name=name, storage=url, sampler=sampler, pruner=pruner), settings, dimensions, rungs
