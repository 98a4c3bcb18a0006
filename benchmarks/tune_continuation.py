"""What tuning costs: successive halving that retrains every promoted trial from the start (descent
0.3's ``tune --halving``) against Optuna's samplers and pruners whose promoted trials continue
(``--init-from``), at an equal update budget, on real data sets.

Every run is ``descent tune --json`` through the real CLI against one real server subprocess
with local Ray (1 worker per trial, ``--parallel`` trials at a time). A mode names the CLI's
arguments; ``--baseline-root`` runs the ``halving`` mode's CLI from another checkout (descent
0.3's, whose ``--halving`` is the restarting one: the protocol is the same). Reports, per data set, mode and
seed (the modes alternate within a seed): the updates all trial jobs applied, the jobs, the best trial's validation and test
accuracy, and wall seconds; and per data set the mean updates of each mode over the first.

    python benchmarks/tune_continuation.py --modes halving,tpe-halving --baseline-root ../descent-0.3
    python benchmarks/tune_continuation.py --modes tpe-halving,random-halving,tpe-asha,tpe-hyperband

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.server_process import ServerProcess  # noqa: E402

MODES = {
    "halving": ["--halving"],  # descent 0.3: promoted trials train again from the start
    "tpe-halving": ["--sampler", "tpe", "--pruner", "halving"],
    "random-halving": ["--sampler", "random", "--pruner", "halving"],
    "tpe-asha": ["--sampler", "tpe", "--pruner", "asha"],
    "tpe-hyperband": ["--sampler", "tpe", "--pruner", "hyperband"],
    "tpe-none": ["--sampler", "tpe", "--pruner", "none"],
}
DEFAULT_DATASETS = f"digits;mnist:{ROOT.parent / 'shared' / 'data' / 'mnist'}"


def tune(server: ServerProcess, cli_root: Path, mode: str, dataset: str, args: argparse.Namespace, seed: int) -> dict:
    """One ``descent tune --json`` run; its figures."""
    env = {k: v for k, v in os.environ.items() if k != "DESCENT_SERVER"}
    with tempfile.TemporaryDirectory() as scratch:
        study = ["--storage", str(Path(scratch) / "tune.db"), "--eta", str(args.eta)] if mode != "halving" else []
        command = [sys.executable, "-m", "client.cli", "tune", "--dataset", dataset, "--trials", str(args.trials),
                   "--budget", str(args.budget), "--seed", str(seed), "--parallel", str(args.parallel), "--json",
                   *MODES[mode], *study, *server.cli_args]
        started = time.monotonic()
        result = subprocess.run(command, cwd=cli_root, env=env, capture_output=True, text=True, timeout=7200)
        seconds = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"{mode} on {dataset} failed: {result.stderr.strip()[-2000:]}")
    out = json.loads(result.stdout)
    best = out["best"] or {}
    return {"seed": seed, "updates": out["updates"], "jobs": out["jobs"], "best_val": best.get("val_accuracy"),
            "best_test": best.get("test_accuracy"), "best_params": best.get("params"), "seconds": round(seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="halving,tpe-halving")
    parser.add_argument("--cli-root", type=Path, default=ROOT, help="checkout whose CLI runs the Optuna modes")
    parser.add_argument("--baseline-root", type=Path, default=ROOT,
                        help="checkout whose CLI runs the halving mode (descent 0.3's: the restarting --halving)")
    parser.add_argument("--datasets", default=DEFAULT_DATASETS, help="';'-separated data set specs")
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--budget", type=int, default=2000)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--eta", type=int, default=2, help="the Optuna modes' reduction factor")
    parser.add_argument("--seeds", default="1,2,3")
    args = parser.parse_args()
    modes = args.modes.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    datasets = [d for d in args.datasets.split(";") if d]
    roots = [Path(d.split(":", 1)[1]) for d in datasets if d.startswith("mnist:")]
    report: dict = {"trials": args.trials, "budget": args.budget, "parallel": args.parallel, "eta": args.eta, "runs": {}}
    with tempfile.TemporaryDirectory() as state:
        server = ServerProcess(Path(state) / "state", num_cpus=max(2, args.parallel), data_roots=roots)
        try:
            for dataset in datasets:
                roots = {mode: (args.baseline_root if mode == "halving" else args.cli_root).resolve() for mode in modes}
                runs: dict = {mode: [] for mode in modes}
                for seed in seeds:  # the modes alternate, so a change in the machine's load touches them alike
                    for mode in modes:
                        runs[mode].append(tune(server, roots[mode], mode, dataset, args, seed))
                mean = {mode: sum(r["updates"] for r in rows) / len(rows) for mode, rows in runs.items()}
                report["runs"][dataset] = {
                    "modes": runs,
                    "mean_updates": mean,
                    "updates_over_first_mode": {mode: round(mean[mode] / mean[modes[0]], 3) for mode in modes},
                }
        finally:
            server.stop()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
