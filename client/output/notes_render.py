"""Minibatch and Landscape answers as the ``--json`` objects scripts rely on, and as text tables."""

from __future__ import annotations

import math
from typing import Any

from proto import descent_pb2
from proto.tensor import from_tensor

#: Points of a job's loss history at most (server.params.loss_history.MAX_BLOCKS): longer jobs keep block means.
MAX_HISTORY = 100_000


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


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def curve_points_json(status: descent_pb2.JobStatus) -> list[dict[str, Any]]:
    """The job's curve points as {step, seconds, val_accuracy, loss} (loss None where no update was averaged)."""
    return [
        {"step": p.step, "seconds": p.seconds, "val_accuracy": p.val_accuracy, "loss": _finite(p.loss)}
        for p in status.curve
    ]


def curve_json(status: descent_pb2.JobStatus) -> dict[str, Any]:
    """One job of ``curve --json``: its loss history (raw and smoothed) and its curve points."""
    spec = status.spec
    losses = list(status.loss_history)
    total = spec.steps if spec.HasField("steps") else len(losses)
    return {
        "job_id": status.job_id, "dataset": spec.dataset, "strategy": spec.strategy or "gradient",
        "lr": spec.lr, "steps": status.steps, "seconds": status.seconds,
        "history_block": max(1, math.ceil(total / MAX_HISTORY)),
        "loss_history": losses, "loss_smoothed": smooth(losses), "curve": curve_points_json(status),
        "val_accuracy": status.val_accuracy if status.HasField("val_accuracy") else None,
        "test_accuracy": status.test_accuracy if status.HasField("test_accuracy") else None,
        # an elastic job's joins and leaves, in seconds since it started running (marked on the time axis)
        "membership": [{"seconds": max(0.0, c.time - status.started_at), "change": "join" if c.joined else "leave",
                        "workers": c.workers} for c in status.membership if status.started_at],
    }


def chain_curve_json(chain: list[descent_pb2.JobStatus]) -> dict[str, Any]:
    """``curve --json`` of a job continued from others (``chain``: the root first): one line, its updates
    and seconds counted from the root's start; ``chain`` names the jobs on it."""
    parts = [curve_json(status) for status in chain]
    last = dict(parts[-1])
    block = min(part["history_block"] for part in parts)
    losses, points, seconds = [], [], 0.0
    for status, part in zip(chain, parts, strict=True):
        losses += [x for x in part["loss_history"] for _ in range(part["history_block"] // block)]
        points += [{**p, "step": p["step"] + status.parent_steps, "seconds": p["seconds"] + seconds} for p in part["curve"]]
        seconds += part["seconds"]
    last.update(chain=[status.job_id for status in chain], steps=chain[-1].parent_steps + chain[-1].steps,
                seconds=seconds, history_block=block, loss_history=losses, loss_smoothed=smooth(losses), curve=points)
    return last


def curve_report(result: dict[str, Any]) -> str:
    """Per job: steps, first and last smoothed loss, validation accuracy at each tenth of the curve."""
    lines = []
    for job in result["jobs"]:
        smoothed = job["loss_smoothed"]
        loss = f"smoothed loss {smoothed[0]:.4g} -> {smoothed[-1]:.4g}" if smoothed else "no loss history"
        lines.append(f"{job['job_id']} ({job['strategy']}, {job['dataset']}): {job['steps']:,} steps, {loss}")
        if len(job.get("chain", ())) > 1:
            lines.append(f"  continues {' -> '.join(job['chain'][:-1])}")
        points = job["curve"]
        shown = points[:: max(1, len(points) // 10)]
        for p in shown + ([points[-1]] if points and shown[-1] is not points[-1] else []):
            lines.append(f"  step {p['step']:>8,}  {p['seconds']:>8.2f} s  val accuracy {p['val_accuracy']:.4f}")
    if result.get("plot"):
        lines.append(f"plot: {result['plot']}")
    return "\n".join(lines)


def smooth(values, weight: float = 0.9) -> list[float]:
    """Exponential moving average of ``values`` (debiased at the start), as training dashboards smooth losses."""
    out, average = [], 0.0
    for i, v in enumerate(values):
        average = weight * average + (1 - weight) * v
        out.append(average / (1 - weight ** (i + 1)))
    return out
