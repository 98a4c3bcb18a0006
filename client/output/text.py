"""Human-readable text of the job commands (train, status, jobs, weights) and of `descent cluster`,
rendered from the JSON dicts of ``client.output.render``.

Numbers are formatted for reading: losses and accuracies with 4 decimals,
relative errors like ``1.2e-09``, rates with thousands separators; an absent
value prints as ``-``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from client.output.text_format import DASH, fields, fmt_fixed, fmt_g, fmt_sci, fmt_when, short_node, table


def _steps(job: dict[str, Any]) -> str:
    total = job.get("total_steps")
    return f"{job['steps']}/{total}" if total is not None else str(job["steps"])


def job_summary(job: dict[str, Any]) -> str:
    """A job's status as labelled lines (``train``, ``status``, ``watch``, ``cancel``)."""
    data = job["dataset"] or DASH
    if job.get("num_classes"):
        data += (
            f" ({job['num_classes']} classes, {job['num_features']} features with bias; "
            f"{job['num_train']:,} train / {job['num_val']:,} val / {job['num_test']:,} test)"
        )
    workers = job["workers"]
    setup = [
        f"{fmt_g(workers)} worker{'' if workers == 1 else 's'}",
        f"batch {fmt_g(job['batch_size'])}",
        f"lr {fmt_g(job['lr'])}",
        f"reg {fmt_g(job['reg'])}",
    ]
    if job.get("dtype"):
        setup.append(job["dtype"])
    if job.get("seed") is not None:
        setup.append(f"seed {job['seed']}")
    pairs = [
        ("job", job["job_id"]),
        ("state", job["state"]),
        ("dataset", data),
        ("training", ", ".join(setup)),
        ("steps", _steps(job)),
        ("loss", fmt_fixed(job["loss"])),
        (
            "accuracy",
            f"train {fmt_fixed(job['train_accuracy'])}  val {fmt_fixed(job['val_accuracy'])}  "
            f"test {fmt_fixed(job['test_accuracy'])}",
        ),
        ("time", f"{fmt_fixed(job['seconds'], 1)} s, {(job['examples_per_second'] or 0):,.0f} examples/s"),
    ]
    for i, w in enumerate(job["per_worker"]):
        pairs.append(("workers" if i == 0 else "", f"{w['worker_id']} on node {short_node(w['node_id'])}: {w['steps']} steps"))
    if job.get("max_workers"):
        pairs.append(("elastic", _elastic(job)))
        pairs += [("" , membership_line(change)) for change in job.get("membership", [])[-5:]]
    if job.get("consistency"):
        pairs.append(("consistency", _consistency(job)))
    if job.get("gradient") == "numerical":
        pairs.append(("gradient", _gradient_cost(job)))
    check = job.get("first_batch_check")
    if check:
        pairs.append(
            (
                "grad check",
                f"first batch: {'passed' if check['passed'] else 'FAILED'} ({check['level']}), max relative error "
                f"{fmt_sci(check['max_rel_error_smooth'])} over {check['num_smooth']} smooth of {check['num_checked']} coordinates",
            )
        )
    if job.get("push_bytes") or (job.get("compress") or "none") != "none":
        pairs.append(("pushed", _pushed(job)))
    rule = _update_rule(job)
    if rule:
        pairs.append(("update", rule))
    if job.get("parent"):
        pairs.append(("continues", f"{job['parent']} (after {job['parent_steps']:,} updates of its chain)"))
    durability = _durability(job)
    if durability:
        pairs.append(("durability", durability))
    if job.get("message"):
        pairs.append(("message", job["message"]))
    return fields(pairs)


def _pushed(job: dict[str, Any]) -> str:
    """``1,234,567 gradient bytes over gRPC (compress topk:0.01)``."""
    return f"{job.get('push_bytes') or 0:,} gradient bytes over gRPC (compress {job.get('compress') or 'none'})"


def _consistency(job: dict[str, Any]) -> str:
    """``async, push every 1, overlap on; staleness p50 1, p99 2, max 3``."""
    stale = job.get("staleness") or {}
    overlap = "on" if job.get("overlap") and job["consistency"] != "sync" else "off"
    return (
        f"{job['consistency']}, push every {fmt_g(job.get('push_every'))}, overlap {overlap}; "
        f"staleness p50 {stale.get('p50', 0)}, p99 {stale.get('p99', 0)}, max {stale.get('max', 0)}"
    )
#: The hyperparameters each update rule uses (see server/params/update_rules.py).
_RULE_PARAMS = {"momentum": ("momentum",), "nesterov": ("momentum",), "adagrad": ("eps",),
                "rmsprop": ("beta2", "eps"), "adam": ("beta1", "beta2", "eps")}


def _update_rule(job: dict[str, Any]) -> str:
    """``adam (beta1 0.9, beta2 0.999, eps 1e-08), lr cosine, now 0.00121``; '' for plain sgd at a constant lr."""
    optimizer, schedule = job.get("optimizer") or "sgd", job.get("lr_schedule") or "constant"
    if optimizer == "sgd" and schedule == "constant":
        return ""
    params = [f"{name} {fmt_g(job.get(name))}" for name in _RULE_PARAMS.get(optimizer, ())]
    text = optimizer + (f" ({', '.join(params)})" if params else "")
    if schedule != "constant":
        text += f", lr {schedule}, now {fmt_g(job.get('effective_lr'))}"
    return text


def _elastic(job: dict[str, Any]) -> str:
    """``3 workers now, target 4, bounds 1..4; 7 membership changes``."""
    changes = len(job.get("membership", []))
    return (f"{job.get('current_workers', 0)} workers now, target {fmt_g(job['workers'])}, bounds "
            f"{job['min_workers']}..{job['max_workers']}; {changes} membership change{'' if changes == 1 else 's'}")


def membership_line(change: dict[str, Any]) -> str:
    """``2026-01-01T10:00:00Z join job-1-w2 on node 1a2b3c (CPUs free): 3 workers``."""
    node = f" on node {short_node(change['node_id'])}" if change.get("node_id") else ""
    return f"{change['time']} {change['change']} {change['worker_id']}{node} ({change['reason']}): {change['workers']} workers"


def _durability(job: dict[str, Any]) -> str:
    """``resumed 1x (from version 5171), 1 worker replaced, checkpoint at 35000``, or '' when none of it happened."""
    parts = []
    if job.get("restarts"):
        parts.append(f"resumed {job['restarts']}x (last from version {job.get('resumed_from', 0)})")
    if job.get("worker_restarts"):
        parts.append(f"{job['worker_restarts']} worker replacement(s)")
    if job.get("checkpoint_version") and job.get("state") not in ("SUCCEEDED", "FAILED", "CANCELLED"):
        parts.append(f"checkpoint at version {job['checkpoint_version']}")
    if job.get("checkpoint_error"):
        parts.append(f"CHECKPOINT FAILING: {job['checkpoint_error']}")
    return ", ".join(parts)


def _gradient_cost(job: dict[str, Any]) -> str:
    """``numerical (incremental): 18.7 ms/step vs analytic 0.35 ms/step (53x)``."""
    text = f"numerical ({job.get('numerical_method') or 'incremental'})"
    numerical, analytic = job.get("gradient_seconds_per_step"), job.get("analytic_seconds_per_step")
    if numerical:
        text += f": {numerical * 1e3:.3g} ms/step"
        if analytic:
            text += f" vs analytic {analytic * 1e3:.3g} ms/step ({numerical / analytic:,.0f}x)"
    return text


def jobs_table(jobs: Sequence[dict[str, Any]]) -> str:
    """The ``jobs`` table: id, state, dataset, workers, steps, loss, test accuracy, created."""
    if not jobs:
        return "no jobs"
    rows = [
        [
            j["job_id"],
            j["state"],
            j["dataset"] or DASH,
            fmt_g(j["workers"]),
            _steps(j),
            fmt_fixed(j["loss"]),
            fmt_fixed(j["test_accuracy"]),
            fmt_when(j.get("created_at")),
        ]
        for j in jobs
    ]
    headers = ["JOB", "STATE", "DATASET", "WORKERS", "STEPS", "LOSS", "TEST ACC", "CREATED"]
    return table(headers, rows, right=[False, False, False, True, True, True, True, False])


def cluster_report(cluster: dict[str, Any]) -> str:
    """Nodes, CPU totals and the active workers of each job."""
    nodes = table(
        ["NODE", "ADDRESS", "STATE", "CPUS", "ROLES"],
        [
            [short_node(n["node_id"]), n["address"], "alive" if n["alive"] else "dead", f"{n['cpus']:g}" if n["alive"] else DASH,
             ",".join(n.get("roles", [])) or DASH]
            for n in cluster["nodes"]
        ],
        right=[False, False, False, True, False],
    )
    lines = [
        f"server       descent {cluster.get('server_version') or DASH}",
        f"ray address  {cluster['ray_address'] or DASH}",
        f"cpus         {cluster['total_cpus']:g} total, {cluster['available_cpus']:g} available",
        "",
        nodes,
        "",
    ]
    if cluster["workers"]:
        lines.append(
            table(
                ["JOB", "WORKER", "NODE"],
                [[w["job_id"], w["worker_id"], short_node(w["node_id"])] for w in cluster["workers"]],
            )
        )
    else:
        lines.append("no active workers")
    return "\n".join(lines)


def weights_report(saved: dict[str, Any]) -> str:
    """One line about a saved W."""
    shape = " x ".join(str(s) for s in saved["shape"])
    return f"saved W of job {saved['job_id']} to {saved['path']}: shape {shape}, {saved['dtype']}, version {saved['version']}"
