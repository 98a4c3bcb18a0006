"""Minibatch and Landscape answers as the ``--json`` objects scripts rely on, and as text tables."""

from __future__ import annotations

from typing import Any

from proto import descent_pb2
from proto.tensor import from_tensor


def minibatch_json(response: descent_pb2.MinibatchResponse) -> dict[str, Any]:
    """``minibatch --json``: ``rows`` of {batch_size, cosine_mean, cosine_std, us_per_example, full} and where."""
    rows = [
        {
            "batch_size": r.batch_size, "cosine_mean": r.cosine_mean, "cosine_std": r.cosine_std,
            "us_per_example": r.us_per_example, "full": r.full,
        }
        for r in response.rows
    ]
    return {
        "dataset": response.dataset, "job_id": response.job_id, "num_examples": response.num_examples,
        "draws": response.draws, "dtype": response.dtype, "seconds": response.seconds, "rows": rows,
    }


def minibatch_report(result: dict[str, Any]) -> str:
    """The rows as a table, then the two halves of the notes' claim in figures."""
    where = f"job {result['job_id']}'s W" if result.get("job_id") else "a random W"
    lines = [
        f"mini-batch vs full gradient at {where} on {result['dataset'] or '-'} ({result['num_examples']:,} training "
        f"examples, {result['draws']} draws per size; time of the {result['dtype']} vectorized gradient)",
        f"{'batch':>7}  {'cosine mean':>11}  {'std':>7}  {'µs/example':>10}",
    ]
    for r in result["rows"]:
        label = f"{r['batch_size']}{' (full)' if r['full'] else ''}"
        lines.append(f"{label:>7}  {r['cosine_mean']:>11.4f}  {r['cosine_std']:>7.4f}  {r['us_per_example']:>10.3f}")
    by_size = {r["batch_size"]: r for r in result["rows"]}
    if 1 in by_size and 256 in by_size:
        ratio = by_size[1]["us_per_example"] / by_size[256]["us_per_example"]
        lines.append(
            f"batch 256: cosine {by_size[256]['cosine_mean']:.3f}; time per example at batch 1 is {ratio:.1f}x that at 256"
        )
    if result.get("plot"):
        lines.append(f"plot: {result['plot']}")
    return "\n".join(lines)


def landscape_json(response: descent_pb2.LandscapeResponse) -> dict[str, Any]:
    """``landscape --json``: center_loss, line [{a, loss}], plane {a, b, loss (rows a, columns b)} and where."""
    return {
        "dataset": response.dataset, "job_id": response.job_id, "num_examples": response.num_examples,
        "direction_scale": response.direction_scale, "seconds": response.seconds, "tasks": response.tasks,
        "center_loss": response.center_loss,
        "line": [{"a": p.a, "loss": p.loss} for p in response.line],
        "plane": {
            "a": list(response.plane_a), "b": list(response.plane_b),
            "loss": from_tensor(response.plane_loss).tolist(),
        },
    }


def landscape_report(result: dict[str, Any]) -> str:
    """L(W), the line's extremes and the plane's, and the plot's path."""
    line = [p["loss"] for p in result["line"]]
    plane = [v for row in result["plane"]["loss"] for v in row]
    where = f"job {result['job_id']}'s W" if result.get("job_id") else "a random W"
    lines = [
        f"loss landscape at {where} on {result['dataset'] or '-'} ({result['num_examples']:,} examples, "
        f"{result['tasks']} Ray tasks, {result['seconds']:.2f} s)",
        f"L(W) = {result['center_loss']:.6g}",
        f"line L(W + a W1), a in [{result['line'][0]['a']:g}, {result['line'][-1]['a']:g}]: "
        f"min {min(line):.6g}, max {max(line):.6g}",
        f"plane L(W + a W1 + b W2), {len(result['plane']['a'])} x {len(result['plane']['b'])}: "
        f"min {min(plane):.6g}, max {max(plane):.6g}",
    ]
    if result.get("plot"):
        lines.append(f"plot: {result['plot']}")
    return "\n".join(lines)
