"""``descent minibatch`` and ``landscape``: the notes' mini-batch argument and loss landscapes, measured and drawn.

Registered on the ``descent`` group by client.cli. Both run on the server (``--server``,
or an embedded one), print a table (or ``--json``) and write a PNG (``--plot``).
"""

from __future__ import annotations

import os

import click

from client.commands.kit import configs, connection_options, open_connection, print_json, reports_errors
from client.commands.options import INT32, source_options
from client.output.notes_render import landscape_json, landscape_report, minibatch_json, minibatch_report
from client.plots.notes_plot import save_landscape_plot, save_minibatch_plot


def check_plot_path(path: str | None, default: str) -> str:
    """The PNG path to write (``default`` when none is given); BadParameter if its directory does not exist."""
    path = path or default
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise click.BadParameter(f"the directory of {path} does not exist", param_hint="--plot")
    return path


def _sizes(ctx, param, value):
    if value is None:
        return None
    try:
        sizes = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of integers") from None
    if not sizes or any(s < 1 or s >= 1 << 31 for s in sizes):
        raise click.BadParameter(f"batch sizes must be positive integers, got {value!r}")
    return sizes


@click.command()
@source_options("Measure at this job's current (or final) W, on its data set.", "Seed for W and the batches.")
@click.option("--sizes", callback=_sizes, metavar="B,B,...",
              help="Batch sizes (the full training split is always added).  [1,2,4,...,1024 and 192,255,257,320]")
@click.option("--draws", type=INT32, help="Batches drawn per size for the cosine.  [server default: 100]")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="PNG to write.  [minibatch.png]")
@connection_options
@reports_errors
def minibatch(dataset, job_id, sizes, draws, seed, reg, init_scale, plot_path, server, state_dir, connect_timeout, as_json):
    """How close a mini-batch gradient is to the full one, and what each example costs, per batch size.

    For each batch size: the cosine similarity of the batch gradient to the
    full-batch gradient at the same W (mean and std over many draws) and the
    time per example of the vectorized gradient at that size.
    """
    connection, output = configs(server, state_dir, connect_timeout, as_json)
    plot_path = check_plot_path(plot_path, "minibatch.png")
    with open_connection(connection) as api:
        response = api.minibatch(
            dataset, job_id=job_id, seed=seed, reg=reg, init_scale=init_scale, draws=draws, batch_sizes=sizes
        )
    result = minibatch_json(response)
    save_minibatch_plot(result, plot_path)
    result["plot"] = plot_path
    if output.json:
        print_json(result)
    else:
        click.echo(minibatch_report(result))


@click.command()
@source_options("Centre on this job's current (or final) W, on its data set.", "Seed for W and the directions.")
@click.option("--examples", type=INT32, help="Examples in the loss (the first of the training split); 1 shows one "
              "example's piecewise-linear loss.  [all]")
@click.option("--points", type=INT32, help="Grid values of a (and b) from -span to span.  [server default: 41]")
@click.option("--span", type=float, help="Largest |a| and |b|.  [server default: 1.0]")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="PNG to write.  [landscape.png]")
@connection_options
@reports_errors
def landscape(
    dataset, job_id, examples, points, span, seed, reg, init_scale, plot_path, server, state_dir, connect_timeout, as_json
):
    """The loss along a random direction, L(W + a W1), and over a random plane, L(W + a W1 + b W2).

    Evaluated in parallel Ray tasks at a random W or a job's W; drawn as a line
    plot and a heat map, as in the notes.
    """
    connection, output = configs(server, state_dir, connect_timeout, as_json)
    plot_path = check_plot_path(plot_path, "landscape.png")
    with open_connection(connection) as api:
        response = api.landscape(
            dataset, job_id=job_id, seed=seed, reg=reg, init_scale=init_scale, examples=examples, points=points,
            span=span,
        )
    result = landscape_json(response)
    save_landscape_plot(result, plot_path)
    result["plot"] = plot_path
    if output.json:
        print_json(result)
    else:
        click.echo(landscape_report(result))


COMMANDS = (minibatch, landscape)
