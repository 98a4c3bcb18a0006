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
    """A step size in the shortest exact scientific form: 1e-10, 2.5e-03."""
    return np.format_float_scientific(value, trim="-", exp_digits=2)


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
    if job.get("message"):
        pairs.append(("message", job["message"]))
    return _fields(pairs)


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


def gradcheck_report(check: dict[str, Any]) -> str:
    """The gradient check table and its verdict line."""
    head = (
        f"gradient check on {check['dataset'] or DASH} ({check['num_examples']} examples), "
        f"{check['formula']} difference, h={check['h']:g}, loss {_fixed(check['loss'])}"
    )
    rows = []
    for c in check["checks"]:
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
    body = table(
        ["C", "D", "ANALYTIC", "NUMERIC", "REL ERROR", "FLAGS"], rows, right=[True, True, True, True, True, False]
    )
    verdict = "PASSED" if check["passed"] else "FAILED"
    relation = "<" if check["passed"] else ">="
    line = (
        f"{verdict}: max relative error {_sci(check['max_rel_error'])} "
        f"(smooth coordinates {_sci(check['max_rel_error_smooth'])} {relation} threshold {check['threshold']:g})"
    )
    return "\n".join([head, body, line])


def sweep_report(sweep: dict[str, Any]) -> str:
    """The step-size sweep as in the notes: the original loss, then one line per step size."""
    lines = [f"original loss: {_fixed(sweep['loss_original'], 6)}"]
    for row in sweep["rows"]:
        mark = "  <- best" if row["step_size"] == sweep["best_step_size"] else ""
        lines.append(f"for step size {_step(row['step_size'])} new loss: {_fixed(row['loss'], 6)}{mark}")
    return "\n".join(lines)


def cluster_report(cluster: dict[str, Any]) -> str:
    """Nodes, CPU totals and the active workers of each job."""
    nodes = table(
        ["NODE", "ADDRESS", "ALIVE", "CPUS", "HEAD"],
        [
            [_short(n["node_id"]), n["address"], "yes" if n["alive"] else "no", f"{n['cpus']:g}", "head" if n["is_head"] else ""]
            for n in cluster["nodes"]
        ],
        right=[False, False, False, True, False],
    )
    lines = [
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
