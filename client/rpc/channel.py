"""How the client reaches a server: its bearer token, TLS, and the channel that carries both.

Every call carries ``authorization: Bearer <token>`` (added by a channel interceptor).
The token comes from ``--token-file`` (or ``DESCENT_TOKEN_FILE``), else ``DESCENT_TOKEN``,
else the token file a local ``descent serve`` wrote into its state directory
(``$DESCENT_STATE_DIR/server.token``, by default under ``~/.local/state/descent``).
With ``--tls-ca`` (or ``DESCENT_TLS_CA``) the channel is TLS, verified against that CA.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
from pathlib import Path

import grpc

from proto.limits import GRPC_OPTIONS

#: The file ``descent serve`` writes its generated token to, inside its state directory.
SERVER_TOKEN_FILE = "server.token"


def default_state_dir(env: Mapping[str, str]) -> Path:
    """Where a local server keeps its state: ``$DESCENT_STATE_DIR``, ``$XDG_STATE_HOME/descent``, ``~/.local/state/descent``."""
    if env.get("DESCENT_STATE_DIR"):
        return Path(env["DESCENT_STATE_DIR"])
    base = env.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "descent"


def read_token(token_file: str | None, env: Mapping[str, str]) -> str | None:
    """The token to send (see the module docstring), or None when there is none; ValueError for an unreadable file."""
    if token_file:
        try:
            token = Path(token_file).expanduser().read_text().strip()
        except OSError as error:
            raise ValueError(f"cannot read the token file {token_file}: {error.strerror or error}") from None
        if not token:
            raise ValueError(f"the token file {token_file} is empty")
        return token
    if env.get("DESCENT_TOKEN", "").strip():
        return env["DESCENT_TOKEN"].strip()
    local = default_state_dir(env) / SERVER_TOKEN_FILE
    try:
        return local.read_text().strip() or None
    except OSError:
        return None


def read_ca(tls_ca: str | None) -> bytes | None:
    """The PEM bytes of ``--tls-ca``, or None for plaintext; ValueError for an unreadable file."""
    if not tls_ca:
        return None
    try:
        return Path(tls_ca).expanduser().read_bytes()
    except OSError as error:
        raise ValueError(f"cannot read the TLS CA file {tls_ca}: {error.strerror or error}") from None


class _Details(
    collections.namedtuple("_Details", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")),
    grpc.ClientCallDetails,
):
    pass


class _Bearer(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds ``authorization: Bearer <token>`` to every call."""

    def __init__(self, token: str):
        self._header = ("authorization", f"Bearer {token}")

    def _with_token(self, details: grpc.ClientCallDetails) -> _Details:
        metadata = [*(details.metadata or ()), self._header]
        return _Details(
            details.method, details.timeout, metadata, details.credentials,
            getattr(details, "wait_for_ready", None), getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._with_token(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._with_token(details), request)

    def intercept_stream_unary(self, continuation, details, requests):
        return continuation(self._with_token(details), requests)

    def intercept_stream_stream(self, continuation, details, requests):
        return continuation(self._with_token(details), requests)


def open_channel(address: str, token: str | None = None, tls_ca: bytes | None = None) -> grpc.Channel:
    """A channel to ``address`` (TLS verified against ``tls_ca`` when given) whose calls carry ``token``."""
    if tls_ca is not None:
        channel = grpc.secure_channel(address, grpc.ssl_channel_credentials(root_certificates=tls_ca), options=GRPC_OPTIONS)
    else:
        channel = grpc.insecure_channel(address, options=GRPC_OPTIONS)
    return grpc.intercept_channel(channel, _Bearer(token)) if token else channel
