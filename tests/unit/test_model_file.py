"""formats.model: the model file round trip, its refusals, and preprocessing identical to worker.data.prepare's."""

import io
import zipfile

import numpy as np
import pytest

from formats.model import FORMAT_VERSION, Model, ModelFileError, load_model, model_bytes
from worker.data.prepare import fit_preprocessing, preprocess


def make_model(dtype="float32", classes=3, features=5, seed=0, **extra):
    rng = np.random.default_rng(seed)
    return Model(
        W=rng.standard_normal((classes, features + 1)).astype(dtype),
        mean=rng.standard_normal(features) * 10,
        scale=3.7,
        class_names=tuple(f"c{i}" for i in range(classes)),
        dataset="npz:/some/file.npz",
        job_id="job-0123456789ab",
        version=42,
        test_accuracy=0.75,
        hyperparameters={"lr": 0.005, "reg": 1e-5, "steps": 42, "batch_size": 256, "workers": 2, "seed": 7,
                         "init_scale": 0.001, "gradient": "analytic"},
        **extra,
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("raw_dtype", [np.uint8, np.float64, np.int16])
def test_features_equal_the_servers_preprocessing_bit_for_bit(dtype, raw_dtype):
    rng = np.random.default_rng(1)
    raw = (rng.random((2500, 37)) * 250).astype(raw_dtype)  # > one 1024-row block of worker.data.prepare
    mean, scale = fit_preprocessing(raw[:1800].astype(dtype))
    model = Model(W=np.ones((4, 38), dtype=dtype), mean=mean, scale=scale, class_names=tuple("abcd"), dataset="x")
    expected = preprocess(raw, mean, scale, dtype=dtype)
    got = model.features(raw)
    assert got.dtype == expected.dtype and got.shape == (2500, 38)
    assert np.array_equal(got, expected)  # exact, not close


def test_round_trip_keeps_every_field(tmp_path):
    model = make_model(image_shape=(1, 5), pixel_max=16.0)
    path = tmp_path / "model.npz"
    path.write_bytes(model_bytes(model))
    with np.load(path, allow_pickle=False) as archive:  # plain arrays only
        assert int(archive["format_version"]) == FORMAT_VERSION
        assert int(archive["bias_column"]) == 5 and str(archive["dtype"]) == "float32"
    back = load_model(path)
    assert np.array_equal(back.W, model.W) and back.W.dtype == np.float32
    assert np.array_equal(back.mean, model.mean) and back.scale == model.scale
    assert back.class_names == model.class_names and back.dataset == model.dataset
    assert (back.job_id, back.version, back.test_accuracy) == ("job-0123456789ab", 42, 0.75)
    assert back.image_shape == (1, 5) and back.pixel_max == 16.0
    assert back.hyperparameters == model.hyperparameters


def test_predict_is_the_argmax_and_the_first_class_wins_a_tie():
    W = np.zeros((3, 3), dtype=np.float32)
    W[1] = W[2] = [1.0, 0.0, 0.0]  # classes 1 and 2 always tie
    model = Model(W=W, mean=np.zeros(2), scale=1.0, class_names=("a", "b", "c"), dataset="x")
    labels, scores = model.predict(np.array([[5.0, 1.0], [-5.0, 1.0]]))
    assert labels.tolist() == [1, 0]
    assert np.array_equal(scores, [[0, 5, 5], [0, -5, -5]])


def test_wrong_feature_count_names_both_sizes():
    model = make_model(features=5, image_shape=(1, 5))
    with pytest.raises(ValueError, match=r"has 4 features per example; the model expects 5 features"):
        model.features(np.zeros((2, 4)))


def _rewrite(path, **changes):
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays.update(changes)
    for name in [n for n, v in changes.items() if v is None]:
        del arrays[name]
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.write_bytes(buffer.getvalue())


def test_refusals_name_what_is_wrong(tmp_path):
    good = tmp_path / "good.npz"
    good.write_bytes(model_bytes(make_model()))
    newer = tmp_path / "newer.npz"
    newer.write_bytes(good.read_bytes())
    _rewrite(newer, format_version=np.int64(FORMAT_VERSION + 1))
    foreign = tmp_path / "data.npz"
    np.savez(foreign, X=np.zeros((2, 3)), y=np.zeros(2, dtype=np.int64))
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:200])
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    lacking = tmp_path / "lacking.npz"
    lacking.write_bytes(good.read_bytes())
    _rewrite(lacking, mean=None)
    bad_mean = tmp_path / "bad-mean.npz"
    bad_mean.write_bytes(good.read_bytes())
    _rewrite(bad_mean, mean=np.zeros(4))
    cases = [
        (newer, f"format version {FORMAT_VERSION + 1} is newer than this descent reads \\({FORMAT_VERSION}\\)"),
        (foreign, r"not a descent model file \(arrays \['X', 'y'\]"),
        (truncated, "not a readable .npz|corrupt"),
        (text, "not an .npz archive"),
        (lacking, "lacks mean"),
        (bad_mean, r"mean has shape \(4,\)"),
    ]
    for path, needle in cases:
        with pytest.raises(ModelFileError, match=needle) as err:
            load_model(path)
        assert str(path) in str(err.value)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "absent.npz")
    assert zipfile.is_zipfile(good)
