"""Memory of a training job: every process of a local cluster against the data set, and the server after it.

Starts a real ``python -m server`` (local Ray, 2 CPUs), then runs a 2-worker job on
CIFAR-shaped synthetic data (``--dataset``, default 50,000 × 3,072 float32: 614 MB of
features), sampling every 50 ms the memory of the server and of every process it
started (Ray's raylet, GCS, the workers). What the cluster holds is counted as:

- each process's own memory, PSS less shared memory (``Pss_Anon`` + ``Pss_File`` of
  /proc/PID/smaps_rollup: a page of a library mapped by k processes counts 1/k in each);
- plus the shared-memory files those processes map (in /dev/shm, or memfd), each once,
  at its allocated size: Ray's object store (one file: the data set's one copy, whoever
  maps its pages, and also when nobody does, as the data cache keeps it for the next
  job) and the shared-memory lanes.

Reports:

- ``peak_total_mb`` and ``ratio_to_dataset`` = that peak ÷ the data set's bytes, the
  idle cluster's figure (``idle_cluster_mb``, measured just before the job) and
  ``job_ratio_to_dataset`` = (peak − idle) ÷ the data set (target: ≤ 1.3), and the same
  per phase of the job (PENDING while its data set is prepared, RUNNING while it trains);
- the server's own RSS before the job, at its peak, and ``server_rss_after_mb`` a few
  seconds after the job ended (``server_rss_after_minus_before_mb``, target: ≤ 100), with
  its private part (``server_private_after_minus_before_mb``);
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


def own_mb(pid: int) -> float:
    """A process's PSS less its shared memory (counted once, by ``shared_mb``)."""
    path = f"/proc/{pid}/smaps_rollup"
    return (_field_kb(path, "Pss_Anon") + _field_kb(path, "Pss_File")) / 1024


def shared_files(pids: list[int]) -> dict[tuple[str, str], str]:
    """The shared-memory files (/dev/shm, memfd) the processes map, once each: (device, inode) → a path to stat.

    Ray's object store is one such file (unlinked, mapped by the raylet and every process
    that reads or writes objects); each shared-memory lane is another.
    """
    files: dict[tuple[str, str], str] = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/maps") as maps:
                for line in maps:
                    fields = line.split(maxsplit=5)
                    if len(fields) == 6 and fields[5].startswith(("/dev/shm/", "/memfd:")):
                        files.setdefault((fields[3], fields[4]), f"/proc/{pid}/map_files/{fields[0]}")
        except OSError:
            continue
    return files


def shared_mb(files: dict[tuple[str, str], str]) -> float:
    """The memory those files hold: their allocated blocks (tmpfs pages), whether or not anyone maps them now."""
    total = 0
    for path in files.values():
        try:
            total += os.stat(path).st_blocks * 512
        except OSError:  # unmapped or its process gone since the listing
            continue
    return total / 2**20


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """VmRSS (all resident pages), RssAnon (private) or RssShmem (shared memory, e.g. the object store's)."""
    return _field_kb(f"/proc/{pid}/status", field) / 1024


def _name(pid: int) -> str:
    """A short name for a process: Ray's own title (raylet, gcs_server, ray::Worker...) or its command."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return "?"
    if not argv:
        return "?"
    head = Path(argv[0]).name
    if head.startswith("python") and len(argv) > 1:
        head = " ".join(Path(a).name if "/" in a else a for a in argv[1:3])
    return head.split(" --")[0][:40]


class Sampler:
    """Samples the server's RSS and the whole cluster's memory until stopped; keeps the peaks, per phase.

    Every ``every`` seconds (50 ms: copying a split into the object store, when it exists
    twice, takes ~0.1–0.3 s here). ``phase()`` names the job's phase (PENDING while its
    data set is prepared, RUNNING while it trains), asked every ``phase_every`` seconds; the
    peak of each phase and the processes behind the overall peak are kept.
    """

    def __init__(self, pid: int, phase=lambda: "", every: float = 0.05, phase_every: float = 0.25):
        self.pid, self.every, self.phase = pid, every, phase
        self.phase_every = phase_every  # also how often the process tree and its shared files are listed again
        self.samples = 0
        self.peak_total = self.peak_server = 0.0
        self.peak_by_phase: dict[str, float] = {}
        self.peak_processes: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        phase, asked, pids, files = "", 0.0, [], {}
        while not self._stop.is_set():
            if time.monotonic() - asked >= self.phase_every:
                phase, asked = self.phase(), time.monotonic()
                pids = _tree(self.pid)
                files = shared_files(pids)
            self.samples += 1
            per = {p: own_mb(p) for p in pids}
            shared = shared_mb(files)
            total = sum(per.values()) + shared
            if phase:
                self.peak_by_phase[phase] = max(self.peak_by_phase.get(phase, 0.0), total)
            if total > self.peak_total:
                self.peak_total = total
                named: dict[str, float] = {}
                for p, mb in per.items():
                    named[_name(p)] = named.get(_name(p), 0.0) + mb
                named["shared memory (object store, lanes)"] = shared
                self.peak_processes = {k: round(v, 1) for k, v in sorted(named.items(), key=lambda kv: -kv[1]) if v >= 1}
            self.peak_server = max(self.peak_server, rss_mb(self.pid))
            self._stop.wait(self.every)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def idle_total_mb(pid: int, samples: int = 4, every: float = 0.5) -> float:
    """Median memory of the idle cluster (the server and its Ray processes, no job running)."""
    values = []
    for _ in range(samples):
        pids = _tree(pid)
        values.append(sum(own_mb(p) for p in pids) + shared_mb(shared_files(pids)))
        time.sleep(every)
    return sorted(values)[len(values) // 2]


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
            def phase() -> str:
                try:
                    jobs_now = server.stub.ListJobs(descent_pb2.ListJobsRequest(), timeout=5).jobs
                except Exception:  # a missed sample, not a failed benchmark
                    return ""
                active = [j for j in jobs_now if j.state in (descent_pb2.PENDING, descent_pb2.RUNNING)]
                return descent_pb2.JobState.Name(active[-1].state) if active else ""

            for label in ("first", "second"):
                before = rss_mb(server.proc.pid)
                private_before = rss_mb(server.proc.pid, "RssAnon")
                idle = idle_total_mb(server.proc.pid)
                with Sampler(server.proc.pid, phase) as sampler:
                    result = server.run_job(spec)
                time.sleep(args.settle)
                after = rss_mb(server.proc.pid)
                anon, shmem = rss_mb(server.proc.pid, "RssAnon"), rss_mb(server.proc.pid, "RssShmem")
                jobs.append({
                    "job": label,
                    "state": descent_pb2.JobState.Name(result["status"].state),
                    "peak_total_mb": round(sampler.peak_total, 1),
                    "samples": sampler.samples,
                    "ratio_to_dataset": round(sampler.peak_total / data_mb, 3),
                    "idle_cluster_mb": round(idle, 1),
                    "job_ratio_to_dataset": round((sampler.peak_total - idle) / data_mb, 3),
                    "peak_by_phase_mb": {k: round(v, 1) for k, v in sampler.peak_by_phase.items()},
                    "running_job_ratio_to_dataset": round(
                        (sampler.peak_by_phase.get("RUNNING", float("nan")) - idle) / data_mb, 3),
                    "peak_processes_mb": sampler.peak_processes,
                    "server_rss_before_mb": round(before, 1),
                    "server_rss_peak_mb": round(sampler.peak_server, 1),
                    "server_rss_after_mb": round(after, 1),
                    "server_rss_after_minus_before_mb": round(after - before, 1),
                    "server_rss_after_private_mb": round(anon, 1),
                    "server_private_after_minus_before_mb": round(anon - private_before, 1),
                    "server_rss_after_shared_mb": round(shmem, 1),
                })
        finally:
            server.close()
    print(json.dumps({
        "dataset": args.dataset, "dataset_mb": round(data_mb, 1), "steps": args.steps, "workers": 2,
        "ratio_to_dataset": jobs[0]["ratio_to_dataset"],
        "job_ratio_to_dataset": jobs[0]["job_ratio_to_dataset"],
        "server_rss_after_minus_before_mb": jobs[0]["server_rss_after_minus_before_mb"],
        "jobs": jobs, "load_average": list(os.getloadavg()),
    }, indent=1))


if __name__ == "__main__":
    main()
