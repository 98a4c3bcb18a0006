"""What every command shares: the connection options, the error report, the connection itself.

``connection_options`` adds --server, --state-dir, --connect-timeout, --token-file,
--tls-ca and --json; ``reports_errors`` turns a failure into ``error: <CODE>: <details>``
and exit 1 (with a note when a refused data set path exists only on this machine; an
interrupt into 130, a signal N into 128 + N). client.cli and the command modules
beside it (client.commands.model) build their commands from these.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import traceback
from typing import Any

import click

from client.connection.config import ConnectionConfig, OutputConfig, build_connection, build_output
from client.connection.hints import local_path_hint
from client.connection.session import connect
from client.errors import CommandError
from formats.extras import MissingExtra


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: unwind like Ctrl-C so the embedded server is stopped."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def raise_terminated(signum: int, frame: Any) -> None:
    """Signal handler for SIGTERM/SIGHUP: raise Terminated on the main thread."""
    raise Terminated(signum)


def note(message: str) -> None:
    """Print a one-line note on stderr."""
    click.echo(message, err=True)


def print_json(obj: Any) -> None:
    """Print ``obj`` as one indented JSON document on stdout (no NaN)."""
    click.echo(json.dumps(obj, indent=2, allow_nan=False))


def reports_errors(command):
    """Run a command body, turning failures into ``error: CODE: details`` + exit 1 and interrupts into 130."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except CommandError as error:
            note(f"error: {error.code}: {error.details}")
            params = click.get_current_context().params
            hint = local_path_hint(error.code, params.get("dataset"), params.get("server"))
            if hint:
                note(hint)
            sys.exit(1)
        except KeyboardInterrupt as interrupt:
            note("interrupted")
            sys.exit(128 + interrupt.signum if isinstance(interrupt, Terminated) else 130)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except MissingExtra as error:  # e.g. --plot without matplotlib
            note(f"error: FAILED_PRECONDITION: {error}")
            sys.exit(1)
        except Exception as error:  # a bug: say so in one line, the traceback only on request
            if os.environ.get("DESCENT_DEBUG"):
                traceback.print_exc()
            note(f"error: INTERNAL: {type(error).__name__}: {error}")
            sys.exit(1)

    return run


def _remember(ctx: click.Context, param: click.Parameter, value):
    """Keep an option for ``configs`` without adding a parameter to every command."""
    ctx.meta[f"descent.{param.name}"] = value
    return value


def connection_options(command):
    """Add --server, --state-dir, --connect-timeout, --token-file, --tls-ca and --json to a command."""
    command = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")(command)
    command = click.option(
        "--tls-ca",
        type=click.Path(dir_okay=False),
        envvar="DESCENT_TLS_CA",
        show_envvar=True,
        expose_value=False,
        callback=_remember,
        help="PEM CA that signed the server's certificate: talk TLS to --server.",
    )(command)
    command = click.option(
        "--token-file",
        type=click.Path(dir_okay=False),
        envvar="DESCENT_TOKEN_FILE",
        show_envvar=True,
        expose_value=False,
        callback=_remember,
        help="File holding the server's bearer token (else $DESCENT_TOKEN, else a local server's STATE_DIR/server.token).",
    )(command)
    command = click.option(
        "--connect-timeout",
        type=click.FloatRange(min=0, min_open=True),
        default=5.0,
        show_default=True,
        envvar="DESCENT_CONNECT_TIMEOUT",
        show_envvar=True,
        help="Seconds to wait for the server to answer.",
    )(command)
    command = click.option(
        "--state-dir",
        type=click.Path(file_okay=False),
        help="State directory of the embedded server (not with --server).",
    )(command)
    command = click.option(
        "--server",
        metavar="HOST:PORT",
        envvar="DESCENT_SERVER",
        show_envvar=True,
        help="A running descent server. Without it the command starts a local one (Ray) for its duration.",
    )(command)
    return command


def configs(server: str | None, state_dir: str | None, connect_timeout: float, as_json: bool) -> tuple[ConnectionConfig, OutputConfig]:
    """The connection and output configs of a command's options (a bad combination is a usage error)."""
    try:
        meta = click.get_current_context().meta
        connection = build_connection(
            server, state_dir, connect_timeout, os.environ, meta.get("descent.token_file"), meta.get("descent.tls_ca")
        )
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    return connection, build_output(as_json, sys.stderr.isatty())


def open_connection(connection: ConnectionConfig):
    """A context manager yielding a TrainerApi (starting an embedded server when none is configured)."""
    if connection.embedded and sys.stderr.isatty():
        note("starting a local server (Ray) …")
    return connect(connection, note)
