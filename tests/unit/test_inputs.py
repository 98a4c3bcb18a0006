"""formats.inputs and formats.images: every input form, read back against the arrays the test wrote."""

import pickle

import numpy as np
import pytest
from PIL import Image

from formats.inputs import read_dataset, read_inputs
from tests.unit.test_data import write_cifar_batch, write_idx, write_mnist

RNG = np.random.default_rng(3)


def test_npz_with_and_without_labels_and_npy(tmp_path):
    X, y = RNG.integers(0, 256, (6, 4, 4), dtype=np.uint8), np.arange(6) % 3
    np.savez(tmp_path / "a.npz", X=X, y=y)
    np.savez(tmp_path / "b.npz", X=X)
    np.save(tmp_path / "c.npy", X)
    a = read_inputs(tmp_path / "a.npz")
    assert np.array_equal(a.X, X.reshape(6, 16)) and a.X.dtype == np.uint8 and a.y.tolist() == y.tolist()
    assert a.names[0] == "a.npz[0]"
    assert read_inputs(tmp_path / "b.npz").y is None
    assert np.array_equal(read_inputs(tmp_path / "c.npy").X, X.reshape(6, 16))


@pytest.mark.parametrize("gz", [False, True])
def test_idx_file_and_mnist_folder(tmp_path, gz):
    images, labels = write_mnist(tmp_path, "test", 7, seed=1, gz=gz)
    path = tmp_path / ("t10k-images-idx3-ubyte" + (".gz" if gz else ""))
    assert np.array_equal(read_inputs(path).X, images.reshape(7, -1))
    folder = read_inputs(tmp_path)
    assert np.array_equal(folder.X, images.reshape(7, -1)) and folder.y.tolist() == labels.tolist()


def test_cifar_batch_file_and_folder(tmp_path):
    train = write_cifar_batch(tmp_path / "data_batch_1", 5, seed=1)
    test = write_cifar_batch(tmp_path / "test_batch", 3, seed=2)
    one = read_inputs(tmp_path / "test_batch")
    assert np.array_equal(one.X, test[b"data"]) and one.y.tolist() == test[b"labels"]
    both = read_inputs(tmp_path)
    assert np.array_equal(both.X, np.concatenate([train[b"data"], test[b"data"]]))
    assert both.y.tolist() == train[b"labels"] + test[b"labels"]


def test_grayscale_png_keeps_exact_pixel_values_and_a_folder_is_read_in_name_order(tmp_path):
    images = RNG.integers(0, 256, (3, 6, 5), dtype=np.uint8)  # 6 rows x 5 columns
    for i, img in enumerate(images):
        Image.fromarray(img).save(tmp_path / f"img{i}.png")
    single = read_inputs(tmp_path / "img1.png", image_shape=(6, 5))
    assert single.X.dtype == np.uint8 and np.array_equal(single.X, images[1].reshape(1, 30))
    folder = read_inputs(tmp_path, image_shape=(6, 5))
    assert folder.names == ("img0.png", "img1.png", "img2.png")
    assert np.array_equal(folder.X, images.reshape(3, 30))


def test_colour_png_is_laid_out_like_a_cifar_row(tmp_path):
    rgb = RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(rgb, mode="RGB").save(tmp_path / "c.png")
    row = read_inputs(tmp_path / "c.png", image_shape=(3, 32, 32)).X[0]
    for k, r, c in [(0, 0, 0), (1, 5, 7), (2, 31, 30)]:  # channel-major: 1024 red, 1024 green, 1024 blue
        assert row[k * 1024 + r * 32 + c] == rgb[r, c, k]


def test_digits_pixels_are_scaled_to_0_16(tmp_path):
    Image.fromarray(np.array([[0, 255], [51, 102]] * 4, dtype=np.uint8).repeat(4, axis=1)).save(tmp_path / "d.png")
    X = read_inputs(tmp_path / "d.png", image_shape=(8, 8), pixel_max=16.0).X
    assert X.dtype == np.float64 and X[0, :8].tolist() == [0, 0, 0, 0, 16, 16, 16, 16]
    assert X[0, 8] == pytest.approx(51 * 16 / 255)


def test_refusals_name_the_file_and_what_does_not_match(tmp_path):
    Image.fromarray(np.zeros((20, 21), dtype=np.uint8)).save(tmp_path / "small.png")
    with pytest.raises(ValueError, match=r"small.png: the image is 21x20 pixels; the model expects 28x28"):
        read_inputs(tmp_path / "small.png", image_shape=(28, 28))
    with pytest.raises(ValueError, match="not trained on images"):
        read_inputs(tmp_path / "small.png", image_shape=())
    (tmp_path / "junk.bin").write_bytes(b"hello world")
    with pytest.raises(ValueError, match="junk.bin: not a recognised input"):
        read_inputs(tmp_path / "junk.bin")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    with pytest.raises(ValueError, match="broken.png: not a readable image"):
        read_inputs(tmp_path / "broken.png", image_shape=(28, 28))
    with open(tmp_path / "evil", "wb") as f:
        pickle.dump({"data": print}, f, protocol=2)
    with pytest.raises(ValueError, match="not a CIFAR-10 python batch"):
        read_inputs(tmp_path / "evil")
    write_idx(tmp_path / "labels-only", np.zeros(0, dtype=np.uint8))
    with pytest.raises(ValueError, match="non-empty array of examples"):
        read_inputs(tmp_path / "labels-only")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images, MNIST IDX files or CIFAR-10 batches"):
        read_inputs(tmp_path / "empty")
    with pytest.raises(FileNotFoundError):
        read_inputs(tmp_path / "absent.png")


def test_read_dataset_takes_every_example_of_a_spec(tmp_path):
    train, train_labels = write_mnist(tmp_path, "train", 9, seed=1)
    test, test_labels = write_mnist(tmp_path, "test", 4, seed=2)
    X, y = read_dataset(f"mnist:{tmp_path}")
    assert np.array_equal(X, np.concatenate([train, test]).reshape(13, -1))
    assert y.tolist() == train_labels.tolist() + test_labels.tolist()
    with pytest.raises(ValueError, match="synthetic data exists only on the server"):
        read_dataset("synthetic:10,3,2")
