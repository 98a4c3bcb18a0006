"""``descent tune``: a hyperparameter search on Optuna, its trials ordinary jobs that continue.

The client orchestrates over the existing RPCs (SubmitJob, GetJob, CancelJob): every trial is
a chain of ordinary jobs (listed, watchable, cancellable on their own), each rung's job continued
from the last (``init_from``), so a promoted trial never trains again from the start. Optuna
samples (tpe, random, grid, cmaes) and prunes (successive halving, hyperband, none) through its
ask-and-tell interface (client.commands.tune_runner), and keeps the study in an SQLite file that
``--resume`` continues and ``optuna-dashboard`` shows (client.commands.tune_study). All trials
share the data seed, so they are ranked on the same validation split.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from client.commands.kit import configs as _configs
from client.commands.kit import connection_options, reports_errors
from client.commands.kit import note as _note
from client.commands.kit import open_connection as _connect
from client.commands.kit import print_json as _print_json
from client.commands.options import INT32, job_option, job_options
from client.commands.tune_runner import StudyRunner
from client.commands.tune_space import ETA, parse_dimension, rank
from client.commands.tune_study import PRUNERS, SAMPLERS, distributions, grid_size, import_optuna, open_study
from client.errors import CommandError
from client.output.tune_report import save_scatter, summary, trials_table
from client.rpc.channel import default_state_dir
from proto.job_fields import BY_NAME, RULE_FIELDS

DEFAULT_RANGES = {"grid": {"lr": "1e-3,1e-2,1e-1", "reg": "1e-6,1e-4,1e-2"}}
DEFAULT_RANGE = {"lr": "1e-3:1e-1", "reg": "1e-6:1e-2"}
#: Where a study lives beside an embedded server's jobs.
STUDY_FILE = "tune.db"


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
                _note(f"trial {t['trial']} ({t['updates']} updates): {t['state']}, val {val} ({t['job_id']})")
            return
        text = trials_table(trials, self._names)
        if self._drawn:
            sys.stderr.write(f"\x1b[{self._drawn}F\x1b[J")
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
        self._drawn = text.count("\n") + 1


def _space(sampler: str, lr: str | None, reg: str | None, params: tuple[str, ...], fixed: dict) -> dict[str, str]:
    """The search space as written (NAME -> SPEC), each spec checked."""
    defaults = DEFAULT_RANGES.get(sampler, DEFAULT_RANGE)
    texts = {"lr": lr or defaults["lr"], "reg": reg or defaults["reg"]}
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
        dimensions = [parse_dimension(name, text) for name, text in texts.items()]
        if sampler == "grid":
            grid_size(dimensions)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    return texts


def _storage(storage: str | None, connection) -> str:
    """The study's SQLite file: --storage, else STATE_DIR/tune.db of an embedded server."""
    if storage:
        return os.path.abspath(storage)
    if not connection.embedded:
        raise click.UsageError("a study of a remote server's trials lives in a local file: name it with --storage FILE")
    state = Path(connection.state_dir) if connection.state_dir else default_state_dir(os.environ)
    state.mkdir(parents=True, exist_ok=True)
    return str(state / STUDY_FILE)


@click.command()
@job_options("dataset")
@click.option("--sampler", type=click.Choice(SAMPLERS), default="tpe", show_default=True,
              help="Optuna's sampler: tpe, random (log-uniform ranges), grid (every combination of the listed values), "
                   "cmaes (needs the cmaes package).")
@click.option("--pruner", type=click.Choice(PRUNERS), default="halving", show_default=True,
              help="halving (successive halving, judged when a slot frees), asha (Optuna's asynchronous halving), "
                   "hyperband, none.")
@click.option("--trials", type=click.IntRange(1, 1024), default=16, show_default=True, help="Trials (a grid: at most its size).")
@click.option("--budget", type=click.IntRange(1, 10**9), default=2000, show_default=True,
              help="Updates of a trial that is never pruned.")
@click.option("--eta", type=click.IntRange(2, 16), default=ETA, show_default=True,
              help="Each rung keeps 1/ETA of the trials and is ETA times longer.")
@click.option("--lr", "lr_space", metavar="SPEC", help="LOW:HIGH (log-uniform) or V1,V2,...  [1e-3:1e-1; grid 1e-3,1e-2,1e-1]")
@click.option("--reg", "reg_space", metavar="SPEC", help="LOW:HIGH or V1,V2,...  [1e-6:1e-2; grid 1e-6,1e-4,1e-2]")
@click.option("--param", "params", metavar="NAME=SPEC", multiple=True,
              help="Search another hyperparameter too: momentum, beta1, beta2, eps, init_scale (repeatable).")
@click.option("--parallel", type=click.IntRange(1, 256), default=2, show_default=True, help="Trial jobs running at a time.")
@job_option(BY_NAME["workers"], type=INT32, default=1, show_default=True, help="Ray workers (one CPU each) per trial.")
@job_option(BY_NAME["batch_size"])
@job_option(BY_NAME["seed"], help="Data split and W seed of every trial (and of the sampler).  [server default: 0]")
@job_options("dtype", *RULE_FIELDS)
@click.option("--study", "study_name", metavar="NAME", help="Name of a new study.  [tune-<time>]")
@click.option("--resume", metavar="STUDY", help="Continue the study STUDY (its settings are the study's own).")
@click.option("--storage", metavar="FILE", help="The study's SQLite file.  [STATE_DIR/tune.db; required with --server]")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="Write val accuracy over (lr, reg) as a PNG.")
@connection_options
@reports_errors
def tune(
    sampler, pruner, trials, budget, eta, lr_space, reg_space, params, parallel, study_name, resume, storage, plot_path,
    server, state_dir, connect_timeout, as_json, **fixed,
):
    """Search lr x reg (and more) with Optuna over parallel jobs; rank the trials by validation accuracy.

    Each trial is a chain of ordinary jobs (see `descent jobs`), judged at each
    rung of --budget / ETA^k updates: a pruned trial's job is cancelled, a
    promoted one goes on from its last job's W (--init-from). Prints the ranked
    table and the best trial's test accuracy (or one JSON document with --json);
    Ctrl-C cancels the running trials, and --resume STUDY continues the study.
    """
    optuna = import_optuna()
    settings = None
    if resume is None:
        space = _space(sampler, lr_space, reg_space, params, fixed)
        fixed = {name: value for name, value in fixed.items() if value is not None}
        settings = dict(sampler=sampler, pruner=pruner, trials=trials, budget=budget, eta=eta, space=space,
                        seed=fixed.get("seed") or 0, fixed=fixed)
        if sampler == "grid":
            settings["trials"] = min(trials, grid_size([parse_dimension(n, t) for n, t in space.items()]))
    connection, output = _configs(server, state_dir, connect_timeout, as_json)
    path = _storage(storage, connection)
    name = resume or study_name or time.strftime("tune-%Y%m%d-%H%M%S")
    started = time.monotonic()
    with _connect(connection) as api:
        study, settings, dimensions, plan = open_study(optuna, path, name, settings)
        names = [dim.name for dim in dimensions]
        live = LiveTable(names, enabled=not output.json)
        runner = StudyRunner(api, optuna, study, settings["fixed"], distributions(optuna, dimensions), plan,
                             settings["trials"], parallel, live.update, _note, defer=settings["pruner"] == "halving")
        try:
            runner.run()
        except BaseException:
            cancelled = runner.cancel_running()
            if cancelled:
                _note(f"cancelled {cancelled} running trial job(s); --resume {name} continues the study")
            raise
    result = search_result(runner, plan, names, settings, name, path, time.monotonic() - started)
    if plot_path and result["best"] is not None:
        save_scatter(result, plot_path)
    if output.json:
        _print_json(result)
    else:
        click.echo(summary(result))
    if result["best"] is None:
        raise CommandError("FAILED", "no trial succeeded")


def search_result(runner: StudyRunner, plan: list[int], names: list[str], settings: dict, study: str, storage: str,
            seconds: float) -> dict:
    """The JSON document: the search, its rungs, the trials ranked, the best one."""
    records = runner.records
    order = rank([(t["trial"], t["rung"], t["val_accuracy"]) for t in records.values()])
    ranked = [records[i] for i in order]
    complete = [t for t in ranked if t["state"] == "COMPLETE" and t["val_accuracy"] is not None]
    return {
        "search": settings["sampler"], "pruner": settings["pruner"], "study": study, "storage": storage,
        "dataset": settings["fixed"].get("dataset"), "parameters": names,
        "rungs": [{"updates": r, "trials": sum(1 for t in ranked if t["updates"] >= r)} for r in plan],
        "trials": ranked, "best": complete[0] if complete else None,
        "jobs": runner.jobs, "updates": runner.updates, "seconds": seconds,
    }


COMMANDS = (tune,)
