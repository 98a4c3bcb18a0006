"""The launcher's view of free CPUs, with a real local Ray cluster in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Reserves both CPUs of a 2-CPU cluster, then has Ray's own figure lag behind (as it does
# between two resource reports of a loaded node), and asks the launcher what is free.
PROBE = r"""
import json, time
from server.cluster.launcher import RayLauncher
launcher = RayLauncher(num_cpus=2)
import ray
group = launcher.reserve(2, timeout=60, should_stop=lambda: False)
assert group is not None
fresh = ray.available_resources
ray.available_resources = lambda: {"CPU": 2.0}  # the view from before the group was placed
held = [launcher.free_cpus(), launcher.cluster()["available_cpus"]]
launcher.release(group)
ray.available_resources = fresh
deadline = time.monotonic() + 30
while launcher.free_cpus() < 2 and time.monotonic() < deadline:
    time.sleep(0.05)
released = launcher.free_cpus()
launcher.shutdown()
print(json.dumps({"held": held, "released": released}))
"""


def test_cpus_of_a_group_just_placed_are_not_free_while_rays_figure_lags():
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["held"] == [0.0, 0.0]
    assert result["released"] == 2.0
