"""The client's atomic writes: formats.atomic_file, with failures as the CLI's IO_ERROR."""

from __future__ import annotations

import io

import numpy as np

from client.errors import CommandError
from formats import atomic_file as formats_atomic


def write_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to exactly ``path``; ``CommandError("IO_ERROR", ...)`` when it cannot be written."""
    try:
        formats_atomic.write_atomically(path, data)
    except OSError as error:
        raise CommandError("IO_ERROR", f"cannot write {path}: {error.strerror or error}") from None


def save_array(path: str, array: np.ndarray) -> None:
    """Save ``array`` as .npy to exactly ``path`` (no ``.npy`` appended), atomically."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    write_atomically(path, buffer.getvalue())
