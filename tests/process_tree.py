"""A process tree found precisely, for tests that must leave nothing running: the descendants of a
PID the test started (never a global name pattern: other clusters run on this machine), each
remembered with its start time so a reused PID is not mistaken for it."""

from __future__ import annotations

import os
import signal
import time


def proc_stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state, start time) of ``pid``, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), fields[0], int(fields[19])


def descendants(root: int) -> dict[int, int]:
    """{pid: start time} of every live descendant of ``root``."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (found := proc_stat(int(entry))) is not None:
            children.setdefault(found[0], []).append(int(entry))
    tree, todo = {}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found = proc_stat(child)
            if found is not None and found[1] != "Z":
                tree[child] = found[2]
                todo.append(child)
    return tree


def alive(processes: dict[int, int]) -> dict[int, int]:
    """The ones of ``processes`` still running (same PID, same start time, not a zombie)."""
    running = {}
    for pid, started in processes.items():
        found = proc_stat(pid)
        if found is not None and found[2] == started and found[1] != "Z":
            running[pid] = started
    return running


def argv(pid: int) -> list[str]:
    """The process's whole command line, one argument each ([] when it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [arg.decode(errors="replace") for arg in f.read().split(b"\0") if arg]
    except OSError:
        return []


def name(pid: int) -> str:
    """What the process is: its program's file name (``/…/ray/gcs/gcs_server`` → ``gcs_server``), the
    title Ray gives its Python processes (``ray::DashboardAgent``, ``ray::_RayTrainLoop.run``), or for
    ``python -m MODULE`` the module. Never a prefix of the command line: under a long checkout path
    the program name falls past any fixed width."""
    args = argv(pid)
    if not args:
        return "?"
    if len(args) >= 3 and args[1] == "-m":
        return args[2]
    return args[0] if args[0].startswith("ray::") else os.path.basename(args[0])


def is_(found: str, what: str) -> bool:
    """``what`` is the program name, or a Ray title (an actor's title may go on with ``.method``)."""
    return found == what or (what.startswith("ray::") and found.startswith(what))


def missing(processes: dict[int, int], expected: tuple[str, ...]) -> list[str]:
    """Those of ``expected`` (names as ``is_`` takes them) that no process of ``processes`` is."""
    names = [name(pid) for pid in processes]
    return [what for what in expected if not any(is_(found, what) for found in names)]


def cmdline(pid: int) -> str:
    """For messages: the whole command line."""
    return " ".join(argv(pid)) or "?"


def wait_gone(processes: dict[int, int], within: float) -> dict[int, int]:
    """Wait up to ``within`` seconds for every one of ``processes`` to end; those still alive."""
    deadline = time.monotonic() + within
    while (running := alive(processes)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return running


def kill_all(processes: dict[int, int]) -> None:
    """SIGKILL those of ``processes`` still alive (cleanup after a failed test: only ever our own)."""
    for pid in alive(processes):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
