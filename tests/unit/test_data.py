"""worker.data.prepare: loaders on files the tests write, splits, preprocessing, batches, errors."""

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from formats.datasets import SYNTHETIC_SEPARATION
from worker.data import prepare as data
from worker.data.rows import Rows

REAL_MNIST = Path(__file__).resolve().parents[3] / "shared/data/mnist"
IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C}


def write_idx(path, array, gz=False):
    array = np.asarray(array)
    big_endian = array.astype(array.dtype.newbyteorder(">"))
    header = bytes([0, 0, IDX_CODES[big_endian.dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + big_endian.tobytes()
    path = Path(str(path) + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


def write_mnist(directory, part, n, seed, gz=False, side=4, classes=4, names=None):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, side, side), dtype=np.uint8)
    labels = (np.arange(n) % classes).astype(np.uint8)
    img_name, lbl_name = names or data._MNIST_PARTS[part]
    write_idx(directory / img_name, images, gz)
    write_idx(directory / lbl_name, labels, gz)
    return images, labels


def write_cifar_batch(path, n, seed):
    rng = np.random.default_rng(seed)
    batch = {
        b"batch_label": b"test batch",
        b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
        b"labels": [int(v) for v in rng.integers(0, 10, n)],
        b"filenames": [b"img%d.png" % i for i in range(n)],
    }
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=2)
    return batch


# ---------------------------------------------------------------- IDX and MNIST


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, gz):
    images = np.random.default_rng(0).integers(0, 256, size=(5, 3, 2), dtype=np.uint8)
    counts = np.array([1, -2, 70000], dtype=">i4")
    np.testing.assert_array_equal(data.read_idx(write_idx(tmp_path / "a-idx3-ubyte", images, gz)), images)
    back = data.read_idx(write_idx(tmp_path / "b-idx1-int", counts, gz))
    np.testing.assert_array_equal(back, [1, -2, 70000])
    assert back.dtype.isnative


def test_idx_corrupt_files_raise_value_error_naming_the_file(tmp_path):
    good = write_idx(tmp_path / "x", np.zeros((4, 2, 2), dtype=np.uint8))
    raw = good.read_bytes()
    bad_magic = tmp_path / "bad-magic"
    bad_magic.write_bytes(b"\x12\x34" + raw[2:])
    truncated = tmp_path / "truncated"
    truncated.write_bytes(raw[:-1])
    bad_code = tmp_path / "bad-code"
    bad_code.write_bytes(raw[:2] + b"\x07" + raw[3:])
    not_gzip = tmp_path / "not-gzip"
    not_gzip.write_bytes(b"\x1f\x8b" + b"garbage")
    cases = [(bad_magic, "magic"), (truncated, "16 data bytes"), (bad_code, "0x07"), (not_gzip, "readable")]
    for path, needle in cases:
        with pytest.raises(ValueError, match=needle) as err:
            data.read_idx(path)
        assert path.name in str(err.value)


def test_mnist_image_and_label_counts_must_match(tmp_path):
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((5, 4, 4), dtype=np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(4, dtype=np.uint8))
    with pytest.raises(ValueError, match="5 images.*4 labels"):
        data.prepare(f"mnist:{tmp_path}", 0)


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_t10k_alone_is_split_three_ways(tmp_path, gz):
    images, labels = write_mnist(tmp_path, "test", 100, seed=1, gz=gz)
    p = data.prepare(f"mnist:{tmp_path}", 0)
    sizes = (len(p.y_train), len(p.y_val), len(p.y_test))
    assert sizes == (70, 15, 15)
    assert p.X_train.shape == (70, 17) and p.X_val.shape == (15, 17) and p.X_test.shape == (15, 17)
    assert p.num_classes == 4
    # Every example lands in exactly one split: the label counts add up.
    all_labels = np.concatenate([p.y_train, p.y_val, p.y_test])
    np.testing.assert_array_equal(np.bincount(all_labels), np.bincount(labels))


def test_mnist_train_and_t10k_keep_t10k_as_test(tmp_path):
    write_mnist(tmp_path, "train", 200, seed=2)
    _, test_labels = write_mnist(tmp_path, "test", 30, seed=3, gz=True)
    p = data.prepare(f"mnist:{tmp_path}", 0)
    assert (len(p.y_train), len(p.y_val), len(p.y_test)) == (180, 20, 30)
    np.testing.assert_array_equal(p.y_test, test_labels)


def test_mnist_dot_spelling_is_accepted(tmp_path):
    write_mnist(tmp_path, "test", 20, seed=4, names=("t10k-images.idx3-ubyte", "t10k-labels.idx1-ubyte"))
    assert data.check_spec(f"mnist:{tmp_path}")[0] == "mnist"
    assert len(data.prepare(f"mnist:{tmp_path}", 0).y_train) == 14


def test_mnist_half_a_pair_is_reported(tmp_path):
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((5, 4, 4), dtype=np.uint8))
    with pytest.raises(data.DatasetNotFound, match="t10k-labels-idx1-ubyte"):
        data.check_spec(f"mnist:{tmp_path}")


def test_real_mnist_test_set_loads_10000_examples_of_784_features():
    assert REAL_MNIST.is_dir(), f"the shared MNIST copy is expected at {REAL_MNIST}"
    p = data.prepare(f"mnist:{REAL_MNIST}", 0)
    assert len(p.y_train) + len(p.y_val) + len(p.y_test) == 10_000
    assert p.num_features == 785 and p.num_classes == 10
    assert set(np.unique(p.y_test)) == set(range(10))


# ---------------------------------------------------------------- CIFAR-10, npz, synthetic, digits


def test_cifar_batches_load_with_shapes_and_labels(tmp_path):
    b1 = write_cifar_batch(tmp_path / "data_batch_1", 30, seed=1)
    b2 = write_cifar_batch(tmp_path / "data_batch_2", 20, seed=2)
    test = write_cifar_batch(tmp_path / "test_batch", 12, seed=3)
    (X, y), test_pool, num_classes = data.load(f"cifar10:{tmp_path}", None)
    np.testing.assert_array_equal(X, np.concatenate([b1[b"data"], b2[b"data"]]))
    np.testing.assert_array_equal(y, b1[b"labels"] + b2[b"labels"])
    assert X.dtype == np.uint8 and num_classes == 10
    np.testing.assert_array_equal(test_pool[1], test[b"labels"])
    p = data.prepare(f"cifar10:{tmp_path}", 0)
    assert (len(p.y_train), len(p.y_val), len(p.y_test)) == (45, 5, 12)
    assert p.X_train.shape == (45, 3073) and p.y_train.dtype == np.int64
    np.testing.assert_array_equal(p.y_test, test[b"labels"])


def test_cifar_pickle_may_only_rebuild_arrays(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    with open(tmp_path / "data_batch_1", "wb") as f:
        pickle.dump({b"data": Evil(), b"labels": [0]}, f, protocol=2)
    with pytest.raises(ValueError, match="data_batch_1"):
        data.prepare(f"cifar10:{tmp_path}", 0)
    assert not (tmp_path / "pwned").exists()


def test_npz_loads_and_checks_its_arrays(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "ok.npz", X=rng.standard_normal((40, 2, 3)), y=np.arange(40) % 5)
    p = data.prepare(f"npz:{tmp_path / 'ok.npz'}", 0)
    assert p.num_features == 7 and p.num_classes == 5
    assert len(p.y_train) + len(p.y_val) + len(p.y_test) == 40
    np.savez(tmp_path / "bad.npz", X=np.zeros((4, 2)), labels=np.zeros(4, int))
    with pytest.raises(ValueError, match=r"'X' and 'y'.*labels"):
        data.prepare(f"npz:{tmp_path / 'bad.npz'}", 0)
    np.savez(tmp_path / "short.npz", X=np.zeros((4, 2)), y=np.zeros(3, int))
    with pytest.raises(ValueError, match=r"\(4, 2\).*\(3,\)"):
        data.prepare(f"npz:{tmp_path / 'short.npz'}", 0)


def test_synthetic_shape_dtype_and_determinism():
    (X, y), test_pool, c = data.load("synthetic:500,7,3", np.random.default_rng(1))
    assert X.shape == (500, 7) and X.dtype == np.float32 and test_pool is None and c == 3
    assert set(np.unique(y)) == {0, 1, 2}
    a, b = data.prepare("synthetic:500,7,3", 1), data.prepare("synthetic:500,7,3", 1)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.X_train, data.prepare("synthetic:500,7,3", 2).X_train)
    assert a.X_train.shape == (350, 8) and a.X_train.dtype == np.float32


def synthetic_pool(n, d, c, rng):
    """The synthetic pool drawn all at once (the definition the block-by-block generator must match)."""
    means = rng.standard_normal((c, d), dtype=np.float32)
    means *= SYNTHETIC_SEPARATION / np.sqrt(d)
    y = rng.integers(0, c, size=n)
    X = rng.standard_normal((n, d), dtype=np.float32)
    X += means[y]
    return X, y


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_synthetic_prepared_in_blocks_equals_the_pool_loaded_then_split(dtype):
    # the oracle: the whole raw pool in memory, split and preprocessed as for any other data set
    # (the training split in pool order, as the stream delivers it)
    spec, seed = "synthetic:2600,33,5", 4  # more rows than one generation block (1,024)
    load_rng, split_rng = np.random.default_rng(seed).spawn(2)
    X, y = synthetic_pool(2600, 33, 5, load_rng)
    (X_loaded, y_loaded), _, _ = data.load(spec, np.random.default_rng(seed).spawn(2)[0])
    np.testing.assert_array_equal(X_loaded, X)
    np.testing.assert_array_equal(y_loaded, y)
    train, val, test = data.split_three_way(y, split_rng)
    train = np.sort(train)
    mean, scale = data.fit_preprocessing(X[train].astype(dtype))
    got = data.prepare(spec, seed, dtype=dtype, keep_raw_test=True)
    np.testing.assert_allclose(got.mean, mean, rtol=1e-12, atol=1e-15)  # fitted block by block: rounding differs
    assert got.scale == pytest.approx(scale, rel=1e-12) and got.X_train.dtype == np.dtype(dtype)
    for rows, X_split, y_split in [(train, got.X_train, got.y_train), (val, got.X_val, got.y_val),
                                   (test, got.X_test, got.y_test)]:
        np.testing.assert_array_equal(X_split, data.preprocess(X[rows], got.mean, got.scale, dtype))
        np.testing.assert_array_equal(y_split, y[rows])
    np.testing.assert_array_equal(got.X_test_raw, X[test])
    assert data.prepare(spec, seed).X_test_raw is None


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_training_split_built_in_blocks_equals_the_one_built_whole(dtype):
    spec, seed = "synthetic:2600,33,5", 4
    whole = data.prepare(spec, seed, dtype=dtype, keep_raw_test=True)
    kept = []

    def keep(name, array):
        kept.append((name, len(array)))
        return array

    row_bytes = 34 * np.dtype(dtype).itemsize
    blocked = data.prepare(spec, seed, dtype=dtype, keep_raw_test=True, block_bytes=500 * row_bytes + 3, keep=keep)
    assert isinstance(blocked.X_train, Rows) and isinstance(whole.X_train, np.ndarray)
    assert [len(block) for _, block in blocked.X_train.blocks()] == [500, 500, 500, 320]  # 1,820 training rows
    np.testing.assert_array_equal(np.asarray(blocked.X_train), whole.X_train)
    for name in ("y_train", "X_val", "y_val", "X_test", "y_test", "mean", "X_test_raw"):
        np.testing.assert_array_equal(getattr(blocked, name), getattr(whole, name))
    assert blocked.scale == whole.scale
    # every array is handed over once, each training block as soon as it is full
    assert kept == [("X_val", 390), ("X_test", 390)] + [("X_train", n) for n in (500, 500, 500, 320)] + [
        ("y_train", 1820), ("y_val", 390), ("y_test", 390)]


@pytest.mark.parametrize("spec", ["digits", f"mnist:{REAL_MNIST}"])
def test_a_split_read_from_files_built_in_blocks_equals_the_one_built_whole(spec):
    whole = data.prepare(spec, 2)
    kept = []

    def keep(name, array):
        kept.append((name, len(array)))
        return array

    step = 500 if spec == "digits" else 2000
    blocked = data.prepare(spec, 2, block_bytes=step * whole.X_train.shape[1] * 4, keep=keep)
    n = len(whole.y_train)
    sizes = [min(step, n - start) for start in range(0, n, step)]
    assert [len(block) for _, block in blocked.X_train.blocks()] == sizes
    np.testing.assert_array_equal(np.asarray(blocked.X_train), whole.X_train)
    for name in ("y_train", "X_val", "y_val", "X_test", "y_test", "mean"):
        np.testing.assert_array_equal(getattr(blocked, name), getattr(whole, name))
    assert blocked.scale == whole.scale
    assert [name for name, _ in kept] == ["X_train"] * len(sizes) + ["X_val", "X_test", "y_train", "y_val", "y_test"]


def test_synthetic_classes_are_learnable():
    p = data.prepare("synthetic:3000,20,4", 0, dtype="float64")
    means = np.array([p.X_train[p.y_train == k, :-1].mean(0) for k in range(4)])
    nearest = np.argmin(((p.X_test[:, None, :-1] - means) ** 2).sum(-1), axis=1)
    assert np.mean(nearest == p.y_test) > 0.8


@pytest.fixture(scope="module")
def digits():
    return data.prepare("digits", 0)


def test_digits_shapes(digits):
    assert len(digits.y_train) + len(digits.y_val) + len(digits.y_test) == 1797
    assert digits.num_features == 65 and digits.num_classes == 10 and digits.name == "digits"
    for X, y in [(digits.X_train, digits.y_train), (digits.X_val, digits.y_val), (digits.X_test, digits.y_test)]:
        assert X.dtype == np.float32 and y.dtype == np.int64 and X.shape == (len(y), 65)
        assert y.min() >= 0 and y.max() < 10


def test_splits_are_stratified_and_deterministic(digits):
    counts = [np.bincount(y, minlength=10) for y in (digits.y_train, digits.y_val, digits.y_test)]
    total = sum(counts)
    for part, fraction in zip(counts, data.THREE_WAY):
        assert np.all(np.abs(part - fraction * total) <= 2)
    again = data.prepare("digits", 0)
    np.testing.assert_array_equal(again.X_val, digits.X_val)
    assert not np.array_equal(data.prepare("digits", 1).y_val, digits.y_val)


def test_preprocessing_uses_train_statistics_only(tmp_path):
    rng = np.random.default_rng(0)
    n = 200
    raw = np.column_stack([np.arange(n), rng.normal(5.0, 3.0, (n, 4))])  # column 0: example id
    np.savez(tmp_path / "ids.npz", X=raw, y=np.arange(n) % 4)
    p = data.prepare(f"npz:{tmp_path / 'ids.npz'}", 0, dtype="float64")

    def raw_rows(X):  # undo the preprocessing with the stored train statistics
        back = X[:, :-1] * p.scale + p.mean
        ids = np.rint(back[:, 0]).astype(int)
        np.testing.assert_allclose(back, raw[ids], atol=1e-9)
        return ids

    train_ids, val_ids, test_ids = raw_rows(p.X_train), raw_rows(p.X_val), raw_rows(p.X_test)
    assert len(set(train_ids) | set(val_ids) | set(test_ids)) == n
    np.testing.assert_allclose(p.mean, raw[train_ids].mean(axis=0))
    assert p.scale == pytest.approx((raw[train_ids] - raw[train_ids].mean(axis=0)).std())
    np.testing.assert_allclose(p.X_train[:, :-1].mean(axis=0), 0, atol=1e-12)
    assert p.X_train[:, :-1].std() == pytest.approx(1.0)
    assert abs(p.X_val[:, 1:-1].mean()) > 1e-6  # val is not re-centred on its own mean
    for X in (p.X_train, p.X_val, p.X_test):
        assert (X[:, -1] == 1).all()


def test_preprocess_helpers_agree_with_prepare(digits):
    X = np.arange(12.0).reshape(4, 3)
    mean, scale = data.fit_preprocessing(X)
    np.testing.assert_allclose(mean, [4.5, 5.5, 6.5])
    assert scale == pytest.approx(np.sqrt(np.mean((X - mean) ** 2)))
    out = data.preprocess(X, mean, scale, "float64")
    np.testing.assert_allclose(out, np.column_stack([(X - mean) / scale, np.ones(4)]))
    assert data.fit_preprocessing(np.ones((3, 2)))[1] == 1.0  # constant data: no division by 0


# ---------------------------------------------------------------- batches


def test_sample_batch_draws_matching_rows_with_replacement():
    X = np.arange(20.0).reshape(10, 2)
    y = np.arange(10)
    Xb, yb = data.sample_batch(X, y, 256, np.random.default_rng(0))
    assert Xb.shape == (256, 2) and yb.shape == (256,)
    np.testing.assert_array_equal(Xb[:, 0], 2 * yb)  # rows and labels stay paired
    assert len(np.unique(yb)) == 10  # 256 draws from 10 rows: with replacement
    again = data.sample_batch(X, y, 256, np.random.default_rng(0))
    np.testing.assert_array_equal(again[1], yb)
    with pytest.raises(ValueError, match="batch_size"):
        data.sample_batch(X, y, 0, np.random.default_rng(0))


# ---------------------------------------------------------------- specs and errors


def test_parse_spec_forms():
    assert data.parse_spec("digits") == ("digits", None)
    assert data.parse_spec(" synthetic:10,3,2 ") == ("synthetic", (10, 3, 2))
    assert data.parse_spec("mnist:/a/b") == ("mnist", Path("/a/b"))
    assert data.parse_spec("npz:x.npz") == ("npz", Path("x.npz"))


@pytest.mark.parametrize("spec", ["imagenet", "", "digits:extra", "mnist:", "synthetic:10,3", "synthetic:a,b,c",
                                  "synthetic:10,3,1", "synthetic:1000000,1000000,10", "cifar100:/x"])
def test_bad_specs_raise_value_error_listing_the_forms(spec):
    with pytest.raises(ValueError) as err:
        data.check_spec(spec)
    assert repr(spec) in str(err.value) and "mnist:DIR" in str(err.value) and "synthetic:N,D,C" in str(err.value)


@pytest.mark.parametrize("kind", ["mnist", "cifar10", "npz"])
def test_missing_paths_raise_dataset_not_found_naming_them(tmp_path, kind):
    missing = tmp_path / "nowhere"
    for call in (data.check_spec, lambda spec: data.prepare(spec, 0)):
        with pytest.raises(data.DatasetNotFound, match="nowhere") as err:
            call(f"{kind}:{missing}")
        assert isinstance(err.value, FileNotFoundError)


def test_empty_directories_raise_dataset_not_found(tmp_path):
    for kind in ("mnist", "cifar10"):
        with pytest.raises(data.DatasetNotFound, match=str(tmp_path)):
            data.check_spec(f"{kind}:{tmp_path}")


def test_check_spec_does_not_load(tmp_path):
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"not an idx file")
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"not an idx file")
    assert data.check_spec(f"mnist:{tmp_path}")[0] == "mnist"  # files exist: accepted
    with pytest.raises(ValueError, match="magic"):
        data.prepare(f"mnist:{tmp_path}", 0)


def test_bad_dtype_is_rejected():
    with pytest.raises(ValueError, match="float16"):
        data.prepare("synthetic:10,2,2", 0, dtype="float16")
