"""Hints for errors whose cause is on the user's side of the connection.

A data set path names a file on the server. When the server refuses or cannot find one
that exists on this machine, the usual cause is that it exists only here: say so.
"""

from __future__ import annotations

import os

#: Data set kinds whose argument is a path.
PATH_KINDS = ("mnist", "cifar10", "npz")


def local_path_hint(code: str, dataset: str | None, server: str | None) -> str:
    """A note for an error on ``dataset`` at ``server`` when the path exists on this machine, else ""."""
    if code not in ("PERMISSION_DENIED", "NOT_FOUND") or not dataset or not server:
        return ""
    kind, _, path = dataset.partition(":")
    if kind.strip().lower() not in PATH_KINDS or not path.strip():
        return ""
    if not os.path.exists(os.path.expanduser(path.strip())):
        return ""
    return (
        f"note: {path.strip()} exists on this machine, but the server at {server} reads data sets from its own "
        "file system, under the data roots the error names: put the data there and give its path on the server"
    )
