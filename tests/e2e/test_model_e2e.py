"""End to end: a real server, real Ray, the real CLI: export a job as a model file, predict, evaluate.

The acceptance check: for a digits job and an MNIST job, the numpy recipe of docs/models.md run
on the exported model file in a fresh process gives exactly the job's test_accuracy on
its exported test split, and so do `predict`, and `evaluate` locally and on the server.
"""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.cli import MNIST, as_json, descent
from tests.server_process import ROOT
from worker import svm
from worker.data import prepare as data

DATASETS = {"digits": "digits", "mnist": f"mnist:{MNIST}"}


def models_doc_recipe() -> str:
    text = (ROOT / "docs" / "models.md").read_text()
    return re.search(r"<!-- recipe:[^\n]*-->\n```python\n(.*?)```", text, re.S).group(1)


def naive_confusion(y, pred, c):
    m = [[0] * c for _ in range(c)]
    for t, p in zip(y, pred):
        m[t][p] += 1
    return m


@pytest.fixture(scope="module")
def exported(server, tmp_path_factory):
    """One trained job per data set, exported with its test split: {name: (job, model path, test path)}."""
    out = {}
    for name, spec in DATASETS.items():
        job = as_json(descent("train", "--dataset", spec, *server.cli_args, "--json"))
        assert job["state"] == "SUCCEEDED"
        where = tmp_path_factory.mktemp(name)
        saved = as_json(descent("export", job["job_id"], "--out", str(where / "model.npz"),
                                "--test-split", str(where / "test.npz"), *server.cli_args, "--json"))
        assert saved["test_accuracy"] == job["test_accuracy"] and saved["num_test"] == job["num_test"]
        out[name] = (job, where / "model.npz", where / "test.npz")
    return out


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_readme_recipe_predict_and_evaluate_give_the_jobs_test_accuracy_exactly(name, exported, server, tmp_path):
    job, model, test = exported[name]
    (tmp_path / "model.npz").write_bytes(model.read_bytes())
    (tmp_path / "test.npz").write_bytes(test.read_bytes())
    recipe = subprocess.run([sys.executable, "-c", models_doc_recipe()], cwd=tmp_path, capture_output=True, text=True,
                            check=True)
    assert float(recipe.stdout.split()[-1]) == job["test_accuracy"]  # exactly, in a fresh process

    predicted = as_json(descent("predict", str(model), str(test), "--json"))
    assert predicted["accuracy"] == job["test_accuracy"] and predicted["num_examples"] == job["num_test"]
    on_server = as_json(descent("evaluate", job["job_id"], *server.cli_args, "--json"))
    assert on_server["accuracy"] == job["test_accuracy"] and on_server["split"] == "test"
    for split in ("val", "train"):
        other = as_json(descent("evaluate", job["job_id"], "--split", split, *server.cli_args, "--json"))
        assert other["accuracy"] == job[f"{split}_accuracy"] and other["num_examples"] == job[f"num_{split}"]
    local = as_json(descent("evaluate", str(model), "--dataset", f"npz:{test}", "--plot", str(tmp_path / "cm.png"),
                            "--json"))
    assert local["accuracy"] == job["test_accuracy"]

    y = np.load(test)["y"]
    labels = [p["label"] for p in predicted["predictions"]]
    assert local["confusion"] == naive_confusion(y, labels, 10) == on_server["confusion"]
    assert local["support"] == np.bincount(y, minlength=10).tolist()
    for c in range(10):
        hits = sum(1 for t, p in zip(y, labels) if t == p == c)
        assert local["recall"][c] == hits / sum(1 for t in y if t == c)
        assert local["precision"][c] == (hits / labels.count(c) if labels.count(c) else None)
    assert (tmp_path / "cm.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = descent("evaluate", str(model), "--dataset", f"npz:{test}")
    assert text.returncode == 0 and "confusion matrix" in text.stdout and f"accuracy {job['test_accuracy']!r}" in text.stdout


def test_images_are_classified_locally_and_on_the_server_alike(exported, server, tmp_path):
    job, model, test = exported["mnist"]
    X = np.load(test)["X"]
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(X[i].reshape(28, 28)).save(folder / f"digit{i}.png")
    from_npz = [p["label"] for p in as_json(descent("predict", str(model), str(test), "--json"))["predictions"][:4]]
    single = as_json(descent("predict", str(model), str(folder / "digit2.png"), "--json"))
    assert [p["label"] for p in single["predictions"]] == from_npz[2:3]
    local = as_json(descent("predict", str(model), str(folder), "--scores", "--json"))
    assert [p["label"] for p in local["predictions"]] == from_npz
    assert [int(np.argmax(s)) for s in local["scores"]] == from_npz
    remote = as_json(descent("predict", job["job_id"], str(folder), "--scores", *server.cli_args, "--json"))
    assert [p["label"] for p in remote["predictions"]] == from_npz
    assert np.allclose(remote["scores"], local["scores"], rtol=0, atol=1e-6)

    Image.fromarray(np.zeros((20, 20), dtype=np.uint8)).save(tmp_path / "small.png")
    for target, extra in ((str(model), ()), (job["job_id"], server.cli_args)):
        refused = descent("predict", target, str(tmp_path / "small.png"), *extra)
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        assert refused.stderr.startswith("error: INVALID_ARGUMENT: ") and "20x20 pixels" in refused.stderr
        assert "28x28" in refused.stderr


def test_bad_inputs_get_one_clear_line_and_change_nothing(exported, server, tmp_path):
    at = server.cli_args
    job, model, _ = exported["mnist"]
    digits_job, digits_model, digits_test = exported["digits"]
    with np.load(model, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    np.savez(tmp_path / "newer.npz", **(arrays | {"format_version": np.int64(99)}))
    cases = [
        (("predict", str(model), str(digits_test)), "INVALID_ARGUMENT", "has 64 features per example; the model expects 784"),
        (("predict", job["job_id"], str(digits_test), *at), "INVALID_ARGUMENT", "has 64 features per example; job"),
        (("evaluate", job["job_id"], "--dataset", "digits", *at), "INVALID_ARGUMENT", "64 features per example"),
        (("predict", str(tmp_path / "newer.npz"), str(digits_test)), "INVALID_ARGUMENT", "format version 99 is newer"),
        (("predict", str(digits_test), str(digits_test)), "INVALID_ARGUMENT", "not a descent model file"),
        (("evaluate", str(tmp_path / "absent.npz"), "--dataset", "digits"), "NOT_FOUND", "no model file"),
        (("evaluate", "job-000000000000", *at), "NOT_FOUND", "job-000000000000"),
        (("export", "job-000000000000", "--out", str(tmp_path / "m.npz"), *at), "NOT_FOUND", "job-000000000000"),
    ]
    for args, code, needle in cases:
        result = descent(*args)
        assert result.returncode == 1, (args, result.stderr)
        assert result.stderr.startswith(f"error: {code}: ") and needle in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    usage = descent("evaluate", str(digits_model))
    assert usage.returncode == 2 and "needs --dataset" in usage.stderr
    assert not (tmp_path / "m.npz").exists()
    again = as_json(descent("evaluate", digits_job["job_id"], *at, "--json"))  # the server still serves
    assert again["accuracy"] == digits_job["test_accuracy"]


def test_export_refuses_a_job_that_is_not_a_model_or_whose_data_changed(server, tmp_path):
    at = server.cli_args
    rng = np.random.default_rng(0)
    y = np.arange(300) % 3
    X = rng.standard_normal((300, 6)) + y[:, None]
    np.savez(tmp_path / "data.npz", X=X, y=y)
    job = as_json(descent("train", "--dataset", f"npz:{tmp_path / 'data.npz'}", "--steps", "200", *at, "--json"))
    assert as_json(descent("export", job["job_id"], "--out", str(tmp_path / "m.npz"), *at, "--json"))["num_classes"] == 3
    np.savez(tmp_path / "data.npz", X=X[::-1].copy(), y=y)  # the same file name, other contents
    changed = descent("export", job["job_id"], "--out", str(tmp_path / "m2.npz"), *at)
    assert changed.returncode == 1 and changed.stderr.startswith("error: FAILED_PRECONDITION: ")
    assert "changed since job" in changed.stderr and not (tmp_path / "m2.npz").exists()

    long = as_json(descent("train", "--dataset", "digits", "--steps", "100000000", "--lr", "1e-6", "--detach", *at,
                           "--json"))
    assert as_json(descent("cancel", long["job_id"], *at, "--json"))["state"] == "CANCELLED"
    refused = descent("export", long["job_id"], "--out", str(tmp_path / "m3.npz"), *at)
    assert refused.returncode == 1 and "error: FAILED_PRECONDITION: " in refused.stderr
    assert "CANCELLED" in refused.stderr


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_the_jobs_train_and_validation_accuracies_are_exactly_those_of_its_w(name, exported):
    """The server evaluates the splits side by side and takes the validation accuracy from the
    curve's last point: both must equal one plain accuracy call on the exported W."""
    job, model, _ = exported[name]
    W = np.load(model)["W"]
    prepared = data.prepare(job["dataset"], seed=job["seed"], dtype=W.dtype.name)
    assert job["train_accuracy"] == svm.accuracy(W, prepared.X_train, prepared.y_train)
    assert job["val_accuracy"] == svm.accuracy(W, prepared.X_val, prepared.y_val)
    assert job["curve"][-1]["val_accuracy"] == job["val_accuracy"]
