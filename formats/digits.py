"""The bundled ``digits`` data set: scikit-learn's 8x8 digits (1,797 images, 10 classes), shipped as digits.npz.

The file sits next to this module (package data) and was written once by
scripts/make_digits.py from ``sklearn.datasets.load_digits``; reading it needs
only numpy, so the cluster's nodes carry neither scikit-learn nor SciPy.
"""

from importlib import resources

import numpy as np

NUM_CLASSES = 10
FILE_NAME = "digits.npz"


def load_digits():
    """Return (X, y): X (1797, 64) float64 pixel values 0..16, y (1797,) int64 labels 0..9 (sklearn's arrays)."""
    with resources.files("formats").joinpath(FILE_NAME).open("rb") as f, np.load(f) as npz:
        return npz["data"].astype(np.float64), npz["target"].astype(np.int64)
