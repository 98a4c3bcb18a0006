"""Memory of a training job: every process of a local cluster against the data set, and the server after it.

Starts a real ``python -m server`` (local Ray, 2 CPUs), then runs a 2-worker job on
CIFAR-shaped synthetic data (``--dataset``, default 50,000 × 3,072 float32: 614 MB of
features), sampling every 0.5 s the memory of the server and of every process it
started (Ray's raylet, object store, GCS, the workers). Memory is counted as PSS
(proportional set size, /proc/PID/smaps_rollup): a page shared by k processes — the
object store's copy of the data set, mapped by the server and each worker — counts 1/k
in each, so the sum is what the cluster really holds. Reports:

- ``peak_total_pss_mb`` and ``ratio_to_dataset`` = that peak ÷ the data set's bytes
  (target: ≤ 1.3);
- the server's own RSS before the job, at its peak, and ``server_rss_after_mb`` a few
  seconds after the job ended (``server_rss_after_minus_before_mb``, target: ≤ 100);
- the same for a second job on the same data set (its data comes from the cache).

    python benchmarks/memory.py [--dataset synthetic:50000,3072,10] [--steps 2000]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.served import Server  # noqa: E402
from proto import descent_pb2  # noqa: E402


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def _tree(pid: int) -> list[int]:
    tree, out, todo = _children(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(tree.get(p, []))
    return out


def _field_kb(path: str, name: str) -> int:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_mb(pid: int) -> float:
    return _field_kb(f"/proc/{pid}/smaps_rollup", "Pss") / 1024


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """VmRSS (all resident pages), RssAnon (private) or RssShmem (shared memory, e.g. the object store's)."""
    return _field_kb(f"/proc/{pid}/status", field) / 1024


class Sampler:
    """Samples the server's RSS and the whole tree's PSS until stopped; keeps the peaks."""

    def __init__(self, pid: int, every: float = 0.5):
        self.pid, self.every = pid, every
        self.peak_total = self.peak_server = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            total = sum(pss_mb(p) for p in _tree(self.pid))
            self.peak_total = max(self.peak_total, total)
            self.peak_server = max(self.peak_server, rss_mb(self.pid))
            self._stop.wait(self.every)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _dataset_bytes(spec: str) -> int:
    n, d, _ = (int(v) for v in spec.split(":", 1)[1].split(","))
    return n * d * 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="synthetic:50000,3072,10")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds after a job before the 'after' RSS")
    args = parser.parse_args()
    spec = descent_pb2.JobSpec(dataset=args.dataset, workers=2, steps=args.steps, lr=1e-3, reg=1e-3,
                               batch_size=256, seed=0)
    data_mb = _dataset_bytes(args.dataset) / 2**20
    jobs = []
    with tempfile.TemporaryDirectory() as state:
        server = Server(state, num_cpus=2)
        try:
            time.sleep(2)
            for label in ("first", "second"):
                before = rss_mb(server.proc.pid)
                with Sampler(server.proc.pid) as sampler:
                    result = server.run_job(spec)
                time.sleep(args.settle)
                after = rss_mb(server.proc.pid)
                anon, shmem = rss_mb(server.proc.pid, "RssAnon"), rss_mb(server.proc.pid, "RssShmem")
                jobs.append({
                    "job": label,
                    "state": descent_pb2.JobState.Name(result["status"].state),
                    "peak_total_pss_mb": round(sampler.peak_total, 1),
                    "ratio_to_dataset": round(sampler.peak_total / data_mb, 3),
                    "server_rss_before_mb": round(before, 1),
                    "server_rss_peak_mb": round(sampler.peak_server, 1),
                    "server_rss_after_mb": round(after, 1),
                    "server_rss_after_minus_before_mb": round(after - before, 1),
                    "server_rss_after_private_mb": round(anon, 1),
                    "server_rss_after_shared_mb": round(shmem, 1),
                })
        finally:
            server.close()
    print(json.dumps({
        "dataset": args.dataset, "dataset_mb": round(data_mb, 1), "steps": args.steps, "workers": 2,
        "ratio_to_dataset": jobs[0]["ratio_to_dataset"],
        "server_rss_after_minus_before_mb": jobs[0]["server_rss_after_minus_before_mb"],
        "jobs": jobs, "load_average": list(os.getloadavg()),
    }, indent=1))


if __name__ == "__main__":
    main()
