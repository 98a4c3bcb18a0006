"""The lean local Ray start (server.cluster.local_ray) and its fallback, each in a fresh process with a real cluster."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Starts a launcher, runs one task, lists the command lines of the cluster's processes, stops.
PROBE = r"""
import json, os, sys
from pathlib import Path
FALLBACK = {fallback}
import server.cluster.local_ray as ray_node
if FALLBACK:
    def _missing():
        raise ray_node.LeanStartUnavailable("internals hidden by the test")
    ray_node._internals = _missing
from server.cluster.launcher import RayLauncher
from server.cluster.reaper import processes_using
launcher = RayLauncher(num_cpus=1)
import ray
value = launcher.run_task(lambda xs: sum(xs), [1, 2, 3])
ray_dir = os.path.dirname(ray.__file__)
pids = processes_using(Path(launcher._session_dir), (os.path.realpath(sys.executable), ray_dir))
cmdlines = [Path(f"/proc/{{pid}}/cmdline").read_bytes().replace(b"\0", b" ").decode() for pid in pids]
launcher.shutdown()
left = processes_using(Path(launcher._session_dir), (os.path.realpath(sys.executable), ray_dir))
print(json.dumps({{"value": value, "cmdlines": cmdlines, "left": left}}))
"""

UNUSED = ("autoscaler/_private/monitor.py", "log_monitor.py", "dashboard/dashboard.py")


def _probe(fallback: bool) -> tuple[dict, str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(fallback=fallback)], cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_lean_start_runs_tasks_without_the_processes_descent_does_not_use():
    result, _ = _probe(fallback=False)
    assert result["value"] == 6
    assert any("raylet" in line for line in result["cmdlines"]), result["cmdlines"]
    assert any("gcs_server" in line for line in result["cmdlines"]), result["cmdlines"]
    unused = [line for line in result["cmdlines"] if any(name in line for name in UNUSED)]
    assert unused == []
    assert result["left"] == []  # shutdown (the reaper) ended every process of the cluster


def test_without_rays_internals_the_launcher_starts_ray_the_plain_way():
    result, stderr = _probe(fallback=True)
    assert result["value"] == 6
    assert "starting Ray the plain way: internals hidden by the test" in stderr
    # the plain start has the processes the lean one leaves out (so the probe can tell them apart)
    assert any(any(name in line for name in UNUSED) for line in result["cmdlines"]), result["cmdlines"]
    assert result["left"] == []
