"""Write an array to a .npy file atomically: a temporary file in the same directory, then rename."""

from __future__ import annotations

import os
import secrets

import numpy as np

from client.errors import CommandError


def save_atomically(path: str, array: np.ndarray) -> None:
    """Save ``array`` to exactly ``path`` (no ``.npy`` appended); readers never see a partial file.

    Raises ``CommandError("IO_ERROR", ...)`` when the file cannot be written.
    """
    directory = os.path.dirname(os.path.abspath(path))
    temp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, array, allow_pickle=False)
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
