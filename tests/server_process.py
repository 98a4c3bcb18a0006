"""A real ``python -m server`` subprocess (local Ray, free port) for tests and its clean shutdown.

The server gets a fresh bearer token (``DESCENT_TOKEN``) and the helper's channel sends it;
``bare_channel()`` opens one that does not.
"""

from __future__ import annotations

import itertools
import os
import secrets
import select
import signal
import subprocess
import sys
from pathlib import Path

import grpc

from client.rpc.channel import open_channel
from proto import descent_pb2_grpc
from proto.limits import GRPC_OPTIONS

ROOT = Path(__file__).resolve().parents[1]


_SERIAL = itertools.count()  # one log file per server started by this test process


class ServerProcess:
    """Starts the server once, reads its announced address, and stops it (SIGTERM, then SIGKILL).

    One attempt: local Ray starts every time since the server starts it before any gRPC
    object exists (server.cluster.launcher says why); a start that fails is a bug to see.
    """

    def __init__(
        self,
        state_dir: Path,
        num_cpus: int = 4,
        log_path: Path | None = None,
        start_timeout: float = 180,
        data_roots: list[Path] | None = None,
        extra_args: list[str] | None = None,
        tls_ca: bytes | None = None,
    ):
        """``data_roots`` default to the repository and the system's temporary directory; ``extra_args``
        go to ``python -m server`` as they are; with ``tls_ca`` the helper's channel is TLS."""
        self.state_dir = Path(state_dir)
        self.num_cpus = num_cpus
        self.token = secrets.token_urlsafe(24)
        self.tls_ca = tls_ca
        roots = data_roots if data_roots is not None else [ROOT, Path(os.environ.get("TMPDIR", "/tmp")), ROOT.parent / "shared"]
        self.extra_args = list(extra_args or [])
        self._args = [arg for root in roots for arg in ("--data-root", str(root))] + self.extra_args
        self.log_path = log_path or self.state_dir.parent / f"server-{os.getpid()}-{next(_SERIAL)}.log"
        self._log = open(self.log_path, "w")
        self.channel = None
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server", "--port", "0", "--announce", "--state-dir", str(self.state_dir),
             "--num-cpus", str(num_cpus), *self._args],
            cwd=ROOT,
            env={**{k: v for k, v in os.environ.items() if k != "DESCENT_TOKEN_FILE"}, "DESCENT_TOKEN": self.token},
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
        self.token_file = self.state_dir.parent / f"token-{os.getpid()}-{next(_SERIAL)}"
        fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.token)
        #: What a CLI command needs to reach this server.
        self.cli_args = ("--server", self.address, "--token-file", str(self.token_file))
        self.channel = open_channel(self.address, self.token, tls_ca)
        self.trainer = descent_pb2_grpc.TrainerStub(self.channel)
        self.params = descent_pb2_grpc.ParameterServerStub(self.channel)

    def bare_channel(self) -> grpc.Channel:
        """A channel to the server that sends no token (plaintext unless the server has TLS)."""
        if self.tls_ca is not None:
            return grpc.secure_channel(self.address, grpc.ssl_channel_credentials(self.tls_ca), options=GRPC_OPTIONS)
        return grpc.insecure_channel(self.address, options=GRPC_OPTIONS)

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
