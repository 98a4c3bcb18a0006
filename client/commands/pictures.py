"""``descent templates`` and ``curve``: what a trained job learned, and how it got there, as PNGs.

Registered on the ``descent`` group by client.cli. ``templates`` draws a job's (or a model
file's) W rows as images; ``curve`` draws one or more jobs' batch loss (raw and smoothed)
and validation accuracy against updates and wall time.
"""

from __future__ import annotations

import os

import click

from client.commands.kit import configs, connection_options, open_connection, print_json, reports_errors
from client.commands.notes import check_plot_path
from client.errors import CommandError
from client.output.notes_render import chain_curve_json, curve_report
from client.plots.notes_plot import save_curve_plot, save_templates_plot
from client.plots.templates import template_tiles
from formats.model import load_model


def _model(target: str, connection):
    """(W, class names, image shape, job id, dataset) of a model file or a SUCCEEDED job."""
    if os.path.isfile(target):
        try:
            model = load_model(target)
        except ValueError as error:
            raise CommandError("INVALID_ARGUMENT", str(error)) from None
        return model.W, list(model.class_names), tuple(model.image_shape), model.job_id, model.dataset
    with open_connection(connection) as api:
        info, arrays = api.export_model(target)
    return arrays["W"], list(info.class_names), tuple(info.image_shape), info.job_id, info.spec.dataset


@click.command()
@click.argument("target", metavar="JOB|MODEL")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="PNG to write.  [templates.png]")
@connection_options
@reports_errors
def templates(target, plot_path, server, state_dir, connect_timeout, as_json):
    """The rows of a SUCCEEDED job's W (or a model file's) as images: one template per class.

    The bias column is left out; digits rows are 8x8, MNIST 28x28, CIFAR-10
    32x32x3. Each tile is scaled from its own minimum (black) to maximum (white).
    """
    connection, output = configs(server, state_dir, connect_timeout, as_json)
    plot_path = check_plot_path(plot_path, "templates.png")
    W, names, shape, job_id, dataset = _model(target, connection)
    try:
        tiles = template_tiles(W, shape)
    except ValueError as error:
        raise CommandError("FAILED_PRECONDITION", f"{target}: {error}") from None
    save_templates_plot(tiles, names, f"learned templates: {job_id or target} on {dataset}", plot_path)
    result = {
        "job_id": job_id, "dataset": dataset, "image_shape": list(shape), "class_names": names,
        "tiles": tiles.tolist(), "plot": plot_path,
    }
    if output.json:
        print_json(result)
    else:
        click.echo(f"{len(names)} templates of shape {'x'.join(map(str, tiles.shape[1:]))} ({', '.join(names)})\n"
                   f"plot: {plot_path}")


#: The most jobs of one chain a curve follows back.
MAX_CHAIN = 1000


def chain_of(api, job_id: str) -> list:
    """The job and the jobs it continues (init_from), the first of the chain first."""
    chain = [api.get(job_id, include_history=True)]
    while chain[-1].parent and len(chain) < MAX_CHAIN:
        chain.append(api.get(chain[-1].parent, include_history=True))
    return chain[::-1]


@click.command()
@click.argument("job_ids", metavar="JOB [JOB...]", nargs=-1, required=True)
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="PNG to write.  [curve.png]")
@connection_options
@reports_errors
def curve(job_ids, plot_path, server, state_dir, connect_timeout, as_json):
    """Training curves of one or more jobs on one figure.

    Per-update batch loss (faint: raw, bold: smoothed) and the validation
    accuracy the server measured every steps/50 updates, against updates and
    against wall time. A job continued from others (--init-from) is drawn
    with them as one line.
    """
    connection, output = configs(server, state_dir, connect_timeout, as_json)
    plot_path = check_plot_path(plot_path, "curve.png")
    with open_connection(connection) as api:
        jobs = [chain_curve_json(chain_of(api, job_id)) for job_id in job_ids]
    save_curve_plot(jobs, plot_path)
    result = {"jobs": jobs, "plot": plot_path}
    if output.json:
        print_json(result)
    else:
        click.echo(curve_report(result))


COMMANDS = (templates, curve)
