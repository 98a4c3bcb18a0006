"""``descent export``, ``predict`` and ``evaluate``: a trained job as a model file, and using it.

MODEL|JOB arguments: an existing file is a model file, used locally (no server is
contacted); anything else is a job id, used on the server (``--server``, or an embedded
one). Inputs are read locally by formats.inputs in every case. Registered on the
``descent`` group by client.cli.
"""

from __future__ import annotations

import io
import os

import click
import numpy as np

from client.commands.kit import configs, connection_options, open_connection, print_json, reports_errors
from client.errors import CommandError
from client.output.atomic_file import write_atomically
from client.output.model_text import evaluation_json, evaluation_report, export_report, predictions_json, predictions_report
from client.plots.confusion_plot import save_confusion_plot
from client.rpc.model_calls import decoded
from formats.datasets import image_layout
from formats.inputs import read_dataset, read_inputs
from formats.model import HYPERPARAMETERS, Model, load_model, model_bytes
from formats.scoring import confusion_matrix, summarize
from proto import descent_pb2

MODEL_OR_JOB = "MODEL|JOB"


def _local_errors(work, *args):
    """Run local work; its ValueError / FileNotFoundError become CommandErrors (one line, exit 1)."""
    try:
        return work(*args)
    except FileNotFoundError as error:
        raise CommandError("NOT_FOUND", str(error)) from None
    except ValueError as error:  # ModelFileError included: a file that is not a model this descent reads
        raise CommandError("INVALID_ARGUMENT", str(error)) from None


def _is_model_file(target: str) -> bool:
    if os.path.isfile(target):
        return True
    if target.endswith(".npz") or os.sep in target:
        raise CommandError("NOT_FOUND", f"no model file {target}")
    return False


def model_from_export(info: descent_pb2.ModelInfo, arrays: dict) -> Model:
    """The Model of an ExportModel answer."""
    spec = info.spec
    return Model(
        W=arrays["W"], mean=arrays["mean"], scale=info.scale, class_names=tuple(info.class_names),
        dataset=spec.dataset, image_shape=tuple(info.image_shape), pixel_max=info.pixel_max,
        job_id=info.job_id, version=info.version,
        test_accuracy=info.test_accuracy if info.HasField("test_accuracy") else None,
        hyperparameters={name: getattr(spec, name) for name in HYPERPARAMETERS},
    )


def _npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@click.command()
@click.argument("job_id", metavar="JOB")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="Where to write the model (.npz).")
@click.option("--test-split", "test_path", type=click.Path(dir_okay=False),
              help="Also write the job's own test split, raw, as an .npz with X and y.")
@connection_options
@reports_errors
def export(job_id, out_path, test_path, server, state_dir, connect_timeout, as_json):
    """Write SUCCEEDED job JOB as a model file: W with its preprocessing, class names, spec, hyperparameters.

    The file is an .npz of plain arrays (np.load(..., allow_pickle=False)); docs/models.md shows
    the numpy lines that classify raw inputs with it.
    """
    connection, output = configs(server, state_dir, connect_timeout, as_json)
    with open_connection(connection) as api:
        info, arrays = api.export_model(job_id, include_test_split=test_path is not None)
    model = _local_errors(model_from_export, info, arrays)
    write_atomically(out_path, model_bytes(model))
    if test_path is not None:
        write_atomically(test_path, _npz_bytes(X=arrays["X_test"], y=arrays["y_test"]))
    saved = {
        "job_id": model.job_id, "path": out_path, "version": model.version, "dataset": model.dataset,
        "dtype": model.dtype.name, "num_classes": model.num_classes, "num_features": model.num_features,
        "class_names": list(model.class_names), "image_shape": list(model.image_shape),
        "test_accuracy": model.test_accuracy, "test_split": test_path,
        "num_test": int(len(arrays["y_test"])) if test_path is not None else None,
    }
    if output.json:
        print_json(saved)
    else:
        click.echo(export_report(saved))


def _predict_local(model_path: str, input_path: str):
    model = load_model(model_path)
    inputs = read_inputs(input_path, model.image_shape, model.pixel_max)
    labels, scores = model.predict(inputs.X)
    return model.class_names, inputs, labels, scores


def _job_image_layout(api, job_id: str):
    status = api.get(job_id)
    return image_layout(status.spec.dataset, max(status.num_features - 1, 0))


@click.command()
@click.argument("target", metavar=MODEL_OR_JOB)
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True))
@click.option("--scores", "with_scores", is_flag=True, help="Also print the class scores.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False),
              help="Write labels (and scores) to this .npz instead of listing every prediction.")
@connection_options
@reports_errors
def predict(target, input_path, with_scores, out_path, server, state_dir, connect_timeout, as_json):
    """Classify INPUT with a model file (locally) or with job JOB (on the server).

    INPUT: an .npz with X (and y), an .npy, MNIST IDX images (a file or a folder), a CIFAR-10
    batch (or a folder of them), a single image (PNG, ...) or a folder of images of the data
    set's size. When INPUT has labels the accuracy is reported too.
    """
    if _is_model_file(target):
        class_names, inputs, labels, scores = _local_errors(_predict_local, target, input_path)
    else:
        connection, _ = configs(server, state_dir, connect_timeout, as_json)
        with open_connection(connection) as api:
            shape, pixel_max = _job_image_layout(api, target)
            inputs = _local_errors(read_inputs, input_path, shape, pixel_max)
            response = api.predict(target, inputs.X)
        labels, scores = decoded(response.labels, "labels"), decoded(response.scores, "scores")
        class_names = tuple(response.class_names)
    result = predictions_json(target, class_names, inputs, labels, scores if with_scores else None)
    if out_path is not None:
        arrays = {"labels": labels, "class_names": np.array(class_names, dtype=str)}
        if with_scores:
            arrays["scores"] = scores
        write_atomically(out_path, _npz_bytes(**arrays))
        result = {key: value for key, value in result.items() if key not in ("predictions", "scores")} | {"out": out_path}
    if as_json:
        print_json(result)
    else:
        click.echo(predictions_report(result))


def _evaluate_local(model_path: str, dataset: str) -> dict:
    model = load_model(model_path)
    X, y = read_dataset(dataset)
    predicted, _ = model.predict(X)
    confusion = confusion_matrix(y, predicted, model.num_classes)
    return {"model": model_path, "job_id": model.job_id, "dataset": dataset, "split": "all",
            "class_names": list(model.class_names), "confusion": confusion,
            "accuracy": float(np.mean(predicted == y))}


@click.command()
@click.argument("target", metavar=MODEL_OR_JOB)
@click.option("--dataset", metavar="SPEC",
              help="Evaluate on every example of this data set (npz:FILE, mnist:DIR, cifar10:DIR, digits). "
                   "Required with a model file; with a job, default: the job's own data set and --split.")
@click.option("--split", type=click.Choice(["test", "val", "train"]),
              help="A job's own split (not with --dataset).  [default: test]")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="Also draw the confusion matrix into this PNG.")
@connection_options
@reports_errors
def evaluate(target, dataset, split, plot_path, server, state_dir, connect_timeout, as_json):
    """Accuracy, per-class precision and recall, and the confusion matrix of a model file or job JOB."""
    if dataset and split:
        raise click.UsageError("--split selects one of the job's own splits: leave it out with --dataset")
    if _is_model_file(target):
        if not dataset:
            raise click.UsageError("a model file needs --dataset SPEC (e.g. npz:test.npz from `descent export --test-split`)")
        result = _local_errors(_evaluate_local, target, dataset)
    else:
        connection, _ = configs(server, state_dir, connect_timeout, as_json)
        with open_connection(connection) as api:
            response = api.evaluate(target, dataset or "", split or "")
        result = {"model": target, "job_id": response.job_id, "dataset": response.dataset, "split": response.split,
                  "class_names": list(response.class_names), "confusion": decoded(response.confusion, "confusion matrix"),
                  "accuracy": response.accuracy}
    result = evaluation_json(result, summarize(result["confusion"]))
    if plot_path is not None:
        save_confusion_plot(result, plot_path)
        result["plot"] = plot_path
    if as_json:
        print_json(result)
    else:
        click.echo(evaluation_report(result))


COMMANDS = (export, predict, evaluate)
