"""The embedded server's lifecycle, with small stand-in server programs (no Ray, no gRPC).

What is checked is the client's process handling: the announce line is read,
early exits and silence are reported with the server's stderr, SIGTERM is
sent first and SIGKILL reaches the whole process group, so nothing is orphaned.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from client.connection.config import build_connection, normalize_address
from client.connection.embedded import EmbeddedConfig, EmbeddedServer, EmbeddedServerError
from client.connection.launch import server_argv, server_env
from client.connection.session import embedded_config

SERVER = r"""
import signal, subprocess, sys, time
mode = sys.argv[1]
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])  # like Ray's processes
open(sys.argv[2], "w").write(f"{child.pid}")
print("starting Ray ...", flush=True)
if mode == "crash":
    print("boom: no Ray for you", file=sys.stderr, flush=True)
    sys.exit(3)
if mode == "silent":
    time.sleep(120)
if mode == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
else:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("descent-server listening on 127.0.0.1:43210", flush=True)
for i in range(100000):  # keep writing to stdout: the client must keep draining the pipe
    print("log line", i, "x" * 200)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _wait_dead(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture()
def fake_server(tmp_path):
    """Returns (make_config(mode, **kw), path of the file holding the grandchild's pid)."""
    script = tmp_path / "fake_server.py"
    script.write_text(SERVER)
    pid_file = tmp_path / "child.pid"

    def make(mode: str, **kwargs) -> EmbeddedConfig:
        return EmbeddedConfig(command=(sys.executable, str(script), mode, str(pid_file)), **kwargs)

    return make, pid_file


def test_reads_the_address_then_stops_the_whole_group(fake_server):
    make, pid_file = fake_server
    server = EmbeddedServer(make("ok"))
    with server as address:
        assert address == "127.0.0.1:43210"
        grandchild = int(pid_file.read_text())
        assert _alive(grandchild)
        log_dir = server.log_dir
        time.sleep(0.5)  # the fake writes ~20 MB to stdout: a full pipe would block it
    assert server.returncode == 0  # graceful: SIGTERM was enough
    assert _wait_dead(grandchild), "a process of the server's group outlived it"
    assert not log_dir.exists()  # clean exit: logs removed


def test_a_server_that_exits_early_is_reported_with_its_stderr(fake_server):
    make, _ = fake_server
    started = time.monotonic()
    server = EmbeddedServer(make("crash"))
    with pytest.raises(EmbeddedServerError) as caught:
        with server:
            pass
    assert server.log_dir is not None and str(server.log_dir) in caught.value.details  # kept, and named
    shutil.rmtree(server.log_dir)
    assert time.monotonic() - started < 10
    assert caught.value.code == "UNAVAILABLE"
    assert "exited with code 3" in caught.value.details
    assert "boom: no Ray for you" in caught.value.details


def test_a_silent_server_times_out_and_is_killed(fake_server):
    make, pid_file = fake_server
    server = EmbeddedServer(make("silent", start_timeout=1.5, stop_timeout=1))
    with pytest.raises(EmbeddedServerError) as caught:
        with server:
            pass
    shutil.rmtree(server.log_dir)
    assert "did not announce its address within 1.5 s" in caught.value.details
    assert _wait_dead(int(pid_file.read_text()))


def test_sigterm_ignored_means_sigkill_for_the_group(fake_server):
    make, pid_file = fake_server
    server = EmbeddedServer(make("stubborn", stop_timeout=0.5))
    with server:
        grandchild = int(pid_file.read_text())
    assert server.returncode == -9
    assert _wait_dead(grandchild)
    assert server.log_dir is not None and (server.log_dir / "server.stderr.log").exists()  # kept for diagnosis
    shutil.rmtree(server.log_dir)


def test_interrupt_inside_the_block_still_stops_the_server(fake_server):
    make, pid_file = fake_server
    server = EmbeddedServer(make("ok"))
    with pytest.raises(KeyboardInterrupt):
        with server:
            raise KeyboardInterrupt
    assert server.returncode == 0
    assert _wait_dead(int(pid_file.read_text()))


def test_missing_program_is_an_error():
    with pytest.raises(EmbeddedServerError, match="cannot start the local server"):
        with EmbeddedServer(EmbeddedConfig(command=("/nonexistent/python", "-m", "server"))):
            pass


def test_the_embedded_command_line_and_environment(tmp_path):
    config = build_connection(None, str(tmp_path / "state"), 5.0, {"DESCENT_START_TIMEOUT": "7"})
    embedded = embedded_config(config)
    assert list(embedded.command) == [
        sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", "0",
        "--state-dir", str(tmp_path / "state"), "--data-root", os.getcwd(), "--data-root", "/", "--announce",
        "--exit-with-parent", str(os.getpid()),
    ]
    assert embedded.env["DESCENT_TOKEN"] == ""  # the session puts a fresh token here (see session.connect)
    assert embedded_config(config, "t0k3n").env["DESCENT_TOKEN"] == "t0k3n"
    assert embedded.start_timeout == 7.0 and embedded.stop_timeout == 30.0
    repo = str(Path(__file__).resolve().parents[2])
    env = server_env({"PYTHONPATH": "/elsewhere"})
    assert env["PYTHONPATH"].split(os.pathsep) == [repo, "/elsewhere"]


def test_serve_passes_only_the_flags_given():
    assert server_argv("0.0.0.0", 50051, num_cpus=4) == [
        sys.executable, "-m", "server", "--host", "0.0.0.0", "--port", "50051", "--num-cpus", "4",
    ]


def test_connection_config():
    assert build_connection(" ", None, 5.0, {}).embedded  # an empty DESCENT_SERVER means embedded
    assert build_connection("node1", None, 5.0, {}).server == "node1:50051"
    assert normalize_address("[::1]:6000") == "[::1]:6000"
    with pytest.raises(ValueError, match="--state-dir"):
        build_connection("node1:1", "/tmp/x", 5.0, {})
    with pytest.raises(ValueError, match="DESCENT_STOP_TIMEOUT"):
        build_connection(None, None, 5.0, {"DESCENT_STOP_TIMEOUT": "soon"})


def test_serve_hands_other_options_to_the_server(tmp_path):
    """`descent serve --max-jobs 0` reaches the server's own checks (it refuses before starting anything)."""
    import subprocess

    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-m", "client.cli", "serve", "--state-dir", str(tmp_path), "--max-jobs", "0"],
        cwd=repo, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2 and "--max-jobs must be at least 1, got 0" in result.stderr
