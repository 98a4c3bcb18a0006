"""docs/python-api.md's Python blocks run as written, top to bottom, in one fresh interpreter (an
embedded server of its own), and leave nothing running."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

from tests.e2e.test_python_api_e2e import still_running

DOC = Path(__file__).resolve().parents[2] / "docs" / "python-api.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python[ \t]*\n(.*?)^```", text, re.S | re.M)


def test_the_python_api_page_runs_as_written(tmp_path):
    blocks = python_blocks(DOC.read_text())
    assert len(blocks) >= 6
    marker = uuid.uuid4().hex
    env = {**os.environ, "DESCENT_TEST_MARK": marker, "DESCENT_STATE_DIR": str(tmp_path / "state")}
    script = "\n\n".join(blocks)
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "SUCCEEDED" in done.stdout and "INVALID_ARGUMENT" in done.stdout and "NOT_FOUND" in done.stdout
    assert (tmp_path / "curve.png").is_file() and (tmp_path / "digits-model.npz").is_file()
    left = still_running(f"DESCENT_TEST_MARK={marker}")
    assert not left, f"still running after the page's code: {left}"
