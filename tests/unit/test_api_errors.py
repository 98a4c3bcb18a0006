"""descent's exceptions: one class per gRPC status code (so every code the server sends has its
own), each a CommandError with the CLI's code and details, and local mistakes as InvalidArgument."""

from __future__ import annotations

import grpc
import pytest

import descent
from client.errors import CommandError
from client.rpc.api import ApiError
from descent.errors import BY_CODE, as_descent_error, translated


@pytest.mark.parametrize("code", [c for c in grpc.StatusCode if c is not grpc.StatusCode.OK], ids=lambda c: c.name)
def test_every_status_code_has_its_exception(code):
    error = as_descent_error(ApiError(code.name, "the server's words"))
    assert type(error) is not descent.DescentError and type(error) is BY_CODE[code.name]
    assert isinstance(error, descent.DescentError) and isinstance(error, CommandError)
    assert (error.code, error.details, str(error)) == (code.name, "the server's words", f"{code.name}: the server's words")
    assert getattr(descent, type(error).__name__) is type(error)  # public at the top level


def test_a_code_without_a_class_is_still_a_descent_error():
    error = as_descent_error(CommandError("IO_ERROR", "disk full"))
    assert type(error) is descent.DescentError and error.code == "IO_ERROR"


def test_local_mistakes_are_invalid_arguments():
    with pytest.raises(descent.InvalidArgument, match="not JobSpec fields"):
        with translated():
            from client.rpc.requests import job_spec

            job_spec("digits", learning_rate=1.0)
