"""Start-up reliability of the embedded server: start and stop ``python -m server`` N times.

Each run starts a real server subprocess (local Ray, port 0, a fresh state dir), waits
for its ``listening on`` line, then stops it with SIGTERM. Three cases:

- ``plain``: nothing else of ours running.
- ``neighbour``: another descent server (its own local Ray) runs beside every start.
- ``leftovers``: before every start, a server is started and killed with SIGKILL (its Ray
  processes are left behind as a crash leaves them), then the measured server starts at once.
  The run also counts the killed server's processes still alive 10 s after the kill
  (``orphans_after_10s``: their command lines are listed).

A start that does not announce itself within ``--timeout`` seconds, or exits, is a failure; its
stderr tail and the state of every process in its session are kept in the JSON.

    python benchmarks/ray_start.py [--case plain|neighbour|leftovers|all] [--runs 100]

Prints one JSON object: per case the number of failed starts, start-up time p50/p99/max, the
stop time p50/max, and the load average before and after (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _session_pids(sid: int) -> list[int]:
    """Every live process whose session id is ``sid`` (a server started with start_new_session)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is the state; the session id is field 6 of stat, index 3 after the name.
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(entry))
    return pids


def _describe(pid: int) -> str:
    """``pid state wchan cmdline`` of one process, for failure reports."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:160]
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        wchan = Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return f"{pid} gone"
    return f"{pid} {state} {wchan} {cmd}"


class Server:
    """One ``python -m server`` subprocess in its own session."""

    def __init__(self, workdir: Path, num_cpus: int):
        self.state_dir = Path(tempfile.mkdtemp(dir=workdir, prefix="state-"))
        self.log_path = self.state_dir / "server.log"
        self._log = open(self.log_path, "w")
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server", "--port", "0", "--announce", "--state-dir", str(self.state_dir),
             "--num-cpus", str(num_cpus)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float) -> float | None:
        """Seconds until the server announced itself, or None if it did not within ``timeout``."""
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if "listening on" not in line:
            return None
        return time.perf_counter() - self.started_at

    def diagnose(self) -> dict:
        """The stderr tail and every process of this server's session, as they are now."""
        return {
            "processes": [_describe(pid) for pid in _session_pids(self.proc.pid)],
            "stderr_tail": self.log_path.read_text()[-1500:],
        }

    def stop(self, timeout: float = 60) -> float:
        """SIGTERM; seconds until the server exited (SIGKILL to its session after ``timeout``)."""
        start = time.perf_counter()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()
        return time.perf_counter() - start

    def crash(self) -> None:
        """SIGKILL the server process alone, leaving whatever it started, as a crash does."""
        self.proc.kill()
        self.proc.wait()
        self._log.close()

    def reap_session(self) -> None:
        """SIGKILL what is left of this server's session (cleanup after a measured run)."""
        for pid in _session_pids(self.proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_case(case: str, runs: int, timeout: float, slow: float, num_cpus: int, workdir: Path) -> dict:
    """Start and stop the server ``runs`` times under one case; failures, timings, load."""
    load_before = os.getloadavg()
    neighbour = None
    if case == "neighbour":
        neighbour = Server(workdir, num_cpus)
        if neighbour.wait_ready(timeout) is None:
            return {"case": case, "error": "the neighbour server did not start", **neighbour.diagnose()}
    starts: list[float] = []
    stops: list[float] = []
    failures: list[dict] = []
    slow_starts: list[dict] = []
    unclean: list[dict] = []
    orphans: list[int] = []
    orphan_examples: list[str] = []
    for i in range(runs):
        killed = None
        if case == "leftovers":
            killed = Server(workdir, num_cpus)
            if killed.wait_ready(timeout) is None:
                failures.append({"run": i, "which": "the server to be killed", **killed.diagnose()})
                killed.stop()
                killed.reap_session()
                continue
            killed_sid = killed.proc.pid
            killed.crash()
            killed_at = time.perf_counter()
        server = Server(workdir, num_cpus)
        elapsed = server.wait_ready(min(timeout, slow))
        if elapsed is None:  # slow: keep a picture of what it is doing, then wait on
            slow_starts.append({"run": i, "at_s": slow, **server.diagnose()})
            elapsed = server.wait_ready(timeout - slow)
        if elapsed is None:
            failures.append({"run": i, "which": "measured", **server.diagnose()})
        else:
            starts.append(elapsed)
        if killed is not None:
            time.sleep(max(0.0, 10 - (time.perf_counter() - killed_at)))
            left = _session_pids(killed_sid)
            orphans.append(len(left))
            if left and len(orphan_examples) < 5:
                orphan_examples.extend(_describe(pid) for pid in left[:3])
            for pid in left:  # do not let one run's leftovers pile into the next
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        stops.append(server.stop())
        if server.proc.returncode != 0:
            unclean.append({"run": i, "returncode": server.proc.returncode, "stderr_tail": server.log_path.read_text()[-1500:]})
        server.reap_session()
    if neighbour is not None:
        neighbour.stop()
        neighbour.reap_session()
    result = {
        "case": case,
        "runs": runs,
        "failed_starts": len(failures),
        "start_s": {
            "p50": _percentile(starts, 0.5),
            "p99": _percentile(starts, 0.99),
            "max": max(starts) if starts else None,
            "mean": statistics.fmean(starts) if starts else None,
        },
        "p99_over_p50": (_percentile(starts, 0.99) / _percentile(starts, 0.5)) if starts else None,
        "stop_s": {"p50": _percentile(stops, 0.5), "max": max(stops) if stops else None},
        "unclean_stops": unclean,
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "failures": failures,
        "slow_starts": slow_starts,
    }
    if case == "leftovers":
        result["orphans_after_10s"] = {"max": max(orphans) if orphans else None, "total": sum(orphans),
                                       "examples": orphan_examples}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=["plain", "neighbour", "leftovers", "all"], default="all")
    parser.add_argument("--runs", type=int, default=100, help="starts per case")
    parser.add_argument("--timeout", type=float, default=90, help="seconds a start may take before it counts as failed")
    parser.add_argument("--slow", type=float, default=20, help="a start slower than this gets its processes recorded")
    parser.add_argument("--num-cpus", type=int, default=2)
    args = parser.parse_args()
    cases = ["plain", "neighbour", "leftovers"] if args.case == "all" else [args.case]
    with tempfile.TemporaryDirectory(prefix="descent-ray-start-") as tmp:
        results = [run_case(case, args.runs, args.timeout, args.slow, args.num_cpus, Path(tmp)) for case in cases]
    print(json.dumps({"cpus": os.cpu_count(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
