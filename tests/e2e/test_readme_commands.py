"""Every command in the README runs as written, or is listed here with the reason it is not.

The README's fenced shell blocks (```sh, ```bash, ```shell) are read line by line; each
line that is not blank or a comment is one command (a trailing `  # comment` is not part of
it). A command in RUN is run as a real process, `bash -c COMMAND`, from a scratch directory,
with this checkout's venv first on PATH and a fresh state directory, and must exit 0. A
command in NOT_RUN is deliberately skipped, for the reason given (it needs Docker, a running
server, a job id, or minutes). A fenced command in neither list fails the test, and so does
an entry of either list that the README no longer has: adding a command to the README means
deciding here whether it is run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
VENV_BIN = Path(sys.executable).parent  # the venv running the tests, not resolved: its bin/ holds `descent`

# command -> seconds it may take
RUN = {
    "descent --help": 60,
    "descent --version": 60,
    "descent train --help": 60,
    "python -m server --help": 60,
    # Quick real runs, each with its own embedded server and local Ray.
    "descent gradcheck --dataset digits": 240,
    "descent sweep --dataset digits": 240,
}

NEEDS_JOB = "needs the id of a job trained earlier (JOB is a placeholder)"
NEEDS_SERVER = "needs a running `descent serve` (or the compose cluster)"
NEEDS_DOCKER = "needs a Docker engine and Compose v2, and builds the image (minutes)"
NOT_RUN = {
    "make demo": "builds the venv and trains: the venv running this test is what it builds",
    "make test": "runs the whole suite, this test included",
    "make test-fast": "runs the unit tests: part of the suite already",
    "make lint": "ruff over the whole tree: CI runs it (make lint in .ci/run)",
    ". .venv/bin/activate": "changes the calling shell only; this test puts the venv on PATH itself",
    "descent train --dataset digits": "a training job (covered by tests/e2e/test_cli_e2e.py); kept out to keep this test short",
    "descent train --dataset digits --optimizer momentum --steps 1000": "a training job (update rules: tests/e2e/test_update_rules_e2e.py)",
    "descent status JOB": NEEDS_JOB,
    "descent watch JOB": NEEDS_JOB,
    "descent jobs": "lists the jobs of the user's state directory (covered by tests/e2e/test_cli_e2e.py)",
    "descent gradcheck --dataset digits --full --h 1e-3,1e-5,1e-7":
        "a full check at three step sizes (covered by tests/e2e/test_gradcheck_e2e.py)",
    "descent landscape --dataset digits --examples 1": "draws a 41 x 41 plane (covered by tests/e2e/test_notes_e2e.py)",
    "descent minibatch --dataset digits": "times 16 batch sizes (covered by tests/e2e/test_notes_e2e.py)",
    "descent curve JOB": NEEDS_JOB,
    "descent templates JOB": NEEDS_JOB,
    "descent export JOB --out model.npz --test-split test.npz": NEEDS_JOB,
    "descent predict model.npz test.npz": "needs the model file the export above writes (covered by tests/e2e/test_model_e2e.py)",
    "descent evaluate JOB": NEEDS_JOB,
    "descent tune --dataset digits --trials 16": "31 training jobs, about a minute (covered by tests/e2e/test_tune_e2e.py)",
    "descent serve --port 50051 --data-root ./data": "a long-running server: it does not exit",
    "descent cluster --server localhost:50051": NEEDS_SERVER,
    "docker version": "needs a Docker engine",
    "docker compose version": "needs Docker's Compose v2 plugin",
    "docker compose up -d --wait": NEEDS_DOCKER,
    "export DESCENT_SERVER=localhost:50051": "configures the shell for the compose cluster's commands that follow",
    "export DESCENT_TOKEN=$(docker compose exec -T server cat /auth/token)": NEEDS_DOCKER,
    "descent cluster": "talks to the compose cluster the block above starts (DESCENT_SERVER)",
    "docker compose down": NEEDS_DOCKER,
}


def fenced_commands(text: str) -> list[str]:
    """The commands of the text's fenced shell blocks, in order, comments and blank lines left out."""
    commands = []
    for block in re.findall(r"^```(?:sh|bash|shell)[ \t]*\n(.*?)^```", text, re.S | re.M):
        for line in block.splitlines():
            command = re.sub(r"\s+#.*$", "", line).strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


COMMANDS = fenced_commands(README.read_text())


@pytest.mark.e2e
def test_every_fenced_command_is_either_run_or_listed_with_a_reason():
    assert COMMANDS, "no fenced shell commands found in the README"
    assert not set(RUN) & set(NOT_RUN), f"listed as both run and not run: {sorted(set(RUN) & set(NOT_RUN))}"
    unlisted = [c for c in COMMANDS if c not in RUN and c not in NOT_RUN]
    assert not unlisted, f"README commands neither run nor listed in NOT_RUN (with a reason): {unlisted}"
    stale = sorted((set(RUN) | set(NOT_RUN)) - set(COMMANDS))
    assert not stale, f"listed here but no longer in the README: {stale}"


@pytest.mark.e2e
@pytest.mark.parametrize("command", [c for c in RUN if c in COMMANDS])
def test_readme_command_runs_as_written(command, tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DESCENT_SERVER", "DESCENT_TOKEN", "DESCENT_TOKEN_FILE", "DESCENT_TLS_CA")}
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(ROOT),  # `python -m server` is this checkout's, from any directory
        DESCENT_STATE_DIR=str(tmp_path / "state"),  # never the user's own job history
    )
    done = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=RUN[command])
    assert done.returncode == 0, (
        f"`{command}` exited {done.returncode}\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
    )
    assert done.stdout.strip(), f"`{command}` printed nothing"
