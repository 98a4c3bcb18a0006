"""Write formats/digits.npz from scikit-learn's bundled 8x8 digits (run once; the file is committed).

    python scripts/make_digits.py        (needs scikit-learn: pip install -e '.[test]')

The nodes of a descent cluster read ``digits`` from this file, so neither
scikit-learn nor SciPy is a runtime dependency. Pixel values are the integers
0..16 and labels 0..9, so both are stored as uint8 without loss (formats.digits
turns them back into sklearn's float64 data and integer targets);
tests/unit/test_digits_file.py checks the file against sklearn when it is installed.
"""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

OUT = Path(__file__).resolve().parents[1] / "formats" / "digits.npz"


def main() -> None:
    """Write the file and print its size."""
    digits = load_digits()
    data, target = digits.data, digits.target
    assert np.array_equal(data, data.astype(np.uint8)) and data.max() <= 16, "digits pixels are not 0..16 integers"
    np.savez_compressed(OUT, data=data.astype(np.uint8), target=target.astype(np.uint8))
    print(f"{OUT}: {OUT.stat().st_size} bytes, {data.shape[0]} images of {data.shape[1]} pixels")


if __name__ == "__main__":
    main()
