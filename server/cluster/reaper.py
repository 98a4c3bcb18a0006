"""The reaper: ends every process of a server's local Ray cluster once the server is gone.

Ray ties its GCS, raylet, monitor, dashboard and log monitor to the server with
PR_SET_PDEATHSIG, and its worker processes exit when their raylet does, but the raylet's
dashboard and runtime-env agents outlive a SIGKILLed server by about a minute (measured:
both still alive 30 s after the kill). The launcher starts this process (``start_reaper``) beside a local
cluster with a pipe from the server as its stdin; the pipe reads EOF the moment the
server exits, however it exits (SIGKILL included), and the reaper then SIGKILLs every
Ray process — a binary under Ray's package directory, or this Python interpreter — that has
a file open under the cluster's session directory (each Ray process keeps its log files
there). That names this cluster's processes and no one else's: not another server's
cluster, not someone's ``tail -f`` of a log.

The reaper runs in a session of its own and ignores the signals that stop a process group
(SIGTERM, SIGINT, SIGHUP, SIGQUIT): GNU ``timeout``, ``kill -- -PGID``, a supervisor or a
terminal signal the server's whole group, Ray's daemons included. Seen before: SIGTERM to the
group ended the reaper with the rest while ``gcs_server``, which had caught it, hung in
"Stopping GCS server" for good with nobody left to kill it. Only the EOF ends the reaper's wait.

    python -m server.cluster.reaper SESSION_DIR RAY_PACKAGE_DIR   (stdin: a pipe the server holds open)
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: The folder holding the server package: the reaper runs as ``python -m`` from there.
PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])

# How long to keep sweeping after the server is gone (a process may be forking as we look).
SWEEP_S = 5.0


def processes_using(directory: Path, executables: tuple[str, ...]) -> list[int]:
    """PIDs (not this process nor its parent, the server) running a binary under one of ``executables`` (paths or directories)
    with a file open, or their working directory, under ``directory``."""
    prefix = str(directory.resolve()).rstrip("/") + "/"
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in (os.getpid(), os.getppid()):
            continue
        try:
            exe = os.readlink(f"/proc/{entry}/exe")
            if not any(exe == path or exe.startswith(path.rstrip("/") + "/") for path in executables):
                continue
            links = [os.readlink(f"/proc/{entry}/cwd")]
            links += [os.readlink(f"/proc/{entry}/fd/{fd}") for fd in os.listdir(f"/proc/{entry}/fd")]
        except OSError:  # gone, or not ours to read
            continue
        if any(link.startswith(prefix) for link in links):
            found.append(int(entry))
    return found


def reap(directory: Path, executables: tuple[str, ...], sweep_s: float = SWEEP_S) -> int:
    """SIGKILL every such process using ``directory`` until none is left (or ``sweep_s`` passed); return how many."""
    killed: set[int] = set()
    deadline = time.monotonic() + sweep_s
    while True:
        pids = processes_using(directory, executables)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except ProcessLookupError:
                pass
        if not pids or time.monotonic() > deadline:
            return len(killed)
        time.sleep(0.05)  # killed processes vanish within milliseconds


# How long shutdown waits for the reaper's sweep (it SIGKILLs; a sweep takes well under a second).
REAPER_WAIT_S = 5.0


def kill_monitor(session_dir: str) -> None:
    """SIGKILL the autoscaler monitor of the local cluster whose session dir this is."""
    for pid in processes_using(Path(session_dir), (os.path.realpath(sys.executable),)):
        try:
            if b"autoscaler/_private/monitor.py" in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGKILL)
        except OSError:  # already gone
            pass


# How long a local cluster's driver waits for its disconnect (ray.shutdown) before the reaper ends the
# cluster anyway. A driver disconnects in well under a second; when SIGTERM reached the server's
# whole process group the GCS, signalled too, stopped answering and ray.shutdown took 5 s.
DISCONNECT_WAIT_S = 1.0


def end_local(disconnect: Callable[[], Any], reaper: subprocess.Popen) -> None:
    """Disconnect from a local cluster (waiting ``DISCONNECT_WAIT_S`` at most), then have ``reaper`` end its processes."""
    thread = threading.Thread(target=disconnect, name="ray-disconnect", daemon=True)
    thread.start()
    thread.join(DISCONNECT_WAIT_S)
    if thread.is_alive():
        log.warning("Ray's GCS did not answer within %g s (was the whole process group signalled?): reaping it", DISCONNECT_WAIT_S)
    reaper.stdin.close()  # EOF: the reaper kills what the disconnect left behind
    try:
        reaper.wait(timeout=REAPER_WAIT_S)
    except subprocess.TimeoutExpired:
        log.warning("Ray's processes are still being reaped")


def start_reaper(session_dir: str, ray_package_dir: str) -> subprocess.Popen:
    """Start ``python -m server.cluster.reaper`` for this cluster; it acts when our end of its stdin closes."""
    return subprocess.Popen(
        [sys.executable, "-m", "server.cluster.reaper", session_dir, ray_package_dir],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        cwd=PACKAGE_ROOT,
        start_new_session=True,  # out of reach of whatever signals the server's group
    )


#: Signals that stop a process group; the reaper outlives them all (SIGKILL aimed at it alone excepted).
GROUP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)


def main(argv: list[str] | None = None) -> int:
    """Wait for EOF on stdin (the server is gone), then reap the session directory's processes."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m server.cluster.reaper SESSION_DIR RAY_PACKAGE_DIR", file=sys.stderr)
        return 2
    for sig in GROUP_SIGNALS:  # a signal to the server's group is the server's to handle; the sweep must run
        signal.signal(sig, signal.SIG_IGN)
    while sys.stdin.buffer.read(4096):
        pass
    reap(Path(args[0]), (os.path.realpath(sys.executable), os.path.realpath(args[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
