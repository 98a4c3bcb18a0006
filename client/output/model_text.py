"""What export, predict and evaluate print: JSON objects, and the text reports made from them."""

from __future__ import annotations

from typing import Any

import numpy as np


def export_report(saved: dict[str, Any]) -> str:
    """A few lines about a written model file (and test split)."""
    accuracy = "unknown" if saved["test_accuracy"] is None else f"{saved['test_accuracy']:.6g}"
    lines = [
        f"model of job {saved['job_id']} (version {saved['version']}) written to {saved['path']}",
        f"  {saved['dataset']}: {saved['num_classes']} classes, {saved['num_features']} features, {saved['dtype']}; "
        f"test accuracy {accuracy}",
    ]
    if saved["test_split"] is not None:
        lines.append(f"  test split ({saved['num_test']} examples, raw X and y) written to {saved['test_split']}")
    return "\n".join(lines)


def predictions_json(model: str, class_names, inputs, labels: np.ndarray, scores: np.ndarray | None) -> dict[str, Any]:
    """The ``predict --json`` object: one entry per example, the accuracy when the inputs have labels."""
    result: dict[str, Any] = {
        "model": model,
        "num_examples": int(len(labels)),
        "predictions": [
            {"name": name, "label": int(label), "class": class_names[label]} for name, label in zip(inputs.names, labels)
        ],
    }
    if scores is not None:
        result["scores"] = np.asarray(scores, dtype=np.float64).tolist()
    if inputs.y is not None:
        result["accuracy"] = float(np.mean(labels == inputs.y))
    return result


def predictions_report(result: dict[str, Any]) -> str:
    """One line per example (name, class, scores), then the accuracy when known."""
    lines = []
    scores = result.get("scores")
    for i, row in enumerate(result.get("predictions", [])):
        line = f"{row['name']}\t{row['class']}"
        if scores is not None:
            line += "\t" + " ".join(f"{s:.6g}" for s in scores[i])
        lines.append(line)
    if "out" in result:
        lines.append(f"{result['num_examples']} predictions written to {result['out']}")
    if "accuracy" in result:
        lines.append(f"accuracy {result['accuracy']!r} on {result['num_examples']} labelled examples")
    return "\n".join(lines)


def evaluation_json(result: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
    """The ``evaluate --json`` object: the run's facts plus the per-class figures and the matrix as lists."""
    return {
        "model": result["model"], "job_id": result["job_id"], "dataset": result["dataset"], "split": result["split"],
        "num_examples": summary["num_examples"], "accuracy": result["accuracy"], "class_names": result["class_names"],
        "support": summary["support"], "precision": summary["precision"], "recall": summary["recall"],
        "confusion": np.asarray(result["confusion"]).tolist(),
    }


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def evaluation_report(result: dict[str, Any]) -> str:
    """Accuracy, a per-class table (support, precision, recall) and the confusion matrix as a table."""
    names = result["class_names"]
    width = max(5, *(len(n) for n in names))
    lines = [
        f"{result['model']} on {result['dataset']} ({result['split']}): {result['num_examples']} examples",
        f"accuracy {result['accuracy']!r}",
        "",
        f"{'class':<{width}}  {'support':>7}  {'precision':>9}  {'recall':>7}",
    ]
    for name, support, precision, recall in zip(names, result["support"], result["precision"], result["recall"]):
        lines.append(f"{name:<{width}}  {support:>7}  {_figure(precision):>9}  {_figure(recall):>7}")
    confusion = result["confusion"]
    cell = max(len(str(v)) for row in confusion for v in row)
    cell = max(cell, *(len(n) for n in names))
    lines += ["", "confusion matrix (rows: true class, columns: predicted class)"]
    lines.append(" " * width + "  " + " ".join(f"{n:>{cell}}" for n in names))
    for name, row in zip(names, confusion):
        lines.append(f"{name:<{width}}  " + " ".join(f"{v:>{cell}}" for v in row))
    if "plot" in result:
        lines += ["", f"plot written to {result['plot']}"]
    return "\n".join(lines)
