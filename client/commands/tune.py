"""``descent tune``: a hyperparameter search over ordinary jobs, with successive halving.

Orchestrated by the client over the existing RPCs (SubmitJob, GetJob, CancelJob), not by a
server-side job group: every trial is an ordinary job (listed, watchable, cancellable on its
own), the server needs nothing new, and the search lives exactly as long as the command, which
cancels its trials when it is interrupted (Ctrl-C, SIGTERM). The price: a trial promoted to the
next rung of successive halving trains again from the start as a new job with the longer
budget (a job cannot be extended), which costs at most the budget of the rung before (half).
All trials share the data seed, so they are ranked on the same validation split.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import click
import numpy as np

from client.commands.kit import configs as _configs
from client.commands.kit import connection_options, reports_errors
from client.commands.kit import note as _note
from client.commands.kit import open_connection as _connect
from client.commands.kit import print_json as _print_json
from client.commands.options import INT32, job_option, job_options
from client.commands.tune_plan import Dimension, Rung, grid_trials, parse_dimension, random_trials, rank, rungs, survivors
from client.errors import CommandError
from client.output.progress import is_terminal
from client.output.tune_report import save_scatter, summary, trials_table
from client.rpc.api import TrainerApi
from client.rpc.requests import job_spec
from proto.job_fields import BY_NAME, RULE_FIELDS
from proto.names import state_name

#: Seconds between polls of the running trials.
POLL_SECONDS = 0.3
DEFAULT_RANGES = {"random": {"lr": "1e-3:1e-1", "reg": "1e-6:1e-2"}, "grid": {"lr": "1e-3,1e-2,1e-1", "reg": "1e-6,1e-4,1e-2"}}


class LiveTable:
    """The trials table on stderr: redrawn in place on a terminal, else one line per finished trial."""

    def __init__(self, names: list[str], enabled: bool):
        self._names, self._enabled, self._drawn = names, enabled, 0
        self._tty = enabled and sys.stderr.isatty()

    def update(self, trials: list[dict[str, Any]], finished: dict[str, Any] | None = None) -> None:
        if not self._enabled:
            return
        if not self._tty:
            if finished is not None:
                t = finished
                val = "-" if t["val_accuracy"] is None else f"{t['val_accuracy']:.4f}"
                _note(f"trial {t['trial']} rung {t['rung']} ({t['updates']} updates): {t['state']}, val {val} ({t['job_id']})")
            return
        text = trials_table(trials, self._names)
        if self._drawn:
            sys.stderr.write(f"\x1b[{self._drawn}F\x1b[J")
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
        self._drawn = text.count("\n") + 1


class Tuner:
    """Runs the trials of each rung as jobs, at most ``parallel`` at a time, and keeps their records."""

    def __init__(self, api: TrainerApi, fixed: dict[str, Any], points: list[dict[str, float]], parallel: int, live: LiveTable):
        self._api, self._fixed, self._parallel, self._live = api, fixed, parallel, live
        self.trials = [
            {"trial": i, "params": p, "rung": 0, "updates": 0, "state": "WAITING", "job_id": None,
             "val_accuracy": None, "test_accuracy": None, "train_accuracy": None, "jobs": []}
            for i, p in enumerate(points)
        ]
        self._running: dict[str, dict[str, Any]] = {}
        self.jobs, self.updates = 0, 0

    def run(self, plan: list[Rung]) -> None:
        """Every rung in turn; the survivors of one go on to the next."""
        alive = [t["trial"] for t in self.trials]
        for index, rung in enumerate(plan):
            self._run_rung(index, rung, alive)
            if index + 1 < len(plan):
                alive = survivors([(i, self.trials[i]["val_accuracy"]) for i in alive], plan[index + 1].trials)
                for i in set(t["trial"] for t in self.trials) - set(alive):
                    if self.trials[i]["state"] == "SUCCEEDED" and self.trials[i]["rung"] == index:
                        self.trials[i]["state"] = "HALVED"  # stopped here: not among the better part

    def cancel_running(self) -> int:
        """Cancel the trials' jobs that are still running; return how many."""
        cancelled = 0
        for job_id in list(self._running):
            try:
                self._api.cancel(job_id, timeout=10)
                cancelled += 1
            except CommandError as error:
                _note(f"error: {error.code}: could not cancel trial job {job_id}: {error.details}")
        return cancelled

    def _run_rung(self, index: int, rung: Rung, trials: list[int]) -> None:
        waiting = list(trials)
        while waiting or self._running:
            while waiting and len(self._running) < self._parallel:
                self._submit(self.trials[waiting.pop(0)], index, rung.updates)
            time.sleep(POLL_SECONDS)
            for job_id, trial in list(self._running.items()):
                status = self._api.get(job_id)
                if is_terminal(status):
                    del self._running[job_id]
                    self._record(trial, status)
                    self._live.update(self.trials, trial)
                elif state_name(status.state) != trial["state"]:
                    trial["state"] = state_name(status.state)
                    self._live.update(self.trials)

    def _submit(self, trial: dict[str, Any], rung: int, updates: int) -> None:
        spec = job_spec(**self._fixed, **trial["params"], steps=updates)
        status = self._api.submit(spec)
        self._running[status.job_id] = trial
        trial.update(rung=rung, updates=updates, job_id=status.job_id, state=state_name(status.state),
                     val_accuracy=None, test_accuracy=None, train_accuracy=None)
        trial["jobs"].append(status.job_id)
        self.jobs += 1
        self._live.update(self.trials)

    def _record(self, trial: dict[str, Any], status) -> None:
        trial["state"] = state_name(status.state)
        self.updates += status.steps
        for split in ("train", "val", "test"):
            field = f"{split}_accuracy"
            trial[field] = getattr(status, field) if status.HasField(field) else None


def _dimensions(search: str, lr: str | None, reg: str | None, params: tuple[str, ...], fixed: dict) -> list[Dimension]:
    texts = {"lr": lr or DEFAULT_RANGES[search]["lr"], "reg": reg or DEFAULT_RANGES[search]["reg"]}
    for item in params:
        name, sep, text = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not NAME=SPEC", param_hint="--param")
        if name in texts:
            raise click.BadParameter(f"{name} is given twice", param_hint="--param")
        if fixed.get(name) is not None:
            raise click.BadParameter(f"{name} is both fixed (--{name}) and searched", param_hint="--param")
        texts[name] = text
    try:
        return [parse_dimension(name, text) for name, text in texts.items()]
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@click.command()
@job_options("dataset")
@click.option("--search", type=click.Choice(["random", "grid"]), default="random", show_default=True,
              help="random: sample each range log-uniformly; grid: every combination of the listed values.")
@click.option("--trials", type=click.IntRange(1, 1024), default=16, show_default=True, help="Trials of a random search.")
@click.option("--budget", type=click.IntRange(1, 10**9), default=2000, show_default=True,
              help="Updates of a trial that reaches the last rung (every trial without --halving).")
@click.option("--halving", is_flag=True, help="Successive halving: train all trials briefly, keep the better half, twice as long, ...")
@click.option("--lr", "lr_space", metavar="SPEC", help="LOW:HIGH (log-uniform) or V1,V2,...  [random 1e-3:1e-1; grid 1e-3,1e-2,1e-1]")
@click.option("--reg", "reg_space", metavar="SPEC", help="LOW:HIGH or V1,V2,...  [random 1e-6:1e-2; grid 1e-6,1e-4,1e-2]")
@click.option("--param", "params", metavar="NAME=SPEC", multiple=True,
              help="Search another hyperparameter too: momentum, beta1, beta2, eps, init_scale (repeatable).")
@click.option("--parallel", type=click.IntRange(1, 256), default=2, show_default=True, help="Trial jobs submitted at a time.")
@job_option(BY_NAME["workers"], type=INT32, default=1, show_default=True, help="Ray workers (one CPU each) per trial.")
@job_option(BY_NAME["batch_size"])
@job_option(BY_NAME["seed"], help="Data split and W seed of every trial (and of the sampler).  [server default: 0]")
@job_options("dtype", *RULE_FIELDS)
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="Write val accuracy over (lr, reg) as a PNG.")
@connection_options
@reports_errors
def tune(
    search, trials, budget, halving, lr_space, reg_space, params, parallel, plot_path, server, state_dir, connect_timeout,
    as_json, **fixed,
):
    """Search lr x reg (and more) over parallel jobs; rank the trials by validation accuracy.

    Each trial is an ordinary job (see `descent jobs`). With --halving the trials
    first train for a fraction of --budget, and only the better half of each rung
    goes on, for twice as long. Prints the ranked table and the best trial's test
    accuracy (or one JSON document with --json); Ctrl-C cancels the running trials.
    """
    seed = fixed["seed"]  # the job fields every trial shares (dataset, workers, ..., the update rule)
    dimensions = _dimensions(search, lr_space, reg_space, params, fixed)
    try:
        points = grid_trials(dimensions) if search == "grid" else random_trials(dimensions, trials, np.random.default_rng(seed or 0))
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    plan = rungs(len(points), budget, halving)
    connection, output = _configs(server, state_dir, connect_timeout, as_json)
    names = [dim.name for dim in dimensions]
    started = time.monotonic()
    with _connect(connection) as api:
        tuner = Tuner(api, fixed, points, parallel, LiveTable(names, enabled=not output.json))
        try:
            tuner.run(plan)
        except BaseException:
            cancelled = tuner.cancel_running()
            if cancelled:
                _note(f"cancelled {cancelled} running trial job(s)")
            raise
    result = search_result(tuner, plan, names, search, fixed["dataset"], time.monotonic() - started)
    if plot_path and result["best"] is not None:
        save_scatter(result, plot_path)
    if output.json:
        _print_json(result)
    else:
        click.echo(summary(result))
    if result["best"] is None:
        raise CommandError("FAILED", "no trial succeeded")


def search_result(tuner: Tuner, plan: list[Rung], names: list[str], search: str, dataset: str | None, seconds: float) -> dict:
    """The JSON document: the search, its rungs, the trials ranked, the best one."""
    order = rank([(t["trial"], t["rung"], t["val_accuracy"]) for t in tuner.trials])
    ranked = [tuner.trials[i] for i in order]
    best = ranked[0] if ranked and ranked[0]["val_accuracy"] is not None else None
    return {
        "search": search, "dataset": dataset, "parameters": names,
        "rungs": [{"trials": r.trials, "updates": r.updates} for r in plan],
        "trials": ranked, "best": best, "jobs": tuner.jobs, "updates": tuner.updates, "seconds": seconds,
    }


COMMANDS = (tune,)
