"""Frozen configuration for one command, built at the entry point from flags and env vars.

Environment variables read here (flags win over them):

* ``DESCENT_SERVER`` — address of a running server (click reads it for ``--server``);
* ``DESCENT_CONNECT_TIMEOUT`` — seconds to wait for a server to answer (``--connect-timeout``);
* ``DESCENT_START_TIMEOUT`` — seconds to wait for an embedded server to announce itself;
* ``DESCENT_STOP_TIMEOUT`` — seconds to wait for it to stop after SIGTERM before SIGKILL;
* ``DESCENT_TOKEN`` / ``DESCENT_TOKEN_FILE`` and ``DESCENT_TLS_CA`` — the server's bearer token
  and the CA that signed its certificate (``client.rpc.channel``; an embedded server gets a fresh
  token of its own and speaks plaintext on loopback).

``DESCENT_STATE_DIR`` and ``DESCENT_RAY_ADDRESS`` are read by the server itself
(an embedded server inherits the environment).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from client.rpc.channel import read_ca, read_token

#: Port of ``descent serve`` when an address names only a host.
DEFAULT_PORT = 50051


@dataclass(frozen=True)
class ConnectionConfig:
    """Where a command's server is: a running one (``server``) or an embedded one."""

    server: str | None  # HOST:PORT of a running server; None starts an embedded one
    state_dir: str | None  # --state-dir for the embedded server (absolute), else None
    connect_timeout: float  # seconds for the channel to become ready
    start_timeout: float  # seconds for an embedded server to announce its address
    stop_timeout: float  # seconds between SIGTERM and SIGKILL for an embedded server
    token: str | None = None  # bearer token of the running server (an embedded one makes its own)
    tls_ca: bytes | None = None  # PEM CA of the running server's certificate; None: plaintext

    @property
    def embedded(self) -> bool:
        """True when the command starts its own server."""
        return self.server is None


@dataclass(frozen=True)
class OutputConfig:
    """How a command reports: one JSON document, or text plus an optional progress bar."""

    json: bool
    progress: bool  # draw a tqdm bar on stderr (never with --json, only on a TTY)


def normalize_address(address: str) -> str:
    """Return ``address`` as a gRPC target, adding the default port to a bare host name.

    ``"node1"`` becomes ``"node1:50051"``; anything with a colon (``host:port``,
    ``[::1]:50051``, ``dns:///host:port``, ``unix:/path``) is used as is.
    """
    address = address.strip()
    if ":" not in address:
        return f"{address}:{DEFAULT_PORT}"
    return address


def _env_seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number of seconds") from None
    if not value > 0:
        raise ValueError(f"{name}={raw!r} must be a positive number of seconds")
    return value


def build_connection(
    server: str | None,
    state_dir: str | None,
    connect_timeout: float,
    env: Mapping[str, str],
    token_file: str | None = None,
    tls_ca: str | None = None,
) -> ConnectionConfig:
    """Build the connection config from the command's flags and ``env``.

    Raises ValueError for contradictory or malformed settings (the CLI turns it
    into a usage error): ``--state-dir`` only configures an embedded server.
    """
    server = normalize_address(server) if server and server.strip() else None
    if server is not None and state_dir is not None:
        raise ValueError(
            f"--state-dir configures the embedded server only; the server at {server} has its own state directory"
        )
    tls_ca = tls_ca or env.get("DESCENT_TLS_CA") or None
    if server is None and tls_ca:
        raise ValueError("--tls-ca is for a running server (--server); an embedded server speaks plaintext on loopback")
    return ConnectionConfig(
        server=server,
        state_dir=os.path.abspath(state_dir) if state_dir is not None else None,
        connect_timeout=connect_timeout,
        start_timeout=_env_seconds(env, "DESCENT_START_TIMEOUT", 120.0),
        stop_timeout=_env_seconds(env, "DESCENT_STOP_TIMEOUT", 30.0),
        token=read_token(token_file or env.get("DESCENT_TOKEN_FILE"), env) if server is not None else None,
        tls_ca=read_ca(tls_ca),
    )


def build_output(as_json: bool, stderr_is_tty: bool) -> OutputConfig:
    """Build the output config: a progress bar only for humans at a terminal."""
    return OutputConfig(json=as_json, progress=stderr_is_tty and not as_json)
