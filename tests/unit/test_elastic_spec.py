"""An elastic job's bounds (``--workers MIN:MAX``): parsed by the CLI, checked by the server, each bad one
refused naming what is wrong."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from client.cli import cli
from client.rpc.requests import job_spec
from proto import descent_pb2
from server.errors import RequestError
from server.jobs.spec import resolve


def test_a_range_becomes_the_bounds_and_the_target_defaults_to_max():
    spec = job_spec("digits", workers=(1, 4))
    assert (spec.min_workers, spec.max_workers) == (1, 4) and not spec.HasField("workers")
    config = resolve(spec)
    assert config.elastic and config.bounds == (1, 4) and config.workers == 4
    assert resolve(config.to_proto()) == config


def test_a_plain_count_keeps_its_meaning():
    config = resolve(job_spec("digits", workers=3))
    assert not config.elastic and config.bounds == (3, 3)
    assert not config.to_proto().HasField("min_workers") and not config.to_proto().HasField("max_workers")


@pytest.mark.parametrize(
    "bounds, message",
    [
        ((0, 2), r"^min_workers must be in \[1, 128\], got 0"),
        ((3, 2), r"^min_workers \(3\) is above max_workers \(2\)"),
        ((1, 100000), r"^max_workers must be in \[1, 128\], got 100000"),
    ],
)
def test_the_server_refuses_bad_bounds_naming_them(bounds, message):
    with pytest.raises(RequestError, match=message):
        resolve(job_spec("digits", workers=bounds))


def test_the_server_refuses_half_a_range_a_target_outside_it_and_a_method_that_cannot_scale():
    with pytest.raises(RequestError, match="needs both min_workers and max_workers"):
        resolve(descent_pb2.JobSpec(min_workers=2))
    with pytest.raises(RequestError, match=r"workers \(5\) must be within min_workers..max_workers \(1..4\)"):
        resolve(descent_pb2.JobSpec(min_workers=1, max_workers=4, workers=5))
    with pytest.raises(RequestError, match="only a job of analytic-gradient workers is elastic"):
        resolve(descent_pb2.JobSpec(min_workers=1, max_workers=4, gradient="numerical"))


def test_an_elastic_sync_job_needs_only_whole_pushes():
    """Its steps average the gradients of the workers it has at the time: only push_every must divide steps."""
    assert resolve(descent_pb2.JobSpec(min_workers=2, max_workers=3, consistency="sync", steps=7)).steps == 7
    with pytest.raises(RequestError, match="multiple of workers x push_every"):
        resolve(descent_pb2.JobSpec(workers=3, consistency="sync", steps=7))


@pytest.mark.parametrize("value", ["a:b", "1:2:3", "1:", "-1:2"])
def test_the_cli_refuses_what_is_not_a_count_or_a_range_before_it_connects(value):
    result = CliRunner().invoke(cli, ["train", "--workers", value, "--server", "127.0.0.1:1"])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--workers'" in result.output and "neither a number N nor a range MIN:MAX" in result.output
    assert "Traceback" not in result.output
