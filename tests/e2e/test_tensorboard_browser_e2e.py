"""TensorBoard in a real browser: ``descent tensorboard`` on the event files of a real digits job,
and a headless Chromium (Debian's ``chromium`` package; .ci/run installs it) screenshot of its
scalars page. The screenshot must be a real page (not blank) of the requested size; set
DESCENT_SCREENSHOT_DIR to keep a copy to look at.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

import descent

WIDTH, HEIGHT = 1400, 1000
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", f"--window-size={WIDTH},{HEIGHT}", "--virtual-time-budget=20000"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, process: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "descent tensorboard exited"
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"TensorBoard did not answer at {url}")


def test_the_scalars_page_of_a_digits_job_in_headless_chromium(server, tmp_path):
    chromium = shutil.which("chromium")
    assert chromium, "the browser test needs Debian's chromium package (apt-get install -y chromium), as .ci/run installs"
    with descent.connect(server.address, token=server.token) as session:
        job = session.train(dataset="digits", steps=2000, workers=2)
        job.wait(progress=False)
    logdir = server.state_dir / "tensorboard" / job.id
    deadline = time.monotonic() + 60
    while not any(p.stat().st_size > 2000 for p in logdir.glob("events.out.tfevents.*")) and time.monotonic() < deadline:
        time.sleep(0.5)
    port = free_port()
    board = subprocess.Popen([sys.executable, "-m", "client", "tensorboard", "--logdir", str(logdir), "--port", str(port)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                             cwd=Path(__file__).resolve().parents[2])
    try:
        wait_http(f"http://127.0.0.1:{port}/data/runs", board)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/plugin/scalars/tags", timeout=10) as answer:
            assert b"loss/batch" in answer.read()
        shot = tmp_path / "scalars.png"
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}",
                            f"http://127.0.0.1:{port}/#scalars&tagFilter=loss"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=180, check=False)
    finally:
        os.killpg(board.pid, signal.SIGTERM)
        board.wait(timeout=30)
    assert shot.is_file(), "chromium wrote no screenshot"
    picture = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert picture.shape == (HEIGHT, WIDTH)
    assert picture.std() > 10, "the screenshot is blank"
    if os.environ.get("DESCENT_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(os.environ["DESCENT_SCREENSHOT_DIR"]) / "tensorboard-scalars.png")
