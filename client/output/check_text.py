"""Human-readable text of ``descent gradcheck`` and ``sweep``, rendered from the JSON dicts of ``client.output.render``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from client.output.text_format import DASH, fmt_fixed, fmt_sci, fmt_step, table

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
                fmt_sci(c["rel_error"]),
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
                fmt_sci(centered["max_rel_error_smooth"]),
                fmt_sci(centered["mean_rel_error_smooth"]),
                fmt_sci(forward["max_rel_error_smooth"]) + ("*" if forward["forward_error_expected"] else ""),
                fmt_sci(forward["mean_rel_error_smooth"]),
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
        else "incremental never subtracts two\n  whole losses, so its rounding stays small "
        "(--method brute shows the classic eps·|f|/h growth)"
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
        f"{check['formula']} difference, h={check['h']:g}, loss {fmt_fixed(check['loss'])}"
    )
    if method:
        head += f", {method}"
        if check.get("seconds") is not None:
            head += f" in {check['seconds']:.2f} s ({check.get('tasks') or 1} task{'' if check.get('tasks') == 1 else 's'})"
    verdict = "PASSED" if check["passed"] else "FAILED"
    relation = "<" if check["max_rel_error_smooth"] is not None and check["max_rel_error_smooth"] < check["threshold"] else ">="
    line = (
        f"{verdict}: max relative error {fmt_sci(check['max_rel_error'])} "
        f"(smooth coordinates {fmt_sci(check['max_rel_error_smooth'])} {relation} threshold {check['threshold']:g})"
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
    lines = [f"original loss: {fmt_fixed(sweep['loss_original'], 6)}"]
    for row in sweep["rows"]:
        mark = "  <- best" if row["step_size"] == sweep["best_step_size"] else ""
        lines.append(f"for step size {fmt_step(row['step_size'])} new loss: {fmt_fixed(row['loss'], 6)}{mark}")
    if sweep.get("best_step_size") is not None and sweep.get("num_examples"):
        lines.append(
            f"best step size: {fmt_step(sweep['best_step_size'])} (at {where} on {sweep['dataset'] or DASH}, "
            f"{sweep['num_examples']:,} examples)"
        )
    if sweep.get("plot"):
        lines.append(f"plot: {sweep['plot']}")
    return "\n".join(lines)
