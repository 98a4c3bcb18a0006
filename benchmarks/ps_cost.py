"""Where a parameter-server update's time goes, on both ends, for a small and a large W.

Three parts, one JSON document:

- ``breakdown``: per-stage cost (median µs over repeats) of one update's protocol and
  store work, in this process, for W = 10 × 3073 and 1000 × 3073 float32: worker encode,
  server decode, validate, apply, reply encode, worker decode — on the current path
  (proto.wire, proto.lifted's decode with the data left in the received bytes, in-place
  update) and on the path before it (the protobuf API, ``FromString``, ``tobytes``,
  ``np.isfinite`` flags), measured side by side.
- ``round_trip``: one PushStream step through the real ParameterServicer in a server
  subprocess vs a raw gRPC bytes echo (same options, same byte counts) on the same server;
  ``ratio`` = echo time ÷ PS time with W and the gradient in the messages (a worker on
  another host), ``ratio_lane`` = echo time ÷ PS time on the shared-memory lane (a worker
  on the server's host: proto.shared_memory), and the server's CPU µs per round trip for
  each.
- ``server_cpu``: a real 2-worker async job on synthetic data with a 10 × 3073 W through a
  real ``python -m server``: the server process's CPU µs per applied update (CPU-time slope
  while training). With ``--base DIR`` the same job also runs on the checkout in DIR,
  alternating, and both are reported (same-run medians).

    python benchmarks/ps_cost.py [--repeats 3] [--steps 4000] [--base /path/to/old/checkout]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import blas_facts  # noqa: E402
from benchmarks.round_trip import FIELDS, round_trip  # noqa: E402
from benchmarks.served import Server  # noqa: E402
from proto import descent_pb2, lifted  # noqa: E402
from proto.tensor import from_tensor, to_tensor  # noqa: E402
from proto.wire import parameters_bytes, push_request_bytes  # noqa: E402
from server.params.store import ParameterStore  # noqa: E402
from worker.task.malloc import keep_freed_memory  # noqa: E402

SHAPES = ((10, 3073), (1000, 3073))


def _time_us(fn, repeats: int) -> float:
    """Median µs of ``fn()`` over ``repeats`` batches (each batch long enough to time)."""
    fn()
    per = []
    for _ in range(repeats):
        n, start = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            elapsed = time.perf_counter() - start
            if elapsed > 0.05 and n >= 5:
                break
        per.append(elapsed / n * 1e6)
    return round(statistics.median(per), 1)


def breakdown(shape: tuple[int, int], repeats: int) -> dict:
    """Per-stage µs of one update, current path and the path before it."""
    rng = np.random.default_rng(0)
    grad = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal(shape).astype(np.float32)
    store = ParameterStore(w, lr=1e-9, target_steps=10**12)
    scratch = np.empty_like(w)

    def apply():
        with store._lock:  # the store's one update, as push runs it
            store._apply(grad, 1)

    request = push_request_bytes(grad, **FIELDS)
    reply = parameters_bytes(w, 1)
    new = {
        "worker_encode_request": _time_us(lambda: push_request_bytes(grad, **FIELDS), repeats),
        "server_decode_request": _time_us(lambda: from_tensor(lifted.push_request(request).gradient), repeats),
        "server_validate": _time_us(lambda: store.check_gradient(grad), repeats),
        "server_apply": _time_us(apply, repeats),
        "server_encode_reply": _time_us(lambda: parameters_bytes(w, 1), repeats),
        "worker_decode_reply": _time_us(lambda: from_tensor(lifted.parameters(reply).weights), repeats),
    }

    def old_encode_request():
        return descent_pb2.PushRequest(gradient=to_tensor(grad), **FIELDS).SerializeToString()

    def old_validate():
        if not np.isfinite(grad).all():
            raise ValueError

    def old_apply():
        np.multiply(grad, -1e-9, out=scratch)
        w.__iadd__(scratch)

    def old_encode_reply():
        data = w.tobytes()
        tensor = descent_pb2.Tensor(dtype="float32", shape=shape, data=data)
        return descent_pb2.Parameters(weights=tensor, version=1).SerializeToString()

    old = {
        "worker_encode_request": _time_us(old_encode_request, repeats),
        "server_decode_request": _time_us(lambda: from_tensor(descent_pb2.PushRequest.FromString(request).gradient),
                                          repeats),  # FromString copies the data into the message
        "server_validate": _time_us(old_validate, repeats),
        "server_apply": _time_us(old_apply, repeats),
        "server_encode_reply": _time_us(old_encode_reply, repeats),
        "worker_decode_reply": _time_us(lambda: from_tensor(descent_pb2.Parameters.FromString(reply).weights), repeats),
    }
    server_keys = [k for k in new if k.startswith("server_")]
    return {
        "shape": list(shape),
        "megabytes": round(grad.nbytes / 1e6, 3),
        "now_us": new,
        "before_us": old,
        "server_total_now_us": round(sum(new[k] for k in server_keys), 1),
        "server_total_before_us": round(sum(old[k] for k in server_keys), 1),
    }


def server_cpu(steps: int, repeats: int, base: str | None, dataset: str) -> dict:
    """Server CPU µs per update of a real 2-worker async job (and of the ``base`` checkout's server)."""
    spec = descent_pb2.JobSpec(dataset=dataset, workers=2, steps=steps, lr=1e-3, reg=1e-3, batch_size=256, seed=0)
    checkouts = {"now": ROOT, **({"base": Path(base)} if base else {})}
    runs: dict[str, list[float]] = {name: [] for name in checkouts}
    rates: dict[str, list[float]] = {name: [] for name in checkouts}
    with tempfile.TemporaryDirectory() as state:
        servers = {name: Server(os.path.join(state, name), num_cpus=2, cwd=path) for name, path in checkouts.items()}
        try:
            warm = descent_pb2.JobSpec()
            warm.CopyFrom(spec)
            warm.steps = 200
            for server in servers.values():
                server.run_job(warm)
            for _ in range(repeats):
                for name, server in servers.items():
                    result = server.run_job(spec)
                    runs[name].append(round(result["server_cpu_s_per_update"] * 1e6, 1))
                    status = result["status"]
                    rates[name].append(round(status.steps / status.seconds, 1))
        finally:
            for server in servers.values():
                server.close()
    out = {"dataset": dataset, "workers": 2, "consistency": "async", "steps": steps}
    for name in checkouts:
        out[f"server_cpu_us_per_update_{name}"] = statistics.median(runs[name])
        out[f"updates_per_s_{name}"] = statistics.median(rates[name])
        out[f"runs_{name}"] = {"server_cpu_us_per_update": runs[name], "updates_per_s": rates[name]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--steps", type=int, default=20000, help="updates of the 2-worker job (its 50 curve points are a fixed cost per job)"
    )
    parser.add_argument("--round-trips", type=int, default=200)
    parser.add_argument("--dataset", default="synthetic:20000,3072,10")
    parser.add_argument("--base", help="another checkout whose server runs the same job, alternately")
    parser.add_argument("--skip-job", action="store_true", help="only the in-process parts")
    args = parser.parse_args()
    keep_freed_memory()
    report = {
        "load_average_before": list(os.getloadavg()),
        "breakdown": [breakdown(shape, args.repeats) for shape in SHAPES],
        "round_trip": [round_trip(shape, args.round_trips, args.repeats) for shape in SHAPES],
    }
    if not args.skip_job:
        report["server_cpu"] = server_cpu(args.steps, args.repeats, args.base, args.dataset)
    report["load_average_after"] = list(os.getloadavg())
    report.update(blas_facts())
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
