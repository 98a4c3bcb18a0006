"""How to run the server program: its command line and environment.

The client never imports ``server``; it runs it as a program
(``python -m server ...``), either as an embedded subprocess or by replacing
itself with it (``descent serve``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path


def server_argv(
    host: str,
    port: int,
    *,
    state_dir: str | None = None,
    ray_address: str | None = None,
    num_cpus: int | None = None,
    announce: bool = False,
    data_roots: list[str] | None = None,
    token_file: str | None = None,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    parent_pid: int | None = None,
) -> list[str]:
    """Return the argv of ``python -m server`` with the given flags (unset ones omitted)."""
    argv = [sys.executable, "-m", "server", "--host", host, "--port", str(port)]
    if state_dir is not None:
        argv += ["--state-dir", state_dir]
    if ray_address is not None:
        argv += ["--ray-address", ray_address]
    if num_cpus is not None:
        argv += ["--num-cpus", str(num_cpus)]
    for root in data_roots or ():
        argv += ["--data-root", root]
    for flag, value in (("--token-file", token_file), ("--tls-cert", tls_cert), ("--tls-key", tls_key)):
        if value is not None:
            argv += [flag, value]
    if announce:
        argv.append("--announce")
    if parent_pid is not None:
        argv += ["--exit-with-parent", str(parent_pid)]
    return argv


def server_env(base: Mapping[str, str]) -> dict[str, str]:
    """Return ``base`` with the directory holding this client's packages first on PYTHONPATH.

    So ``python -m server`` finds the server installed (or checked out) next to
    this client even when the command runs from another directory. Output is
    unbuffered so the server's log is complete if it dies.
    """
    root = str(Path(__file__).resolve().parents[2])  # client/connection/launch.py → the folder holding client/
    env = dict(base)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in paths:
        paths.insert(0, root)
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    return env
