"""Write a file atomically: a temporary file in the same directory, then rename, so readers never see half of it."""

from __future__ import annotations

import io
import os
import secrets

import numpy as np

from client.errors import CommandError


def write_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to exactly ``path``; ``CommandError("IO_ERROR", ...)`` when it cannot be written."""
    directory = os.path.dirname(os.path.abspath(path))
    temp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, path)
        except BaseException:
            try:
                os.unlink(temp)
            except OSError:
                pass
            raise
    except OSError as error:
        raise CommandError("IO_ERROR", f"cannot write {path}: {error.strerror or error}") from None


def save_array(path: str, array: np.ndarray) -> None:
    """Save ``array`` as .npy to exactly ``path`` (no ``.npy`` appended), atomically."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    write_atomically(path, buffer.getvalue())
