"""Domain errors: what can go wrong with a request or a job, in the server's own words.

Plain Python exceptions, no gRPC: every layer raises them, and the edge alone maps them to
status codes (server.rpc.status). A bad request is a ``RequestError`` (raised by
``server.fields`` and the modules that check what a request names).
"""

from __future__ import annotations

from typing import Any

#: Longest status message sent to a client (a message must fit gRPC's metadata limit).
MAX_MESSAGE_CHARS = 2000
#: How much of a bad value an error message repeats.
ECHO_CHARS = 80


class RequestError(ValueError):
    """The request itself is bad: a field out of range, a malformed spec, a bad tensor (INVALID_ARGUMENT)."""


class JobNotFound(LookupError):
    """No job with that id, in memory or in the state directory."""


class JobNotActive(RuntimeError):
    """The job exists but is not in a state that allows the request."""


class ResourcesExhausted(RuntimeError):
    """The server or cluster cannot host what was asked for (a limit, or more workers than CPUs)."""


class PermissionDenied(PermissionError):
    """The caller may not do this: a path outside the data roots, a worker the job did not place."""


class StorageUnavailable(RuntimeError):
    """The state directory cannot record a change now (a full disk, say); nothing was changed."""


class Cancelled(RuntimeError):
    """The work was stopped before it finished (the client went away, or a job was cancelled)."""


def shorten(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


def echo(value: Any) -> str:
    """``repr(value)``, cut to ECHO_CHARS characters: what an error message may repeat of a bad value."""
    text = repr(value)
    return text if len(text) <= ECHO_CHARS else f"{text[:ECHO_CHARS]}… ({len(text)} characters)"
