"""kill -9 the server at random instants, again and again; every job must still end exactly.

    python tests/stress/kill_loop.py [--kills 20] [--seed 0]     (.ci/run calls it)

Each round starts a real server (local Ray) on one shared state directory, submits a
job, and SIGKILLs the server after a random delay — during submit, placement,
training, a checkpoint write or evaluation, wherever the instant falls. A last
server then runs everything left to the end. Passes when no job was lost, no record
is damaged, and every job SUCCEEDED with exactly its step count and per-worker
counts adding up to it. Prints one JSON document; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from proto import descent_pb2 as pb  # noqa: E402
from tests.server_process import ServerProcess  # noqa: E402

STEPS = 4000  # per job; 1- and 2-worker jobs alternate on a 2-CPU local cluster


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-delay", type=float, default=8.0, help="longest wait before a kill (seconds)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    state = Path(tempfile.mkdtemp(prefix="descent-kill-loop-")) / "state"
    extra = ["--checkpoint-seconds", "0.3", "--checkpoint-every", "500"]
    submitted, rounds = [], []
    for round_ in range(args.kills):
        server = ServerProcess(state, num_cpus=2, extra_args=extra)
        delay = rng.uniform(0.0, args.max_delay)
        try:
            job = server.trainer.SubmitJob(
                pb.SubmitJobRequest(spec=pb.JobSpec(dataset="digits", workers=1 + round_ % 2, steps=STEPS, lr=1e-3, seed=round_)),
                timeout=30,
            )
            submitted.append(job.job_id)
        except Exception as exc:  # a refusal is reported, not fatal to the loop
            rounds.append({"round": round_, "submit_error": str(exc)[:200]})
        time.sleep(delay)
        states = {s.job_id: pb.JobState.Name(s.state) for s in server.trainer.ListJobs(pb.ListJobsRequest()).jobs}
        server.kill()
        rounds.append({"round": round_, "killed_after_s": round(delay, 2), "states": states})

    final = ServerProcess(state, num_cpus=2, extra_args=extra)
    deadline = time.monotonic() + 900
    try:
        while time.monotonic() < deadline:
            jobs = final.trainer.ListJobs(pb.ListJobsRequest()).jobs
            if all(j.state in (pb.SUCCEEDED, pb.FAILED, pb.CANCELLED, pb.DAMAGED) for j in jobs):
                break
            time.sleep(1)
        jobs = {j.job_id: j for j in final.trainer.ListJobs(pb.ListJobsRequest()).jobs}
    finally:
        final.stop()

    problems = []
    for job_id in submitted:
        job = jobs.get(job_id)
        if job is None:
            problems.append(f"{job_id}: lost")
            continue
        per_worker = sum(w.steps for w in job.per_worker)
        if job.state != pb.SUCCEEDED or job.steps != STEPS or per_worker != STEPS:
            problems.append(
                f"{job_id}: {pb.JobState.Name(job.state)} steps {job.steps} per-worker sum {per_worker}: {job.message}"
            )
    damaged = [j for j in jobs.values() if j.state == pb.DAMAGED]
    problems += [f"{j.job_id}: DAMAGED {j.message}" for j in damaged]
    report = {
        "kills": args.kills,
        "jobs": len(submitted),
        "succeeded_exact": len(submitted) - len([p for p in problems if "DAMAGED" not in p]),
        "restarts": {j.job_id: j.restarts for j in jobs.values()},
        "problems": problems,
        "rounds": rounds,
    }
    print(json.dumps(report, indent=1))
    print(f"kill loop: {report['succeeded_exact']} of {len(submitted)} jobs ended exact; {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
