"""A linear classifier's learned templates: each row of W (without the bias column) as an image.

Image layouts are those of formats.datasets.image_layout: (H, W) grayscale rows, or
(3, H, W) channel-major colour rows (CIFAR-10), shown as (H, W, 3).
"""

from __future__ import annotations

import numpy as np


def template_tiles(W: np.ndarray, image_shape: tuple[int, ...]) -> np.ndarray:
    """(C, H, W) or (C, H, W, 3) array of W's rows without the bias, reshaped exactly; ValueError if they do not fit."""
    W = np.asarray(W)
    if W.ndim != 2:
        raise ValueError(f"W must be 2-D (C, D+1), got shape {W.shape}")
    shape = tuple(int(n) for n in image_shape)
    if not shape:
        raise ValueError("the data set's rows are not images: no templates to draw")
    if int(np.prod(shape)) != W.shape[1] - 1:
        raise ValueError(f"W's rows have {W.shape[1] - 1} values besides the bias; image shape {shape} needs {int(np.prod(shape))}")
    tiles = W[:, :-1].reshape((W.shape[0],) + shape)
    if len(shape) == 3:  # channel-major colour rows → height, width, channel
        tiles = tiles.transpose(0, 2, 3, 1)
    return tiles
