"""The ``descent`` command: train, inspect and check linear SVMs on a descent server.

Every command but ``serve`` talks to the server named by ``--server`` /
``DESCENT_SERVER``, or else starts an embedded one for its own duration. Output
goes to stdout (text, or one JSON document with ``--json``); progress bars and
errors go to stderr. Failures print ``error: <CODE>: <details>`` and exit 1,
usage errors exit 2, an interrupt exits 130 (a signal N: 128 + N).
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import click

from client.commands.analysis import COMMANDS as ANALYSIS_COMMANDS
from client.commands.kit import configs as _configs
from client.commands.kit import connection_options, raise_terminated, reports_errors
from client.commands.kit import note as _note
from client.commands.kit import open_connection as _connect
from client.commands.kit import print_json as _print_json
from client.commands.model import COMMANDS as MODEL_COMMANDS
from client.commands.notes import COMMANDS as NOTES_COMMANDS
from client.commands.options import job_options
from client.commands.pictures import COMMANDS as PICTURE_COMMANDS
from client.commands.scale import COMMANDS as SCALE_COMMANDS
from client.commands.server import COMMANDS as SERVER_COMMANDS
from client.commands.tune import COMMANDS as TUNE_COMMANDS
from client.connection.config import OutputConfig
from client.errors import CommandError
from client.output.atomic_file import save_array
from client.output.progress import follow
from client.output.render import job_json, weights_json
from client.output.text import job_summary, jobs_table, weights_report
from client.rpc.api import TrainerApi
from client.rpc.requests import job_spec
from proto import descent_pb2
from proto.names import state_name


def _report_job(job: dict[str, Any], output: OutputConfig) -> None:
    if output.json:
        _print_json(job)
    else:
        click.echo(job_summary(job))


def _fail_unless_succeeded(status: descent_pb2.JobStatus) -> None:
    if status.state != descent_pb2.SUCCEEDED:
        state = state_name(status.state)
        raise CommandError(state, status.message or f"job {status.job_id} ended {state}")


@click.group()
@click.version_option(package_name="descent", prog_name="descent", message="%(prog)s %(version)s")
def cli() -> None:
    """Distributed mini-batch training of multiclass linear SVMs (CS231n optimization notes).

    Without --server (or DESCENT_SERVER) each command starts a local server with
    Ray for its own duration; `descent serve` runs a long-lived one.
    """


@cli.command()
@job_options()
@click.option("--detach", is_flag=True, help="Print the job id and return (needs --server).")
@connection_options
@reports_errors
def train(detach, server, state_dir, connect_timeout, as_json, **fields):
    """Train a linear SVM and follow it to the end.

    Options left unset are not sent: the server applies its defaults. Ctrl-C
    cancels the job. Exits 1 if the job ends FAILED or CANCELLED.

    With --gradient numerical (one worker = one chunk of W's coordinates per
    step; --workers N splits each step over N Ray tasks) the job reports the
    numerical gradient's cost per step next to the analytic one's.
    """
    connection, output = _configs(server, state_dir, connect_timeout, as_json)
    if detach and connection.embedded:
        raise click.UsageError(
            "--detach needs --server (or DESCENT_SERVER): an embedded server stops when the command returns"
        )
    spec = job_spec(**fields)
    with _connect(connection) as api:
        submitted = api.submit(spec)
        if detach:
            if output.json:
                _print_json(job_json(submitted))
            else:
                click.echo(submitted.job_id)
            return
        final = _follow_or_cancel(api, submitted, output)
    _report_job(job_json(final), output)
    _fail_unless_succeeded(final)


def _follow_or_cancel(api: TrainerApi, submitted: descent_pb2.JobStatus, output: OutputConfig) -> descent_pb2.JobStatus:
    """Follow the submitted job; on Ctrl-C cancel it on the server, then re-raise."""
    try:
        return follow(api, submitted.job_id, show_bar=output.progress, first=submitted)
    except KeyboardInterrupt:
        try:
            api.cancel(submitted.job_id, timeout=10)
            _note(f"cancelled job {submitted.job_id}")
        except CommandError as error:
            _note(f"error: {error.code}: could not cancel job {submitted.job_id}: {error.details}")
        except KeyboardInterrupt:
            pass
        raise


@cli.command()
@click.argument("job_id", metavar="JOB")
@connection_options
@reports_errors
def status(job_id, server, state_dir, connect_timeout, as_json):
    """Show the status of job JOB (with --json: its loss history and training curve too)."""
    connection, output = _configs(server, state_dir, connect_timeout, as_json)
    with _connect(connection) as api:
        job = job_json(api.get(job_id, include_history=output.json))
    _report_job(job, output)


@cli.command()
@click.argument("job_id", metavar="JOB")
@connection_options
@reports_errors
def watch(job_id, server, state_dir, connect_timeout, as_json):
    """Follow job JOB to its end (Ctrl-C stops watching; the job goes on).

    Exits 1 if the job ends FAILED or CANCELLED.
    """
    connection, output = _configs(server, state_dir, connect_timeout, as_json)
    with _connect(connection) as api:
        final = follow(api, job_id, show_bar=output.progress)
    _report_job(job_json(final), output)
    _fail_unless_succeeded(final)


@cli.command()
@click.argument("job_id", metavar="JOB")
@connection_options
@reports_errors
def cancel(job_id, server, state_dir, connect_timeout, as_json):
    """Cancel job JOB and show its status."""
    connection, output = _configs(server, state_dir, connect_timeout, as_json)
    with _connect(connection) as api:
        job = job_json(api.cancel(job_id))
    _report_job(job, output)


@cli.command()
@connection_options
@reports_errors
def jobs(server, state_dir, connect_timeout, as_json):
    """List the server's jobs."""
    connection, output = _configs(server, state_dir, connect_timeout, as_json)
    with _connect(connection) as api:
        listed = [job_json(status) for status in api.list()]
    if output.json:
        _print_json(listed)
    else:
        click.echo(jobs_table(listed))


@cli.command()
@click.argument("job_id", metavar="JOB")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="Where to write W (.npy).")
@connection_options
@reports_errors
def weights(job_id, out_path, server, state_dir, connect_timeout, as_json):
    """Download the current W of job JOB into a .npy file (written atomically)."""
    connection, output = _configs(server, state_dir, connect_timeout, as_json)
    with _connect(connection) as api:
        array, version = api.weights(job_id)
    save_array(out_path, array)
    saved = weights_json(job_id, out_path, array, version)
    if output.json:
        _print_json(saved)
    else:
        click.echo(weights_report(saved))


for _module in (ANALYSIS_COMMANDS, SERVER_COMMANDS, MODEL_COMMANDS, TUNE_COMMANDS, NOTES_COMMANDS, PICTURE_COMMANDS,
                SCALE_COMMANDS):
    for _command in _module:  # one module per group of commands (client/*_commands.py)
        cli.add_command(_command)


def main() -> None:
    """Entry point of the ``descent`` console script.

    Once the command is done — output flushed, files written, channels closed, an embedded
    server stopped — the process ends with ``os._exit``: gRPC's threads can hold up the
    interpreter's own teardown after a stream was cancelled (seen once in CI: a command
    that had printed its whole result still running 300 s later).
    """
    signal.signal(signal.SIGTERM, raise_terminated)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, raise_terminated)
    try:
        cli(prog_name="descent")
        code = 0
    except SystemExit as done:
        if done.code is None or isinstance(done.code, int):
            code = done.code or 0
        else:  # a message instead of a code: Python would print it and exit 1
            print(done.code, file=sys.stderr)
            code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
