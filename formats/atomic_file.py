"""Write a file atomically: a temporary file in the same directory, fsync'ed, then renamed.

A reader (or a process started after a crash) sees the old file or the new one,
never half of one. Used by the client (weights, models, plots) and the server
(checkpoints, results) alike.
"""

from __future__ import annotations

import os
import secrets


def write_atomically(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to exactly ``path`` (its folder must exist); OSError when it cannot."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    temp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(4)}.tmp")
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
