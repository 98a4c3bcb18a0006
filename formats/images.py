"""Image files (PNG, or anything else Pillow reads) as raw feature rows of an image data set.

Pillow gives the stored integer pixel values exactly (matplotlib's imread rescales them
to floats); it is imported only when an image is read (the ``client`` extra, formats.extras). A grayscale model (image shape
(H, W)) reads images as 8-bit luminance, a colour one ((3, H, W), CIFAR's channel-major
row layout) as 8-bit RGB. Pixel values map to the data set's scale: ``value * pixel_max
/ 255`` (MNIST and CIFAR keep 0..255; digits is 0..16).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from formats.extras import import_extra

#: File name endings read as images in a folder.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".pgm", ".ppm", ".tif", ".tiff", ".webp")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def image_row(path, image_shape: tuple[int, ...], pixel_max: float) -> np.ndarray:
    """One image as a raw feature row (D,): uint8 when pixel_max is 255, else float64.

    ValueError naming the file when it is not a readable image, or naming both sizes when
    it is not H x W pixels; and when the model was not trained on images at all.
    """
    Image = import_extra("PIL.Image", "reading images")

    if len(image_shape) not in (2, 3):
        raise ValueError(f"{path}: the model was not trained on images (its inputs are not H x W pixels)")
    height, width = image_shape[-2:]
    try:
        with Image.open(path) as image:
            if image.size != (width, height):
                raise ValueError(
                    f"{path}: the image is {image.width}x{image.height} pixels; the model expects {width}x{height}"
                )
            pixels = np.asarray(image.convert("L" if len(image_shape) == 2 else "RGB"))
    except OSError as err:  # PIL's UnidentifiedImageError included
        raise ValueError(f"{path}: not a readable image ({err})") from None
    if pixels.ndim == 3:
        pixels = pixels.transpose(2, 0, 1)  # H, W, RGB -> RGB planes, as CIFAR rows are laid out
    row = pixels.reshape(-1)
    return row if pixel_max == 255 else row * (pixel_max / 255.0)


def image_folder(directory: Path) -> list[Path]:
    """The image files of a folder, sorted by name."""
    return sorted(p for p in Path(directory).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
