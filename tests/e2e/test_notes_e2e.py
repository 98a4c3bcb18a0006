"""``descent minibatch`` and ``landscape`` through the real CLI: against a real server, and embedded.

The numbers behind the pictures are checked against oracles computed here from the same
seeded W and data (worker.svm's naive loss); the PNGs must be real PNG files.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.cli import as_json, descent
from worker import svm
from worker.data import prepare as data

PNG = b"\x89PNG\r\n\x1a\n"


def test_minibatch_against_a_server(server, tmp_path):
    plot = tmp_path / "mb.png"
    result = as_json(descent("minibatch", "--dataset", "digits", "--draws", "40", "--plot", str(plot), "--json",
                             *server.cli_args))
    rows = result["rows"]
    assert set(rows[0]) >= {"batch_size", "cosine_mean", "cosine_std", "us_per_example"}
    sizes = [r["batch_size"] for r in rows]
    assert sizes == sorted(sizes) and {1, 2, 4, 256, 255, 257}.issubset(sizes)
    assert rows[-1]["full"] and rows[-1]["batch_size"] == result["num_examples"] == 1257
    assert rows[-1]["cosine_mean"] == pytest.approx(1.0, abs=1e-12) and rows[-1]["cosine_std"] == 0
    powers = [r["cosine_mean"] for r in rows if r["batch_size"] & (r["batch_size"] - 1) == 0 and not r["full"]]
    assert powers == sorted(powers)  # 1, 2, 4, ... 1024: each doubling brings the batch gradient closer
    by_size = {r["batch_size"]: r for r in rows}
    assert by_size[256]["cosine_mean"] > 0.9
    assert by_size[1]["us_per_example"] > 10 * by_size[256]["us_per_example"]
    assert plot.read_bytes().startswith(PNG)


def test_landscape_one_example_against_a_server(server, tmp_path):
    plot = tmp_path / "ls.png"
    result = as_json(descent("landscape", "--dataset", "digits", "--examples", "1", "--points", "21", "--seed", "3",
                             "--reg", "0", "--plot", str(plot), "--json", *server.cli_args))
    d = data.prepare("digits", 3, dtype="float64")
    W = 1e-3 * np.random.default_rng(3).standard_normal((d.num_classes, d.num_features))
    expected = svm.svm_loss_naive(W, d.X_train[:1], d.y_train[:1], 0.0)[0]
    assert result["center_loss"] == pytest.approx(expected, rel=1e-12)
    a = [p["a"] for p in result["line"]]
    assert len(a) == 21 and a[0] == -1.0 and a[10] == 0.0 and a[-1] == 1.0
    assert result["line"][10]["loss"] == pytest.approx(expected, rel=1e-12)
    plane = np.array(result["plane"]["loss"])
    assert plane.shape == (21, 21) and result["plane"]["a"] == a and result["plane"]["b"] == a
    np.testing.assert_allclose(plane[:, 10], [p["loss"] for p in result["line"]], rtol=1e-12)  # b = 0 is the line
    assert plane[10, 10] == pytest.approx(expected, rel=1e-12)
    assert plot.read_bytes().startswith(PNG)


def test_bad_requests_name_the_field(server, tmp_path):
    bad = descent("minibatch", "--dataset", "digits", "--draws", "0", "--plot", str(tmp_path / "x.png"), *server.cli_args)
    assert bad.returncode != 0 and "error: INVALID_ARGUMENT" in bad.stderr and "draws" in bad.stderr
    bad = descent("landscape", "--dataset", "digits", "--span", "-1", "--plot", str(tmp_path / "x.png"), *server.cli_args)
    assert bad.returncode != 0 and "error: INVALID_ARGUMENT" in bad.stderr and "span" in bad.stderr
    bad = descent("landscape", "--job", "nosuchjob", "--plot", str(tmp_path / "x.png"), *server.cli_args)
    assert bad.returncode != 0 and "error: NOT_FOUND" in bad.stderr
    assert not (tmp_path / "x.png").exists()


def test_landscape_embedded(tmp_path):
    plot = tmp_path / "ls.png"
    result = as_json(descent("landscape", "--dataset", "digits", "--points", "5", "--plot", str(plot), "--json",
                             state_dir=tmp_path / "state"))
    assert len(result["line"]) == 5 and len(result["plane"]["loss"]) == 5
    assert result["center_loss"] == pytest.approx(result["line"][2]["loss"], rel=1e-12)
    assert plot.read_bytes().startswith(PNG)
