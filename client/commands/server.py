"""``descent cluster``, ``serve`` and ``tensorboard``: look at the cluster, run a long-lived server,
or run TensorBoard on a server's event files.

Registered on the ``descent`` group by client.cli.
"""

from __future__ import annotations

import os
import sys

import click

from client.commands.kit import configs as _configs
from client.commands.kit import connection_options, reports_errors
from client.commands.kit import open_connection as _connect
from client.commands.kit import print_json as _print_json
from client.connection.launch import server_argv, server_env
from client.errors import CommandError
from client.output.render import cluster_json
from client.output.text import cluster_report
from client.rpc.channel import default_state_dir


@click.command()
@connection_options
@reports_errors
def cluster(server, state_dir, connect_timeout, as_json):
    """Show the Ray cluster: nodes, CPUs and the active workers of each job."""
    connection, output = _configs(server, state_dir, connect_timeout, as_json)
    with _connect(connection) as api:
        info = cluster_json(api.cluster())
    if output.json:
        _print_json(info)
    else:
        click.echo(cluster_report(info))


@click.command(context_settings={"ignore_unknown_options": True})
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0: every interface; the token guards it)."
)
@click.option("--port", type=click.IntRange(0, 65535), default=50051, show_default=True, help="Port (0 picks a free one).")
@click.option("--state-dir", type=click.Path(file_okay=False), help="Where the server keeps job state.  [server default]")
@click.option("--ray-address", help="Join this Ray cluster instead of starting a local one.")
@click.option("--num-cpus", type=click.IntRange(min=1), help="CPUs of a locally started Ray.")
@click.option(
    "--data-root", "data_roots", multiple=True, type=click.Path(file_okay=False),
    help="Directory data sets are read from (repeatable).  [default: $DESCENT_DATA_ROOTS, else the working directory]",
)
@click.option(
    "--token-file", type=click.Path(dir_okay=False),
    help="Bearer token clients and workers must send.  [default: $DESCENT_TOKEN, else a fresh one in STATE_DIR/server.token]",
)
@click.option("--tls-cert", type=click.Path(dir_okay=False), help="PEM certificate: serve TLS only (with --tls-key).")
@click.option("--tls-key", type=click.Path(dir_okay=False), help="PEM private key of --tls-cert.")
@click.argument("server_options", nargs=-1, type=click.UNPROCESSED)
@reports_errors
def serve(host, port, state_dir, ray_address, num_cpus, data_roots, token_file, tls_cert, tls_key, server_options):
    """Run a long-lived server (replaces this process with `python -m server`).

    Every call must carry the server's bearer token. Other options go to the server as they
    are: the limits (--max-request-memory, --max-request-flops, --max-job-flops, --max-jobs,
    --max-analyses, --max-analyses-per-client, --max-workers-per-job, --max-steps,
    --max-classes, --max-streams, --max-worker-streams), --tls-ca,
    --advertise-address; `python -m server --help` lists them.
    """
    argv = server_argv(
        host, port, state_dir=state_dir, ray_address=ray_address, num_cpus=num_cpus, data_roots=list(data_roots),
        token_file=token_file, tls_cert=tls_cert, tls_key=tls_key,
    ) + list(server_options)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(sys.executable, argv, server_env(os.environ))
    except OSError as error:
        raise CommandError("UNAVAILABLE", f"cannot run the server ({' '.join(argv)}): {error}") from None


@click.command()
@click.option("--state-dir", type=click.Path(file_okay=False),
              help="The server's state directory (its jobs' events are in STATE_DIR/tensorboard).  [server default]")
@click.option("--logdir", type=click.Path(file_okay=False), help="A folder of event files instead (a copy, a volume).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface TensorBoard listens on.")
@click.option("--port", type=click.IntRange(0, 65535), default=6006, show_default=True, help="TensorBoard's port (0: a free one).")
@reports_errors
def tensorboard(state_dir, logdir, host, port):
    """Run TensorBoard on every job's event files (replaces this process with `python -m tensorboard.main`).

    Each job is one run: batch loss (raw and smoothed), validation accuracy, effective learning
    rate, staleness, histograms of W, the learned templates, and its hyperparameters (HParams).
    """
    if logdir is None:
        logdir = os.path.join(state_dir or str(default_state_dir(os.environ)), "tensorboard")
    if not os.path.isdir(logdir):
        raise CommandError("NOT_FOUND", f"no event files at {logdir} (has a job run with this state directory?)")
    argv = [sys.executable, "-m", "tensorboard.main", "--logdir", logdir, "--host", host, "--port", str(port)]
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(sys.executable, argv)
    except OSError as error:
        raise CommandError("UNAVAILABLE", f"cannot run TensorBoard ({' '.join(argv)}): {error}") from None


COMMANDS = (cluster, serve, tensorboard)
