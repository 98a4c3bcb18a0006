"""``descent scale JOB N [--workers MIN:MAX]``: resize a running elastic job without a restart.

The job's workers join (one placement at a time, while CPUs are free) or leave (its newest
first, each finishing the push it is computing) until it has N; ``--workers MIN:MAX`` gives it
new bounds too. A rigid job (one submitted with ``--workers N``), a finished one and an N
outside the bounds are refused by the server, naming what is wrong.
"""

from __future__ import annotations

import click

from client.commands.kit import configs, connection_options, open_connection, print_json, reports_errors
from client.commands.options import COUNT_OR_RANGE
from client.errors import CommandError
from client.output.render import job_json
from client.output.text import job_summary


@click.command()
@click.argument("job_id", metavar="JOB")
@click.argument("workers", metavar="N", type=click.INT, required=False)
@click.option("--workers", "bounds", type=COUNT_OR_RANGE, metavar="MIN:MAX",
              help="New bounds of the job's workers (N must lie within them; without N the target is kept within).")
@connection_options
@reports_errors
def scale(job_id, workers, bounds, server, state_dir, connect_timeout, as_json):
    """Resize elastic job JOB to N workers (and/or new bounds MIN:MAX) and show its status."""
    if bounds is not None and not isinstance(bounds, tuple):
        raise CommandError("INVALID_ARGUMENT", f"--workers takes the job's new bounds MIN:MAX, got {bounds}")
    if workers is None and bounds is None:
        raise CommandError("INVALID_ARGUMENT", "give N (the job's new number of workers), --workers MIN:MAX, or both")
    connection, output = configs(server, state_dir, connect_timeout, as_json)
    with open_connection(connection) as api:
        job = job_json(api.scale(job_id, workers, bounds))
    if output.json:
        print_json(job)
    else:
        click.echo(job_summary(job))


COMMANDS = (scale,)
