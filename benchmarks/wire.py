"""Bytes on the wire per push, for each ``--compress`` kind, as one JSON document.

For W of ``synthetic:20000,3072,10`` (10 x 3073) and a 1000-class W (1000 x 3073), float32,
each kind's push is built exactly as a worker sends it (worker.task.wire: the gradient in
the message, or a ``CompressedGradient``) with a worker's usual scalar fields, and counted:
``bytes_per_push`` (all the serialized PushStream messages of one push), ``payload_bytes``
(the arrays alone, what ``JobStatus.push_bytes`` adds up), ``ratio`` (uncompressed bytes ÷
these), and ``relative_error`` of a job's first SVM gradient decoded (||decoded - g|| / ||g||;
top-k's residual is sent by later pushes, error feedback). No timing: a rate-limited link belongs to a later benchmark.

    python benchmarks/wire.py [--kinds none,fp16,int8,topk:0.01,topk:0.001]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from proto import descent_pb2  # noqa: E402
from proto.wire import push_request_messages  # noqa: E402
from worker.compress import decode, encode, parse_compress  # noqa: E402
from worker.kernel import svm_loss_grad  # noqa: E402
from worker.task.compressed import payload_bytes, to_message  # noqa: E402

SHAPES = {"synthetic:20000,3072,10": (10, 3073), "1000-class": (1000, 3073)}
KINDS = "none,fp16,int8,topk:0.01,topk:0.001"
#: The scalar fields a worker's push carries (ids of a usual length, a 32-character secret).
FIELDS = dict(job_id="job-0123456789ab", worker_id="job-0123456789ab-w0", node_id="0" * 56, secret="s" * 32)


def push_messages(grad: np.ndarray, kind: str) -> tuple[list[bytes], int, np.ndarray]:
    """One push of ``grad`` as the worker sends it: its messages, payload bytes, and what the server decodes."""
    scalars = dict(loss=1.2345, version=123_456, updates=1, **FIELDS)
    codec = parse_compress(kind)
    if not codec.active:
        return push_request_messages(grad, **scalars), grad.nbytes, grad
    compressed = encode(grad, codec)
    message = to_message(compressed)
    request = descent_pb2.PushRequest(compressed=message, **scalars).SerializeToString()
    return [request], payload_bytes(message), decode(compressed, grad.shape, grad.dtype)


def first_gradient(rng: np.random.Generator, shape: tuple[int, int], batch: int = 256) -> np.ndarray:
    """A job's first SVM gradient: W = 1e-3 randn, one batch of standard-normal rows with a bias column."""
    classes, features = shape
    W = (1e-3 * rng.standard_normal(shape)).astype(np.float32)
    X = np.hstack([rng.standard_normal((batch, features - 1)), np.ones((batch, 1))]).astype(np.float32)
    return svm_loss_grad(W, X, rng.integers(0, classes, batch), 1e-5)[1]


def measure(kinds: list[str]) -> dict:
    rng = np.random.default_rng(0)
    out = {}
    for name, shape in SHAPES.items():
        grad = first_gradient(rng, shape)
        rows, plain = {}, None
        for kind in kinds:
            messages, payload, decoded = push_messages(grad, kind)
            sent = sum(len(m) for m in messages)
            plain = sent if kind == "none" else plain
            rows[kind] = {
                "bytes_per_push": sent,
                "payload_bytes": payload,
                "messages": len(messages),
                "relative_error": float(np.linalg.norm(decoded - grad) / np.linalg.norm(grad)),
            }
        for row in rows.values():
            row["ratio"] = round(plain / row["bytes_per_push"], 2) if plain else None
        out[name] = {"W": list(shape), "dtype": "float32", "kinds": rows}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", default=KINDS, help=f"comma-separated --compress values (default {KINDS})")
    args = parser.parse_args()
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if "none" not in kinds:
        kinds.insert(0, "none")
    print(json.dumps({"benchmark": "wire", "shapes": measure(kinds)}, indent=2))


if __name__ == "__main__":
    main()
