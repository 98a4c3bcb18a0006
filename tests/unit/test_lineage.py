"""Jobs continued from others: the inherited spec, which parents qualify, where a job leaves off,
its result file, and a store that counts on from its parent's rule (oracles, no server)."""

from __future__ import annotations

import numpy as np
import pytest

from proto import descent_pb2 as pb
from server.errors import JobNotActive, JobNotFound, RequestError
from server.jobs.lineage import check_parent, check_shape, continuation, end_point, inherit, start_point
from server.jobs.spec import resolve
from server.params.lr_schedules import parse_schedule
from server.params.snapshots import StoreState
from server.params.store import ParameterStore
from server.params.update_rules import RuleSpec, make_rule
from server.state.files import JobFiles
from worker.data.rows import sample_batch, skip_batches

State = pb.JobState


def parent_status(state=State.SUCCEEDED, **spec) -> pb.JobStatus:
    full = resolve(pb.JobSpec(dataset="digits", optimizer="adam", lr=0.01, steps=500, **spec)).to_proto()
    return pb.JobStatus(job_id="job-parent", spec=full, state=state, num_classes=10, num_features=65)


def test_a_child_takes_the_parents_spec_under_the_fields_it_sets():
    merged = inherit(pb.JobSpec(init_from="job-parent", steps=70, reg=0.0), parent_status())
    config = resolve(merged)
    assert (config.optimizer, config.lr, config.steps, config.reg, config.init_from) == ("adam", 0.01, 70, 0.0, "job-parent")
    assert resolve(inherit(pb.JobSpec(init_from="job-parent"), parent_status())).steps == 500  # as many again


@pytest.mark.parametrize("state", ["PENDING", "QUEUED", "RUNNING", "FAILED", "DAMAGED"])
def test_only_a_job_that_ended_with_weights_is_continued(state):
    with pytest.raises(JobNotActive, match=f"job-parent is {state}"):
        check_parent(parent_status(State.Value(state)))
    check_parent(parent_status(State.CANCELLED))


def test_unknown_parents_and_parents_without_weights_are_named(tmp_path):
    def status_of(job_id):
        raise JobNotFound(f"no job {job_id!r}")

    with pytest.raises(JobNotFound, match="init_from: no job 'job-x'"):
        continuation(pb.JobSpec(init_from="job-x"), status_of, JobFiles(tmp_path))
    with pytest.raises(JobNotActive, match="ended without weights"):
        start_point(parent_status(State.CANCELLED), JobFiles(tmp_path))
    spec = pb.JobSpec(steps=3)
    assert continuation(spec, status_of, JobFiles(tmp_path)) == (spec, None, None)


def test_a_data_set_of_another_shape_is_refused():
    check_shape(parent_status(), "digits")
    with pytest.raises(RequestError, match=r"10 x 65 .* gives 4 x 9"):
        check_shape(parent_status(), "synthetic:100,8,4")


def state(version: int, workers: dict[str, int], optimizer=None) -> StoreState:
    return StoreState(np.full((2, 3), 0.5, np.float32), version, workers, {}, np.zeros(1), version, optimizer or {})


def test_where_a_job_leaves_off_adds_up_the_chain_and_each_slots_batches(tmp_path):
    first = end_point("job-a", "adam", None, state(30, {"job-a-w0": 20, "job-a-w1": 10}, {"m": np.ones((2, 3))}))
    assert (first.steps, first.rule_steps, first.batches) == (30, 30, (20, 10))
    second = end_point("job-b", "adam", first, state(5, {"job-b-w0": 5}))
    assert (second.steps, second.rule_steps, second.batches) == (35, 35, (25, 10))
    third = end_point("job-c", "sgd", second, state(4, {"job-c-w2": 4, "job-c-w0": 0, "intruder": 9}))
    assert (third.steps, third.rule_steps, third.batches) == (39, 4, (25, 10, 4))  # a new rule counts from 0

    files = JobFiles(tmp_path)
    files.write_result("job-a", first.weights, [1.0, 2.0], 30, first)
    back = files.read_end("job-a")
    assert (back.parent, back.steps, back.rule_steps, back.batches, back.optimizer_name) == ("job-a", 30, 30, (20, 10), "adam")
    np.testing.assert_array_equal(back.optimizer["m"], np.ones((2, 3)))
    files.write_result("job-old", first.weights, [], 30)  # a result written before results kept their end
    old = files.read_end("job-old")
    assert (old.parent, old.steps, old.optimizer_name, old.optimizer, old.batches) == ("job-old", 30, "", {}, ())
    assert old.rule_offset("sgd") == 0 and back.rule_offset("adam") == 30 and back.rule_offset("sgd") == 0
    assert files.read_end("job-none") is None


def test_a_store_numbering_its_first_update_from_the_parent_goes_on_like_one_store():
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal((3, 4)).astype(np.float32) for _ in range(20)]
    spec = RuleSpec(optimizer="adam", lr=0.1, schedule=parse_schedule("cosine"), total_steps=20)
    whole = ParameterStore(np.zeros((3, 4), np.float32), 0.1, 20, rule=make_rule(spec, (3, 4), np.float32))
    head = ParameterStore(np.zeros((3, 4), np.float32), 0.1, 12, rule=make_rule(spec, (3, 4), np.float32))
    for i, grad in enumerate(grads):
        whole.push(grad, 1.0, "w", "")
        if i < 12:
            head.push(grad, 1.0, "w", "")
    rule = make_rule(spec, (3, 4), np.float32)
    rule.load_state(head.capture().optimizer)
    tail = ParameterStore(head.weights()[0], 0.1, 8, rule=rule, first_step=12)
    for grad in grads[12:]:
        tail.push(grad, 1.0, "w", "")
    np.testing.assert_array_equal(tail.weights()[0], whole.weights()[0])


def test_skipping_batches_leaves_the_stream_where_drawing_them_would():
    X, y = np.arange(40.0).reshape(20, 2), np.arange(20)
    drawn, skipped = np.random.default_rng(3), np.random.default_rng(3)
    for _ in range(7):
        sample_batch(X, y, 5, drawn)
    skip_batches(skipped, 20, 5, 7)
    np.testing.assert_array_equal(sample_batch(X, y, 5, drawn)[1], sample_batch(X, y, 5, skipped)[1])
