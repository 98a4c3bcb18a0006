"""A job's spec is defined once (proto.job_fields): the proto, the client's options, the server's
config, defaults and checks all agree with that table, field by field."""

from __future__ import annotations

import dataclasses
import math

import pytest
from click.testing import CliRunner

from client.cli import cli
from client.commands.tune import tune
from client.rpc.requests import job_spec
from proto import descent_pb2
from proto.job_fields import BY_NAME, JOB_FIELDS, RULE_FIELDS
from server.errors import RequestError
from server.jobs.spec import DEFAULTS, JobConfig, resolve
from server.params.update_rules import OPTIMIZERS
from worker.compress import Codec
from worker.search import STRATEGIES

PROTO_FIELDS = [field.name for field in descent_pb2.JobSpec.DESCRIPTOR.fields]
#: The fields with a command-line option of their own (min_workers, max_workers come through --workers MIN:MAX).
OPTION_FIELDS = [name for name in PROTO_FIELDS if not BY_NAME[name].via]


def test_the_table_has_every_jobspec_field_and_no_other():
    assert [field.name for field in JOB_FIELDS] == PROTO_FIELDS


def test_every_field_but_the_dataset_can_be_left_unset():
    unset = [name for name in PROTO_FIELDS if name != "dataset"]
    assert all(descent_pb2.JobSpec.DESCRIPTOR.fields_by_name[name].has_presence for name in unset)


def test_the_server_config_has_the_tables_fields_and_defaults():
    assert [f.name for f in dataclasses.fields(JobConfig)] == PROTO_FIELDS
    for field in JOB_FIELDS:
        assert getattr(DEFAULTS, field.name) == field.default, field.name
        assert isinstance(field.default, field.kind)
    assert resolve(descent_pb2.JobSpec()) == DEFAULTS


def test_the_choices_are_the_ones_the_server_implements():
    assert BY_NAME["optimizer"].choices == OPTIMIZERS
    assert BY_NAME["strategy"].choices == STRATEGIES


def test_train_has_an_option_for_every_field_and_tune_for_the_rule():
    train = {param.name for param in cli.commands["train"].params}
    assert set(OPTION_FIELDS) <= train and not {"min_workers", "max_workers"} & train
    assert set(RULE_FIELDS) | {"dataset", "workers", "batch_size", "seed", "dtype"} <= {p.name for p in tune.params}


def test_a_spec_from_the_client_carries_only_what_was_given():
    spec = job_spec("digits", lr=0.1, overlap=False, momentum=None)
    assert spec.dataset == "digits" and spec.HasField("lr") and spec.HasField("overlap") and not spec.overlap
    assert not spec.HasField("momentum") and not spec.HasField("workers")
    with pytest.raises(ValueError, match="not JobSpec fields: learning_rate"):
        job_spec(learning_rate=0.1)


def _out_of_range(field):
    """A value just outside ``field``'s bounds, the way a user would get it wrong."""
    if field.high_open or field.high < 1e9:
        return field.kind(field.high) + (0 if field.high_open else 1)
    return field.kind(field.low) - 1 if not field.low_open else field.kind(field.low)


@pytest.mark.parametrize("field", [f for f in JOB_FIELDS if f.low is not None], ids=lambda f: f.name)
def test_the_server_refuses_each_number_out_of_its_bounds_naming_it(field):
    with pytest.raises(RequestError, match=f"^{field.name} must be in"):
        resolve(descent_pb2.JobSpec(**{field.name: _out_of_range(field)}))
    if field.kind is float:
        with pytest.raises(RequestError, match=f"^{field.name} must be in .* got nan"):
            resolve(descent_pb2.JobSpec(**{field.name: math.nan}))


@pytest.mark.parametrize("field", [f for f in JOB_FIELDS if f.choices], ids=lambda f: f.name)
def test_the_server_refuses_each_unknown_choice_naming_it(field):
    with pytest.raises(RequestError, match=f"unknown {field.name} 'nope': expected one of {field.choices[0]}"):
        resolve(descent_pb2.JobSpec(**{field.name: "nope"}))


@pytest.mark.parametrize("field", [f for f in JOB_FIELDS if f.kind is str], ids=lambda f: f.name)
def test_the_server_refuses_each_string_past_its_length(field):
    with pytest.raises(RequestError, match=f"{field.name} is {field.max_chars + 1} characters"):
        resolve(descent_pb2.JobSpec(**{field.name: "x" * (field.max_chars + 1)}))


def test_a_search_must_leave_every_gradient_setting_unset():
    for field in JOB_FIELDS:
        if field.gradient_only:
            other = {bool: True, int: 2, str: field.choices[-1] if field.choices else "sync", float: 0.5}[field.kind]
            if field.name == "lr_schedule":
                other = "cosine"
            if field.name == "compress":
                other = "fp16"
            with pytest.raises(RequestError, match=f"uses no gradient: leave .*{field.name}"):
                resolve(descent_pb2.JobSpec(strategy="random-search", steps=2, **{field.name: other}))


def test_modes_and_schedules_are_parsed_once_into_the_config():
    config = resolve(descent_pb2.JobSpec(consistency="ssp:3", lr_schedule="step:100,0.5", optimizer="rmsprop"))
    assert (config.mode.kind, config.mode.bound) == ("ssp", 3)
    assert (config.schedule.kind, config.schedule.every, config.schedule.factor) == ("step", 100, 0.5)
    assert config.beta2 == 0.99  # rmsprop's own default
    rule = config.rule_spec()
    assert rule.lr_at(100) == pytest.approx(config.lr * 0.5) and rule.beta2 == 0.99
    assert resolve(config.to_proto()) == config


def test_the_cli_refuses_an_unknown_choice_before_it_connects():
    result = CliRunner().invoke(cli, ["train", "--optimizer", "lbfgs", "--server", "127.0.0.1:1"])
    assert result.exit_code == 2
    assert "Invalid value for '--optimizer': 'lbfgs' is not one of 'sgd'" in result.output


@pytest.mark.parametrize("command", ["train", "tune"])
def test_every_job_option_reaches_the_command(command, tmp_path):
    """Each option binds to the command (no field the command's signature forgot): it gets as far as connecting."""
    names = OPTION_FIELDS if command == "train" else ["dataset", "workers", "batch_size", "seed", "dtype", *RULE_FIELDS]
    values = {bool: [], int: ["3"], float: ["0.5"], str: ["x"]}
    args = [command, "--server", "127.0.0.1:9", "--connect-timeout", "0.2"]
    if command == "tune":  # a remote server's study lives in a file the user names
        args += ["--storage", str(tmp_path / "tune.db")]
    for name in names:
        field = BY_NAME[name]
        if field.kind is bool:
            args.append(field.flag)
        else:
            args += [field.flag, field.choices[0] if field.choices else values[field.kind][0]]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert "UNAVAILABLE" in result.output and "Traceback" not in result.output


def test_compress_is_parsed_once_and_checked_at_the_edge():
    assert resolve(descent_pb2.JobSpec(compress="topk:0.01")).codec == Codec("topk", 0.01)
    assert not resolve(descent_pb2.JobSpec()).codec.active
    for value, words in (("zip", "unknown kind 'zip'"), ("topk:0", "got 0"), ("topk:2", "got 2"),
                         ("topk:nan", "got nan"), ("int8:1", "takes no argument")):
        with pytest.raises(RequestError, match="^compress: ") as error:
            resolve(descent_pb2.JobSpec(compress=value))
        assert words in str(error.value)
    with pytest.raises(RequestError, match="compress does not apply"):
        resolve(descent_pb2.JobSpec(gradient="numerical", steps=2, compress="fp16"))
