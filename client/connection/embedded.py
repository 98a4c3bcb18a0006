"""An embedded server: a ``python -m server`` subprocess for the length of one command.

``EmbeddedServer`` is a context manager. Entering starts the server in its own
session (so a terminal Ctrl-C reaches only the client), reads the
``descent-server listening on HOST:PORT`` line from its stdout with a timeout
and returns that address. Leaving sends SIGTERM (the server cancels its jobs and
shuts Ray down), waits, then SIGKILLs whatever is left of the process group,
so no process outlives the command. The server's stderr goes to a log file in
a temporary directory, kept (and named in errors) when something went wrong.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from client.errors import CommandError

#: The line the server prints once it is serving (``--announce``).
ANNOUNCE = re.compile(r"descent-server listening on (?P<address>\S+)")

#: Lines of the server's stderr quoted when it fails to start.
TAIL_LINES = 20


@dataclass(frozen=True)
class EmbeddedConfig:
    """How to run the embedded server."""

    command: tuple[str, ...]  # argv, e.g. launch.server_argv("127.0.0.1", 0, announce=True)
    env: Mapping[str, str] | None = None  # None inherits the client's environment
    start_timeout: float = 120.0  # seconds to wait for the announce line
    stop_timeout: float = 30.0  # seconds between SIGTERM and SIGKILL


class EmbeddedServerError(CommandError):
    """The embedded server did not start (code ``UNAVAILABLE``)."""

    def __init__(self, details: str) -> None:
        super().__init__("UNAVAILABLE", details)


def _tail(path: Path, lines: int = TAIL_LINES) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _pump(stream: BinaryIO, sink: BinaryIO, found: queue.Queue) -> None:
    """Copy the server's stdout to ``sink``; put the announced address (then None at EOF) on ``found``.

    Runs for the server's whole life so its stdout pipe never fills up.
    """
    announced = False
    try:
        for raw in iter(stream.readline, b""):
            sink.write(raw)
            sink.flush()
            if not announced:
                match = ANNOUNCE.fullmatch(raw.decode("utf-8", errors="replace").strip())
                if match:
                    announced = True
                    found.put(match["address"])
    except (OSError, ValueError):
        pass
    finally:
        found.put(None)
        sink.close()


def _killpg(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class EmbeddedServer:
    """Context manager running one server subprocess; ``with EmbeddedServer(cfg) as address: ...``.

    After exit, ``returncode`` is the server's exit status and ``log_dir`` is the
    kept log directory (None when the server exited cleanly and its logs were removed).
    """

    def __init__(self, config: EmbeddedConfig) -> None:
        self._config = config
        self._process: subprocess.Popen | None = None
        self._pump: threading.Thread | None = None
        self.log_dir: Path | None = None
        self.address: str | None = None
        self.returncode: int | None = None

    @property
    def stderr_log(self) -> Path | None:
        """The server's stderr log (while it exists)."""
        return self.log_dir / "server.stderr.log" if self.log_dir else None

    def __enter__(self) -> str:
        self.log_dir = Path(tempfile.mkdtemp(prefix="descent-server-"))
        stdout_log = open(self.log_dir / "server.stdout.log", "wb")
        try:
            with open(self.stderr_log, "wb") as stderr_log:
                self._process = subprocess.Popen(
                    list(self._config.command),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=stderr_log,
                    env=dict(self._config.env) if self._config.env is not None else None,
                    start_new_session=True,
                )
        except OSError as error:
            stdout_log.close()
            shutil.rmtree(self.log_dir, ignore_errors=True)
            self.log_dir = None
            raise EmbeddedServerError(f"cannot start the local server ({' '.join(self._config.command)}): {error}")
        found: queue.Queue = queue.Queue()
        self._pump = threading.Thread(
            target=_pump, args=(self._process.stdout, stdout_log, found), name="descent-server-stdout", daemon=True
        )
        self._pump.start()
        try:
            self.address = self._wait_for_address(found)
        except EmbeddedServerError:
            self._stop(keep_logs=True)
            raise
        except BaseException:
            self._stop(keep_logs=False)
            raise
        return self.address

    def _wait_for_address(self, found: queue.Queue) -> str:
        process = self._process
        timeout = self._config.start_timeout
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise EmbeddedServerError(
                    f"the local server did not announce its address within {timeout:g} s; "
                    f"its log is {self.stderr_log}{self._quoted_tail()}"
                )
            try:
                address = found.get(timeout=min(0.25, remaining))
            except queue.Empty:
                if process.poll() is None:
                    continue
                address = None
            if address is not None:
                return address
            # stdout closed or the process exited before announcing
            try:
                code = process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = None
            how = f"exited with code {code}" if code is not None else "closed its stdout"
            raise EmbeddedServerError(
                f"the local server {how} before it was ready; its log is {self.stderr_log}{self._quoted_tail()}"
            )

    def _quoted_tail(self) -> str:
        tail = _tail(self.stderr_log) if self.stderr_log else ""
        return f"\n--- last lines of the server's stderr ---\n{tail}" if tail.strip() else " (empty)"

    def __exit__(self, exc_type, exc, tb) -> None:
        self._stop(keep_logs=False)

    def _stop(self, keep_logs: bool) -> None:
        process = self._process
        if process is None:
            return
        interrupted = False
        if process.poll() is None:
            try:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=self._config.stop_timeout)
            except subprocess.TimeoutExpired:
                pass
            except KeyboardInterrupt:  # a second Ctrl-C: stop waiting, kill now
                interrupted = True
        _killpg(process.pid)  # the server's session: Ray's processes and any stragglers
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if self._pump is not None:
            self._pump.join(timeout=2)
            if not self._pump.is_alive() and process.stdout is not None:
                process.stdout.close()
        self.returncode = process.returncode
        self._process = None
        if not keep_logs and self.returncode == 0 and self.log_dir is not None:
            shutil.rmtree(self.log_dir, ignore_errors=True)
            self.log_dir = None
        if interrupted:
            raise KeyboardInterrupt
