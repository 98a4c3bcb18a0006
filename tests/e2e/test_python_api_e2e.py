"""The Python API's acceptance line, run as a user runs it: ``descent.connect()`` with no server
starts an embedded one (and Ray), a digits job trains to ≈ 0.97, and when the interpreter exits
(the session never closed: the atexit hook stops it) nothing it started is left running.

"Nothing left" is checked by a marker in the environment: every process the session starts (the
server, Ray's GCS, raylet and workers) inherits it, so none may carry it once the line is done.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINE = "import descent; s = descent.connect(); j = s.train(dataset='digits'); print(j.wait().test_accuracy)"


def carrying(marker: str) -> list[int]:
    """The pids of live processes whose environment holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:  # gone, or not ours to read
            continue
    return found


def still_running(marker: str, grace: float = 30.0) -> list[str]:
    """The command lines of processes still carrying ``marker`` after ``grace`` seconds (Ray's last ones take a moment)."""
    deadline = time.monotonic() + grace
    while carrying(marker) and time.monotonic() < deadline:
        time.sleep(0.5)
    lines = []
    for pid in carrying(marker):
        try:
            lines.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:120].decode(errors="replace"))
        except OSError:
            continue
    return lines


def test_the_one_liner_trains_digits_and_leaves_nothing_running(tmp_path):
    marker = f"DESCENT_TEST_MARK={uuid.uuid4().hex}"
    name, value = marker.split("=")
    env = {**os.environ, name: value, "DESCENT_STATE_DIR": str(tmp_path / "state")}
    done = subprocess.run([sys.executable, "-c", LINE], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    accuracy = float(done.stdout.strip().splitlines()[-1])
    assert 0.94 <= accuracy <= 1.0, done.stdout
    left = still_running(marker)
    assert not left, f"processes of the session still running: {left}"
