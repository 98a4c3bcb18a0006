"""A real ``python -m server`` subprocess (local Ray, free port) for tests and its clean shutdown."""

from __future__ import annotations

import itertools
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import grpc

from proto import descent_pb2_grpc
from proto.limits import GRPC_OPTIONS

ROOT = Path(__file__).resolve().parents[1]


_SERIAL = itertools.count()  # one log file per server started by this test process


class ServerProcess:
    """Starts the server once, reads its announced address, and stops it (SIGTERM, then SIGKILL).

    One attempt: local Ray starts every time since the server starts it before any gRPC
    object exists (server.launcher says why); a start that fails is a bug to see.
    """

    def __init__(
        self,
        state_dir: Path,
        num_cpus: int = 4,
        log_path: Path | None = None,
        start_timeout: float = 180,
        extra_args: list[str] | None = None,
    ):
        self.state_dir = Path(state_dir)
        self.extra_args = list(extra_args or [])
        self.log_path = log_path or self.state_dir.parent / f"server-{os.getpid()}-{next(_SERIAL)}.log"
        self._log = open(self.log_path, "w")
        self.channel = None
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server", "--port", "0", "--announce", "--state-dir", str(self.state_dir),
             "--num-cpus", str(num_cpus), *self.extra_args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            start_new_session=True,
        )
        ready, _, _ = select.select([self.proc.stdout], [], [], start_timeout)
        line = self.proc.stdout.readline() if ready else ""
        if "listening on" not in line:
            self.stop()
            raise RuntimeError(f"server did not start ({line!r}); log:\n{self.log_path.read_text()[-3000:]}")
        self.address = line.rsplit(" ", 1)[1].strip()
        self.channel = grpc.insecure_channel(self.address, options=GRPC_OPTIONS)
        self.trainer = descent_pb2_grpc.TrainerStub(self.channel)
        self.params = descent_pb2_grpc.ParameterServerStub(self.channel)

    def kill(self) -> None:
        """SIGKILL the server process alone (a crash), then clear the rest of its process group.

        The server started the group's other processes (its local Ray cluster); they are
        killed too, so that leftovers of one test do not load the machine for the next.
        """
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.stop()

    def stop(self, timeout: float = 60) -> int:
        """Graceful stop; returns the exit code."""
        if self.channel is not None:
            self.channel.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()
        return self.proc.returncode
