"""Data confinement: the server reads data sets only under its configured data roots.

A spec that names a path (``mnist:DIR``, ``cifar10:DIR``, ``npz:FILE``) is resolved
before anything touches the path: a relative path is taken relative to the first root,
any ``..`` component is refused, and the real path (every symlink followed) must lie
inside one of the roots. A refusal is PERMISSION_DENIED with the same message whether
or not the target exists, so the answer reveals nothing about the server's files.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from server.errors import PermissionDenied, RequestError, echo
from worker.data.prepare import parse_spec

#: Spec kinds whose argument is a path on the server.
PATH_KINDS = ("mnist", "cifar10", "npz")


class DataRoots:
    """The directories a server may read data sets from."""

    def __init__(self, roots: Sequence[Path]):
        if not roots:
            raise ValueError("at least one data root is needed")
        self.roots = tuple(Path(os.path.realpath(root)) for root in roots)

    def describe(self) -> str:
        """The roots, for messages: where the server looks."""
        return ", ".join(str(root) for root in self.roots)

    def not_found(self, error: Exception) -> str:
        """The message for a data set path that does not exist: where the server looks, and how to put data there."""
        return (
            f"{error} (this server reads data sets under {self.describe()}, on the server's own file system, "
            "not the client's: copy or mount the data there; with docker compose, put it in the host folder "
            "$DESCENT_DATA (./data by default), which the server sees as /data, and name it e.g. mnist:/data/mnist)"
        )

    def _inside(self, path: Path) -> bool:
        return any(path == root or root in path.parents for root in self.roots)

    def confine(self, spec: str) -> str:
        """``spec`` with its path replaced by the real path inside a root; PermissionDenied outside them.

        A malformed spec is a RequestError; data sets without a path are returned as they are.
        """
        try:
            kind, _ = parse_spec(spec)
        except ValueError as error:
            raise RequestError(str(error)) from None
        if kind not in PATH_KINDS:
            return spec
        raw = spec.strip().partition(":")[2].strip()
        refusal = PermissionDenied(
            f"{kind} path {echo(raw)} is outside this server's data roots ({self.describe()}): the server reads "
            "data sets only under them, by paths on the server (a relative path is relative to the first root; "
            "`..` is not allowed); an administrator adds roots with --data-root"
        )
        path = Path(raw)
        if ".." in path.parts or raw.startswith("~"):
            raise refusal
        real = Path(os.path.realpath(path if path.is_absolute() else self.roots[0] / path))
        if not self._inside(real):
            raise refusal
        return f"{kind}:{real}"
