"""The ``descent`` CLI as a user runs it, for tests: a subprocess in the repository, its JSON,
and Ray's daemons found by a mark in their environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.server_process import ROOT

MNIST = ROOT.parent / "shared" / "data" / "mnist"

# Set in a CLI run's environment; every process it starts (server, Ray's daemons) inherits it.
MARK = "DESCENT_TEST_MARK"


def descent(*args: str, state_dir: Path | None = None, timeout: float = 300, mark: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DESCENT_SERVER"}
    if state_dir is not None:
        env["DESCENT_STATE_DIR"] = str(state_dir)
    if mark:
        env[MARK] = mark
    return subprocess.run(
        [sys.executable, "-m", "client.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def as_json(result: subprocess.CompletedProcess):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def ray_processes(mark: str) -> set[int]:
    """PIDs of Ray's own daemons (raylet, gcs_server) alive now that carry ``MARK=mark`` in their
    environment: those of one CLI run, never another cluster on this shared machine."""
    pids = set()
    needle = f"{MARK}={mark}".encode()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            name, state = text[text.index("(") + 1 : text.rindex(")")], text.rsplit(")", 1)[1].split()[0]
            if name not in ("raylet", "gcs_server") or state == "Z":
                continue
            environ = (stat.parent / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if needle in environ:
            pids.add(int(stat.parent.name))
    return pids
