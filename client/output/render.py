"""Protocol messages → the JSON objects printed by ``--json`` (the CLI's output contract).

Keys are fixed here and only here; the human-readable text (``client.output.text``)
is rendered from these same dicts. Unset optional fields become ``null``, enums
become their names, and non-finite floats (a diverged loss) become ``null`` so
the output is strict JSON.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from client.output.notes_render import curve_points_json
from proto import descent_pb2
from proto.job_fields import JOB_FIELDS
from proto.names import FORMULA_NAMES, METHOD_NAMES, state_name


def _num(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _optional(message, field: str):
    """The field's value if set (proto3 ``optional`` presence), else None."""
    if not message.HasField(field):
        return None
    value = getattr(message, field)
    return _num(value) if isinstance(value, float) else value


def _time(value: float) -> float | None:
    return float(value) if value > 0 else None


def job_json(status: descent_pb2.JobStatus) -> dict[str, Any]:
    """One job as the ``train``/``status``/``jobs`` JSON object."""
    spec = status.spec
    obj: dict[str, Any] = {
        "job_id": status.job_id,
        "state": state_name(status.state),
        "dataset": spec.dataset,
        "workers": _optional(spec, "workers"),
        "batch_size": _optional(spec, "batch_size"),
        "steps": status.steps,
        "lr": _optional(spec, "lr"),
        "reg": _optional(spec, "reg"),
        "loss": _num(status.loss),
        "train_accuracy": _optional(status, "train_accuracy"),
        "val_accuracy": _optional(status, "val_accuracy"),
        "test_accuracy": _optional(status, "test_accuracy"),
        "seconds": _num(status.seconds),
        "examples_per_second": _num(status.examples_per_second),
        "per_worker": [
            {"worker_id": w.worker_id, "node_id": w.node_id, "steps": w.steps} for w in status.per_worker
        ],
        # beyond the contract
        "total_steps": _optional(spec, "steps"),
        "seed": _optional(spec, "seed"),
        "dtype": _optional(spec, "dtype"),
        "init_scale": _optional(spec, "init_scale"),
        "message": status.message,
        "version": status.version,
        "created_at": _time(status.created_at),
        "started_at": _time(status.started_at),
        "finished_at": _time(status.finished_at),
        "num_classes": status.num_classes,
        "num_features": status.num_features,
        "num_train": status.num_train,
        "num_val": status.num_val,
        "num_test": status.num_test,
        "gradient": _optional(spec, "gradient"),
        "numerical_method": _optional(spec, "numerical_method"),
        "check_gradient": _optional(spec, "check_gradient"),
        "strategy": spec.strategy or "gradient",
        "loss_evaluations": status.loss_evaluations,
        "gradient_seconds_per_step": _num(status.gradient_seconds_per_step) or None,
        "analytic_seconds_per_step": _num(status.analytic_seconds_per_step) or None,
        "first_batch_check": summary_json(status.first_batch_check) if status.HasField("first_batch_check") else None,
        # durability: resumes after a server stopped, replaced workers, checkpoints
        "restarts": status.restarts,
        "resumed_from": status.resumed_from,
        "worker_restarts": status.worker_restarts,
        "refused_stale_pushes": status.refused_stale_pushes,
        "duplicate_pushes": status.duplicate_pushes,
        "checkpoint_version": status.checkpoint_version,
        "checkpoint_at": _time(status.checkpoint_at),
        "checkpoint_error": status.checkpoint_error or None,
        # consistency and staleness (updates between the W a gradient was computed on and the W it met)
        "consistency": _optional(spec, "consistency"),
        "push_every": _optional(spec, "push_every"),
        "overlap": _optional(spec, "overlap"),
        "staleness": {
            "histogram": list(status.staleness_histogram),
            "p50": status.staleness_p50,
            "p99": status.staleness_p99,
            "max": status.staleness_max,
        },
        # the update rule at the parameter server and the step size of its next update
        "optimizer": _optional(spec, "optimizer"),
        "momentum": _optional(spec, "momentum"),
        "beta1": _optional(spec, "beta1"),
        "beta2": _optional(spec, "beta2"),
        "eps": _optional(spec, "eps"),
        "lr_schedule": _optional(spec, "lr_schedule"),
        "effective_lr": _num(status.effective_lr) or None,
        # gradient compression on the push path and the payload bytes pushed over gRPC
        "compress": _optional(spec, "compress"),
        "push_bytes": status.push_bytes,
        # a job continued from another (init_from): its parent and the chain's updates before it
        "parent": status.parent or None,
        "parent_steps": status.parent_steps,
    }
    for field in JOB_FIELDS:  # any other hyperparameter (proto.job_fields) under its own name
        if field.name not in obj and field.name != "steps":
            obj[field.name] = _optional(spec, field.name)
    if spec.HasField("max_workers"):  # an elastic job: its workers now and every join and leave
        obj["current_workers"] = status.current_workers
        obj["membership"] = [membership_json(change) for change in status.membership]
    if status.loss_history:
        obj["loss_history"] = [_num(x) for x in status.loss_history]
    if status.curve:
        obj["curve"] = curve_points_json(status)
    return obj


def membership_json(change: descent_pb2.MembershipChange) -> dict[str, Any]:
    """One join or leave of an elastic job's workers."""
    return {
        "time": _time(change.time), "change": "join" if change.joined else "leave", "worker_id": change.worker_id,
        "node_id": change.node_id, "reason": change.reason, "workers": change.workers,
    }


def summary_json(summary: descent_pb2.CheckSummary) -> dict[str, Any]:
    """The figures of one check (one h, one formula): counts, errors, level."""
    return {
        "h": summary.h,
        "formula": FORMULA_NAMES.get(summary.formula, "centered"),
        "num_checked": summary.num_checked,
        "num_smooth": summary.num_smooth,
        "num_kink": summary.num_kink,
        "num_below_resolution": summary.num_below_resolution,
        "max_rel_error": _num(summary.max_rel_error),
        "max_rel_error_smooth": _num(summary.max_rel_error_smooth),
        "mean_rel_error_smooth": _num(summary.mean_rel_error_smooth),
        "max_rel_error_kink": _num(summary.max_rel_error_kink),
        "max_abs_error_smooth": _num(summary.max_abs_error_smooth),
        "threshold": summary.threshold,
        "resolution": _num(summary.resolution),
        "passed": summary.passed,
        "level": summary.level,
        "forward_error_expected": summary.forward_error_expected,
    }


def gradcheck_json(response: descent_pb2.GradientCheckResponse) -> dict[str, Any]:
    """A gradient check as the ``gradcheck --json`` object."""
    summary = response.summary
    return {
        "formula": FORMULA_NAMES.get(response.formula, descent_pb2.Formula.Name(response.formula).lower()),
        "h": response.h,
        "checks": [
            {
                "index": [c.c, c.d],
                "analytic": _num(c.analytic),
                "numeric": _num(c.numeric),
                "rel_error": _num(c.rel_error),
                "kink": c.kink,
                "below_resolution": c.below_resolution,
            }
            for c in response.checks
        ],
        "max_rel_error": _num(response.max_rel_error),
        "max_rel_error_smooth": _num(response.max_rel_error_smooth),
        "passed": response.passed,
        "loss": _num(response.loss),
        "threshold": response.threshold,
        "dataset": response.dataset,
        "num_examples": response.num_examples,
        # beyond the foundation's contract
        "method": METHOD_NAMES.get(response.method, "incremental"),
        "full": response.full,
        "job_id": response.job_id or None,
        "num_coordinates": response.num_coordinates,
        "num_checked": len(response.checks),
        "num_smooth": summary.num_smooth,
        "num_kink": summary.num_kink,
        "num_below_resolution": summary.num_below_resolution,
        "mean_rel_error_smooth": _num(summary.mean_rel_error_smooth),
        "max_rel_error_kink": _num(summary.max_rel_error_kink),
        "max_abs_error_smooth": _num(summary.max_abs_error_smooth),
        "resolution": _num(summary.resolution),
        "verdict": response.verdict or None,
        "forward_error_expected": summary.forward_error_expected,
        "notes": list(response.notes),
        "by_h": [
            {"h": row.h, "centered": summary_json(row.centered), "forward": summary_json(row.forward)}
            for row in response.by_h
        ],
        "seconds": _num(response.seconds),
        "tasks": response.tasks,
    }


def sweep_json(response: descent_pb2.StepSizeSweepResponse) -> dict[str, Any]:
    """A step-size sweep as the ``sweep --json`` object."""
    return {
        "loss_original": _num(response.loss_original),
        "rows": [{"step_size": row.step_size, "loss": _num(row.loss)} for row in response.rows],
        "best_step_size": _num(response.best_step_size),
        "dataset": response.dataset,
        "num_examples": response.num_examples,
        "job_id": response.job_id or None,
        "open_ended": response.open_ended,
        "seconds": _num(response.seconds),
        "tasks": response.tasks,
    }


def cluster_json(response: descent_pb2.ClusterInfoResponse) -> dict[str, Any]:
    """Cluster information as the ``cluster --json`` object."""
    return {
        "nodes": [
            {"node_id": n.node_id, "address": n.address, "alive": n.alive, "cpus": n.cpus, "is_head": n.is_head,
             "roles": list(n.roles)}
            for n in response.nodes
        ],
        "server_version": response.server_version,
        "total_cpus": response.total_cpus,
        "available_cpus": response.available_cpus,
        "workers": [{"job_id": w.job_id, "worker_id": w.worker_id, "node_id": w.node_id} for w in response.workers],
        "ray_address": response.ray_address,
    }


def weights_json(job_id: str, path: str, weights: np.ndarray, version: int) -> dict[str, Any]:
    """A saved W as the ``weights --json`` object."""
    return {
        "job_id": job_id,
        "path": path,
        "shape": list(weights.shape),
        "dtype": weights.dtype.name,
        "version": version,
    }
