"""``descent gradcheck`` and ``sweep``: the notes' two checks of a gradient and a step size.

Registered on the ``descent`` group by client.cli.
"""

from __future__ import annotations

import os

import click

from client.commands.kit import configs as _configs
from client.commands.kit import connection_options, reports_errors
from client.commands.kit import open_connection as _connect
from client.commands.kit import print_json as _print_json
from client.commands.options import FLOATS, INT32, source_options
from client.errors import CommandError
from client.output.check_text import gradcheck_report, sweep_report
from client.output.progress import follow_check
from client.output.render import gradcheck_json, sweep_json
from client.plots.sweep_plot import save_sweep_plot
from client.rpc.requests import gradcheck_request
from proto.names import FORMULA_VALUES, METHOD_VALUES


@click.command()
@source_options("Check at this job's current (or final) W, on its data set.", "Seed for W, the examples and the coordinates.")
@click.option("--checks", type=INT32, help="Random coordinates of W to check.  [server default: 20]")
@click.option("--full", is_flag=True, help="Check every coordinate of W, in chunks over the cluster.")
@click.option(
    "--h",
    "h",
    type=FLOATS,
    help="Finite-difference step; several (1e-3,1e-5,1e-7) print the error vs h, forward and centered side by side.  "
    "[server default: 1e-5]",
)
@click.option("--formula", type=click.Choice(list(FORMULA_VALUES)), help="Difference formula.  [server default: centered]")
@click.option(
    "--method",
    type=click.Choice(list(METHOD_VALUES)),
    help="incremental: update only the scores that move, O(N) per coordinate; brute: evaluate the whole loss again.  "
    "[server default: incremental]",
)
@click.option("--batch-size", type=INT32, help="Examples in the loss.  [server default: 256]")
@connection_options
@reports_errors
def gradcheck(
    dataset, job_id, checks, full, h, formula, method, seed, reg, batch_size, init_scale, server, state_dir,
    connect_timeout, as_json,
):
    """Compare the analytic SVM gradient with the numerical one (float64).

    Reports per coordinate the relative error and whether ±h crossed a kink of
    the hinge or the gradient is below the finite difference's resolution, then
    a verdict on the notes' scale with its reasons. Exits 0 when the check
    passes, 1 when it does not (the report is printed either way).
    """
    connection, output = _configs(server, state_dir, connect_timeout, as_json)
    request = gradcheck_request(
        dataset, checks=checks, h=h, formula=formula, seed=seed, reg=reg, batch_size=batch_size,
        init_scale=init_scale, full=full, method=method, job_id=job_id,
    )
    with _connect(connection) as api:
        response = follow_check(api, request, show_bar=output.progress)
    check = gradcheck_json(response)
    if output.json:
        _print_json(check)
    else:
        click.echo(gradcheck_report(check))
    if not check["passed"]:
        raise CommandError(
            "GRADCHECK_FAILED",
            f"max relative error over smooth coordinates {check['max_rel_error_smooth']} "
            f"is not below the threshold {check['threshold']} ({check.get('verdict') or 'failed'})",
        )


@click.command()
@source_options("Sweep from this job's current (or final) W, on its data set.", "Seed for W and the examples.")
@click.option("--from", "step_min", type=float, help="Smallest step size of a log-spaced range.  [1e-10]")
@click.option("--to", "step_max", type=float, help="Largest step size of the range.  [1e3]")
@click.option("--points", type=INT32, help="Step sizes in the range, log-spaced.  [one per decade]")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="Write loss vs step size to this PNG file.")
@click.option("--batch-size", type=INT32, help="Examples in the loss, drawn from the training split.  [all of it]")
@connection_options
@reports_errors
def sweep(
    dataset, job_id, step_min, step_max, points, plot_path, seed, reg, init_scale, batch_size, server, state_dir,
    connect_timeout, as_json,
):
    """Loss after one full-gradient step of each step size, from the same W (as in the notes).

    Without --from/--to/--points: 1e-10, 1e-9, ... until the loss rises above
    the original. With any of them: that log-spaced range, every point
    evaluated (in parallel Ray tasks). The best step size is named.
    """
    connection, output = _configs(server, state_dir, connect_timeout, as_json)
    if plot_path and not os.path.isdir(os.path.dirname(os.path.abspath(plot_path))):
        raise click.BadParameter(f"the directory of {plot_path} does not exist", param_hint="--plot")
    with _connect(connection) as api:
        response = api.sweep(
            dataset, seed=seed, reg=reg, init_scale=init_scale, step_min=step_min, step_max=step_max, points=points,
            job_id=job_id, batch_size=batch_size,
        )
    result = sweep_json(response)
    if plot_path:
        save_sweep_plot(result, plot_path)
        result["plot"] = plot_path
    if output.json:
        _print_json(result)
    else:
        click.echo(sweep_report(result))


COMMANDS = (gradcheck, sweep)
