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

from client.api import TrainerApi, gradcheck_request, job_spec
from client.command_kit import configs as _configs
from client.command_kit import connection_options, raise_terminated, reports_errors
from client.command_kit import note as _note
from client.command_kit import open_connection as _connect
from client.command_kit import print_json as _print_json
from client.config import OutputConfig
from client.errors import CommandError
from client.launch import server_argv, server_env
from client.model_commands import COMMANDS as MODEL_COMMANDS
from client.plot import save_sweep_plot
from client.progress import follow, follow_check
from client.render import cluster_json, gradcheck_json, job_json, state_name, sweep_json, weights_json
from client.text import cluster_report, gradcheck_report, job_summary, jobs_table, sweep_report, weights_report
from client.atomic_file import save_array
from proto import descent_pb2



class WireInt(click.ParamType):
    """An integer that fits its protocol field (int32 or int64); range checks beyond that are the server's."""

    name = "integer"

    def __init__(self, bits: int) -> None:
        self.low, self.high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def convert(self, value, param, ctx):
        number = click.INT.convert(value, param, ctx)
        if not self.low <= number <= self.high:
            self.fail(f"{number} does not fit in the protocol's {self.high.bit_length() + 1}-bit field", param, ctx)
        return number


INT32 = WireInt(32)
INT64 = WireInt(64)


class FloatList(click.ParamType):
    """One float or several separated by commas: ``1e-5`` or ``1e-3,1e-5,1e-7``."""

    name = "float[,float...]"

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        try:
            numbers = [float(part) for part in str(value).split(",") if part.strip()]
        except ValueError:
            self.fail(f"{value!r} is not a comma-separated list of numbers", param, ctx)
        if not numbers:
            self.fail("give at least one number", param, ctx)
        return numbers


FLOATS = FloatList()
DATASET_HELP = "digits | mnist:DIR | cifar10:DIR | npz:FILE | synthetic:N,D,C (DIR/FILE on the server)  [server default: digits]"


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
def cli() -> None:
    """Distributed mini-batch training of multiclass linear SVMs (CS231n optimization notes).

    Without --server (or DESCENT_SERVER) each command starts a local server with
    Ray for its own duration; `descent serve` runs a long-lived one.
    """


@cli.command()
@click.option("--dataset", metavar="SPEC", help=DATASET_HELP)
@click.option("--workers", type=INT32, help="Ray worker actors.  [server default: 2]")
@click.option("--batch-size", type=INT32, help="Examples per mini-batch.  [server default: 256]")
@click.option("--steps", type=INT64, help="Updates to apply, summed over all workers.  [server default]")
@click.option("--lr", type=float, help="Step size (learning rate).  [server default]")
@click.option("--reg", type=float, help="L2 regularization strength.  [server default]")
@click.option("--seed", type=INT64, help="Seed for W and batch sampling.  [server default]")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), help="Training dtype.  [server default]")
@click.option("--init-scale", type=float, help="Initial W = init_scale * randn.  [server default]")
@click.option(
    "--gradient",
    type=click.Choice(["analytic", "numerical"]),
    help="numerical: each step computes the full numerical gradient over the cluster (slow, for the record).  "
    "[server default: analytic]",
)
@click.option(
    "--numerical-method",
    type=click.Choice(["incremental", "brute"]),
    help="How --gradient numerical evaluates f(W ± h e).  [server default: incremental]",
)
@click.option("--check-gradient", is_flag=True, help="Check the gradient on the first batch first; refuse to train if it fails.")
@click.option("--detach", is_flag=True, help="Print the job id and return (needs --server).")
@connection_options
@reports_errors
def train(
    dataset, workers, batch_size, steps, lr, reg, seed, dtype, init_scale, gradient, numerical_method, check_gradient,
    detach, server, state_dir, connect_timeout, as_json,
):
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
    spec = job_spec(
        dataset, workers=workers, batch_size=batch_size, steps=steps, lr=lr, reg=reg, seed=seed, dtype=dtype,
        init_scale=init_scale, gradient=gradient, numerical_method=numerical_method, check_gradient=check_gradient or None,
    )
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
    """Show the status of job JOB."""
    connection, output = _configs(server, state_dir, connect_timeout, as_json)
    with _connect(connection) as api:
        job = job_json(api.get(job_id))
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


@cli.command()
@click.option("--dataset", metavar="SPEC", help=DATASET_HELP)
@click.option("--job", "job_id", metavar="JOB", help="Check at this job's current (or final) W, on its data set.")
@click.option("--checks", type=INT32, help="Random coordinates of W to check.  [server default: 20]")
@click.option("--full", is_flag=True, help="Check every coordinate of W, in chunks over the cluster.")
@click.option(
    "--h",
    "h",
    type=FLOATS,
    help="Finite-difference step; several (1e-3,1e-5,1e-7) print the error vs h, forward and centered side by side.  "
    "[server default: 1e-5]",
)
@click.option("--formula", type=click.Choice(["centered", "forward"]), help="Difference formula.  [server default: centered]")
@click.option(
    "--method",
    type=click.Choice(["incremental", "brute"]),
    help="incremental: update only the scores that move, O(N) per coordinate; brute: evaluate the whole loss again.  "
    "[server default: incremental]",
)
@click.option("--seed", type=INT64, help="Seed for W, the examples and the coordinates.  [server default]")
@click.option("--reg", type=float, help="L2 regularization strength.  [server default; the job's with --job]")
@click.option("--batch-size", type=INT32, help="Examples in the loss.  [server default: 256]")
@click.option("--init-scale", type=float, help="W = init_scale * randn.  [server default]")
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


@cli.command()
@click.option("--dataset", metavar="SPEC", help=DATASET_HELP)
@click.option("--job", "job_id", metavar="JOB", help="Sweep from this job's current (or final) W, on its data set.")
@click.option("--from", "step_min", type=float, help="Smallest step size of a log-spaced range.  [1e-10]")
@click.option("--to", "step_max", type=float, help="Largest step size of the range.  [1e3]")
@click.option("--points", type=INT32, help="Step sizes in the range, log-spaced.  [one per decade]")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="Write loss vs step size to this PNG file.")
@click.option("--seed", type=INT64, help="Seed for W and the examples.  [server default]")
@click.option("--reg", type=float, help="L2 regularization strength.  [server default; the job's with --job]")
@click.option("--init-scale", type=float, help="W = init_scale * randn.  [server default: 0.001]")
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


@cli.command()
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


@cli.command(context_settings={"ignore_unknown_options": True})
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
    are: the limits (--max-request-memory, --max-jobs, --max-analyses, --max-workers-per-job,
    --max-steps, --max-classes, --max-streams, --max-worker-streams), --tls-ca,
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


for _command in MODEL_COMMANDS:  # export, predict, evaluate: client/model_commands.py
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
