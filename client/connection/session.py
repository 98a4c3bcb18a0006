"""Connect a command to its server: the one configured, or an embedded one started for it."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator

from client.connection.config import ConnectionConfig
from client.connection.embedded import EmbeddedConfig, EmbeddedServer
from client.connection.launch import server_argv, server_env
from client.rpc.api import TrainerApi, open_api


def embedded_config(config: ConnectionConfig, token: str = "") -> EmbeddedConfig:
    """The embedded server for ``config``: loopback, a free port, announcing its address, with ``token``.

    It reads data sets where this command runs (relative paths from its working directory,
    absolute ones anywhere this user can): it runs as this user, on this machine. It stops
    (checkpointing its jobs) if this command dies without stopping it.
    """
    command = server_argv(
        "127.0.0.1", 0, state_dir=config.state_dir, announce=True, data_roots=[os.getcwd(), "/"], parent_pid=os.getpid()
    )
    env = server_env(os.environ)
    env.pop("DESCENT_TOKEN_FILE", None)
    env["DESCENT_TOKEN"] = token
    return EmbeddedConfig(
        command=tuple(command),
        env=env,
        start_timeout=config.start_timeout,
        stop_timeout=config.stop_timeout,
    )


@contextlib.contextmanager
def connect(config: ConnectionConfig, notify: Callable[[str], None]) -> Iterator[TrainerApi]:
    """Yield a ready ``TrainerApi``; with no server configured, run an embedded one meanwhile.

    ``notify`` receives one-line notes meant for stderr (a kept server log, say).
    The channel is closed before the embedded server is stopped.
    """
    if config.server is not None:
        with open_api(config.server, config.connect_timeout, config.token, config.tls_ca) as api:
            yield api
        return
    token = secrets.token_urlsafe(32)  # fresh for every embedded server: only this command can use it
    server = EmbeddedServer(embedded_config(config, token))
    try:
        with server as address:
            with open_api(address, config.connect_timeout, token) as api:
                yield api
    finally:
        if server.address is not None and server.log_dir is not None and server.returncode not in (None, 0):
            notify(f"note: the local server exited with code {server.returncode}; its logs are in {server.log_dir}")
