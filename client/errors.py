"""The one exception a command raises to fail with ``error: <CODE>: <details>``.

The CLI prints any ``CommandError`` on stderr in that form and exits 1; gRPC
failures (``client.rpc.api.ApiError``), a local server that will not start and a
job that ends FAILED are all ``CommandError``s with a code and a message.
"""

from __future__ import annotations


class CommandError(Exception):
    """A command failed: ``code`` is a short upper-case name, ``details`` says why."""

    def __init__(self, code: str, details: str) -> None:
        super().__init__(f"{code}: {details}")
        self.code = code
        self.details = details
