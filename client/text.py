"""Human-readable text for each command, rendered from the JSON dicts of ``client.render``.

Numbers are formatted for reading: losses and accuracies with 4 decimals,
relative errors like ``1.2e-09``, rates with thousands separators; an absent
value prints as ``-``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

DASH = "-"
#: Characters of a node id shown in text.
NODE_ID_CHARS = 12


def _fixed(value: float | None, digits: int = 4) -> str:
    return DASH if value is None else f"{value:.{digits}f}"


def _sci(value: float | None) -> str:
    return DASH if value is None else f"{value:.1e}"


def _g(value: float | None) -> str:
    return DASH if value is None else f"{value:g}"


def _when(value: float | None) -> str:
    return DASH if value is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))


def _short(node_id: str) -> str:
    """Ray's 56-hex node ids, shortened like git's and docker's (JSON keeps them whole)."""
    return node_id[:NODE_ID_CHARS] if node_id else DASH


def _step(value: float) -> str:
    """A step size in short scientific form: 1e-10, 2.5e-03, 3.1623e-10 (at most 5 significant digits)."""
    return np.format_float_scientific(value, precision=4, trim="-", exp_digits=2)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool] | None = None) -> str:
    """Align ``rows`` under ``headers`` in columns two spaces apart (``right`` marks right-aligned columns)."""
    right = right or [False] * len(headers)
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]

    def line(cells: Sequence[str]) -> str:
        parts = [str(c).rjust(w) if r else str(c).ljust(w) for c, w, r in zip(cells, widths, right)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])


def _fields(pairs: Sequence[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in pairs)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in pairs)


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
        f"{_g(workers)} worker{'' if workers == 1 else 's'}",
        f"batch {_g(job['batch_size'])}",
        f"lr {_g(job['lr'])}",
        f"reg {_g(job['reg'])}",
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
        ("loss", _fixed(job["loss"])),
        (
            "accuracy",
            f"train {_fixed(job['train_accuracy'])}  val {_fixed(job['val_accuracy'])}  "
            f"test {_fixed(job['test_accuracy'])}",
        ),
        ("time", f"{_fixed(job['seconds'], 1)} s, {(job['examples_per_second'] or 0):,.0f} examples/s"),
    ]
    for i, w in enumerate(job["per_worker"]):
        pairs.append(("workers" if i == 0 else "", f"{w['worker_id']} on node {_short(w['node_id'])}: {w['steps']} steps"))
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
                f"{_sci(check['max_rel_error_smooth'])} over {check['num_smooth']} smooth of {check['num_checked']} coordinates",
            )
        )
    rule = _update_rule(job)
    if rule:
        pairs.append(("update", rule))
    durability = _durability(job)
    if durability:
        pairs.append(("durability", durability))
    if job.get("message"):
        pairs.append(("message", job["message"]))
    return _fields(pairs)


def _consistency(job: dict[str, Any]) -> str:
    """``async, push every 1, overlap on; staleness p50 1, p99 2, max 3``."""
    stale = job.get("staleness") or {}
    overlap = "on" if job.get("overlap") and job["consistency"] != "sync" else "off"
    return (
        f"{job['consistency']}, push every {_g(job.get('push_every'))}, overlap {overlap}; "
        f"staleness p50 {stale.get('p50', 0)}, p99 {stale.get('p99', 0)}, max {stale.get('max', 0)}"
    )
#: The hyperparameters each update rule uses (see server/update_rules.py).
_RULE_PARAMS = {"momentum": ("momentum",), "nesterov": ("momentum",), "adagrad": ("eps",),
                "rmsprop": ("beta2", "eps"), "adam": ("beta1", "beta2", "eps")}


def _update_rule(job: dict[str, Any]) -> str:
    """``adam (beta1 0.9, beta2 0.999, eps 1e-08), lr cosine, now 0.00121``; '' for plain sgd at a constant lr."""
    optimizer, schedule = job.get("optimizer") or "sgd", job.get("lr_schedule") or "constant"
    if optimizer == "sgd" and schedule == "constant":
        return ""
    params = [f"{name} {_g(job.get(name))}" for name in _RULE_PARAMS.get(optimizer, ())]
    text = optimizer + (f" ({', '.join(params)})" if params else "")
    if schedule != "constant":
        text += f", lr {schedule}, now {_g(job.get('effective_lr'))}"
    return text


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
            _g(j["workers"]),
            _steps(j),
            _fixed(j["loss"]),
            _fixed(j["test_accuracy"]),
            _when(j.get("created_at")),
        ]
        for j in jobs
    ]
    headers = ["JOB", "STATE", "DATASET", "WORKERS", "STEPS", "LOSS", "TEST ACC", "CREATED"]
    return table(headers, rows, right=[False, False, False, True, True, True, True, False])


#: A check with more coordinates than this shows its worst ones, not every row.
MAX_CHECK_ROWS = 40
#: Rows shown per group (worst smooth, kinks) when a check is too long to list.
WORST_ROWS = 10


def _check_rows(checks: Sequence[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for c in checks:
        flags = [name for name, on in (("kink", c["kink"]), ("below-res", c["below_resolution"])) if on]
        rows.append(
            [
                str(c["index"][0]),
                str(c["index"][1]),
                DASH if c["analytic"] is None else f"{c['analytic']:.6e}",
                DASH if c["numeric"] is None else f"{c['numeric']:.6e}",
                _sci(c["rel_error"]),
                " ".join(flags),
            ]
        )
    return rows


def _check_table(checks: Sequence[dict[str, Any]]) -> str:
    return table(
        ["C", "D", "ANALYTIC", "NUMERIC", "REL ERROR", "FLAGS"],
        _check_rows(checks),
        right=[True, True, True, True, True, False],
    )


def _worst(checks: Sequence[dict[str, Any]], keep) -> list[dict[str, Any]]:
    chosen = [c for c in checks if keep(c)]
    return sorted(chosen, key=lambda c: -(c["rel_error"] or 0.0))[:WORST_ROWS]


def _check_body(check: dict[str, Any]) -> str:
    """Every row of a short check; the worst smooth and kink rows of a long one."""
    checks = check["checks"]
    if len(checks) <= MAX_CHECK_ROWS:
        return _check_table(checks)
    parts = []
    smooth = _worst(checks, lambda c: not (c["kink"] or c["below_resolution"]))
    if smooth:
        parts += [f"largest relative errors among {check.get('num_smooth', len(smooth)):,} smooth coordinates:", _check_table(smooth)]
    kinks = _worst(checks, lambda c: c["kink"])
    if kinks:
        parts += ["", f"largest among {check.get('num_kink', len(kinks)):,} kink coordinates:", _check_table(kinks)]
    below = check.get("num_below_resolution") or 0
    if below:
        parts += ["", f"{below:,} below-resolution coordinates (see --json for every row)"]
    return "\n".join(parts)


def _by_h_table(check: dict[str, Any]) -> str:
    rows = []
    for row in check["by_h"]:
        centered, forward = row["centered"], row["forward"]
        rows.append(
            [
                f"{row['h']:g}",
                _sci(centered["max_rel_error_smooth"]),
                _sci(centered["mean_rel_error_smooth"]),
                _sci(forward["max_rel_error_smooth"]) + ("*" if forward["forward_error_expected"] else ""),
                _sci(forward["mean_rel_error_smooth"]),
                str(centered["num_smooth"]),
                str(centered["num_kink"]),
                str(centered["num_below_resolution"]),
            ]
        )
    body = table(
        ["H", "CENTERED MAX", "MEAN", "FORWARD MAX", "MEAN", "SMOOTH", "KINK", "BELOW-RES"],
        rows,
        right=[True] * 8,
    )
    method = check.get("method") or "incremental"
    rounding = (
        "brute subtracts two whole losses, so its\n  rounding error (about eps·|f|/h) grows as h shrinks"
        if method == "brute"
        else "incremental never subtracts two\n  whole losses, so its rounding stays small (--method brute shows the classic eps·|f|/h growth)"
    )
    notes = [
        "relative error over smooth coordinates; * = every forward error is within truncation reg·h + rounding",
        "- truncation: forward's shrinks with h (O(h)); centered has none between kinks (the loss is piecewise",
        "  quadratic), but a larger h crosses more kinks",
        f"- rounding: a smaller h puts more gradients below resolution; {rounding}",
    ]
    return "\n".join(["error vs h (" + method + ")", body, *notes])


def gradcheck_report(check: dict[str, Any]) -> str:
    """The gradient check: its rows (or the worst of them), the verdict and its reasons, the error-vs-h table."""
    where = f"job {check['job_id']} on {check['dataset'] or DASH}" if check.get("job_id") else (check["dataset"] or DASH)
    scope = (
        f"all {check.get('num_coordinates', len(check['checks'])):,} coordinates"
        if check.get("full")
        else f"{len(check['checks'])} random coordinates"
    )
    method = check.get("method")
    head = (
        f"gradient check on {where} ({check['num_examples']} examples), {scope}, "
        f"{check['formula']} difference, h={check['h']:g}, loss {_fixed(check['loss'])}"
    )
    if method:
        head += f", {method}"
        if check.get("seconds") is not None:
            head += f" in {check['seconds']:.2f} s ({check.get('tasks') or 1} task{'' if check.get('tasks') == 1 else 's'})"
    verdict = "PASSED" if check["passed"] else "FAILED"
    relation = "<" if check["max_rel_error_smooth"] is not None and check["max_rel_error_smooth"] < check["threshold"] else ">="
    line = (
        f"{verdict}: max relative error {_sci(check['max_rel_error'])} "
        f"(smooth coordinates {_sci(check['max_rel_error_smooth'])} {relation} threshold {check['threshold']:g})"
    )
    if check.get("verdict"):
        line += f" — {check['verdict']} on the notes' scale"
        if check.get("formula") == "forward" and check.get("forward_error_expected"):
            line += ", all of it the forward formula's own error"
    parts = [head, _check_body(check), line]
    parts += [f"  - {note}" for note in check.get("notes") or []]
    if check.get("by_h"):
        parts += ["", _by_h_table(check)]
    return "\n".join(parts)


def sweep_report(sweep: dict[str, Any]) -> str:
    """The step-size sweep as in the notes: the original loss, then one line per step size, then the best."""
    where = f"job {sweep['job_id']}'s W" if sweep.get("job_id") else "a random W"
    lines = [f"original loss: {_fixed(sweep['loss_original'], 6)}"]
    for row in sweep["rows"]:
        mark = "  <- best" if row["step_size"] == sweep["best_step_size"] else ""
        lines.append(f"for step size {_step(row['step_size'])} new loss: {_fixed(row['loss'], 6)}{mark}")
    if sweep.get("best_step_size") is not None and sweep.get("num_examples"):
        lines.append(
            f"best step size: {_step(sweep['best_step_size'])} (at {where} on {sweep['dataset'] or DASH}, "
            f"{sweep['num_examples']:,} examples)"
        )
    if sweep.get("plot"):
        lines.append(f"plot: {sweep['plot']}")
    return "\n".join(lines)


def cluster_report(cluster: dict[str, Any]) -> str:
    """Nodes, CPU totals and the active workers of each job."""
    nodes = table(
        ["NODE", "ADDRESS", "STATE", "CPUS", "ROLES"],
        [
            [_short(n["node_id"]), n["address"], "alive" if n["alive"] else "dead", f"{n['cpus']:g}" if n["alive"] else DASH,
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
                [[w["job_id"], w["worker_id"], _short(w["node_id"])] for w in cluster["workers"]],
            )
        )
    else:
        lines.append("no active workers")
    return "\n".join(lines)


def weights_report(saved: dict[str, Any]) -> str:
    """One line about a saved W."""
    shape = " x ".join(str(s) for s in saved["shape"])
    return f"saved W of job {saved['job_id']} to {saved['path']}: shape {shape}, {saved['dtype']}, version {saved['version']}"
