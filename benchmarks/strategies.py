"""The notes' three strategies at an equal budget of loss evaluations, on real and CIFAR-shaped data.

For each data set, one job per strategy (random search, random local search, gradient
descent) with the same ``--steps`` (a search job's steps are its loss evaluations; a
gradient job evaluates one loss, with its gradient, per update), the same seed and batch
size, on one real server subprocess with local Ray. Reports each job's test accuracy,
final loss, loss evaluations and wall seconds. Not a speed benchmark: the figure is
what each strategy reaches for the same budget.

    python benchmarks/strategies.py [--steps 2000] [--datasets 'digits;mnist:../shared/data/mnist']

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.server_process import ServerProcess  # noqa: E402

STRATEGIES = ("random-search", "random-local-search", "gradient")
DEFAULT_DATASETS = f"digits;mnist:{ROOT.parent / 'shared' / 'data' / 'mnist'};synthetic:5000,3072,10"


def train(server: ServerProcess, dataset: str, strategy: str, steps: int, seed: int) -> dict:
    """One job through the real CLI; its ``train --json`` object."""
    env = {k: v for k, v in os.environ.items() if k != "DESCENT_SERVER"}
    result = subprocess.run(
        [sys.executable, "-m", "client.cli", "train", "--dataset", dataset, "--strategy", strategy, "--steps", str(steps),
         "--seed", str(seed), "--json", *server.cli_args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{strategy} on {dataset} failed: {result.stderr.strip()}")
    return json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--datasets", default=DEFAULT_DATASETS)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as state:
        server = ServerProcess(Path(state) / "state", num_cpus=2)
        try:
            for dataset in args.datasets.split(";"):
                for strategy in STRATEGIES:
                    job = train(server, dataset, strategy, args.steps, args.seed)
                    rows.append({
                        "dataset": dataset.split(":")[0] if "/" in dataset else dataset,
                        "strategy": strategy, "test_accuracy": job["test_accuracy"], "loss": job["loss"],
                        "loss_evaluations": job["loss_evaluations"], "seconds": job["seconds"],
                    })
                    print(json.dumps(rows[-1]), file=sys.stderr)
        finally:
            server.stop()
    print(json.dumps({"steps": args.steps, "seed": args.seed, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
