"""Jobs that continue others (``init_from``): exactly the updates of one long job, chains that survive
their server, and parents that cannot be continued refused with nothing changed.

Real servers on a real local Ray cluster. Exactness needs what makes one job reproducible: one
async worker without overlap (each gradient on the W it pulled) and a fixed seed.
"""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from proto import descent_pb2 as pb
from proto.tensor import from_chunks
from tests.integration.test_durability import assert_exact, finish, get, submit, wait_for

State = pb.JobState
EXACT = dict(dataset="digits", workers=1, overlap=False, seed=11, reg=1e-4)


def weights(server, job_id: str) -> np.ndarray:
    return from_chunks(server.trainer.GetWeights(pb.GetWeightsRequest(job_id=job_id)))[0]


def history(server, job_id: str) -> list[float]:
    return list(server.trainer.GetJob(pb.GetJobRequest(job_id=job_id, include_history=True)).loss_history)


def refused(server, **spec) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        submit(server, **spec)
    return info.value.code(), info.value.details()


@pytest.mark.parametrize(
    "rule", [dict(optimizer="sgd", lr=0.01), dict(optimizer="adam", lr=0.002, lr_schedule="cosine:2000")], ids=str
)
def test_a_thousand_and_a_thousand_continued_are_two_thousand_exactly(server, rule):
    whole = finish(server, submit(server, steps=2000, **EXACT, **rule))
    first = finish(server, submit(server, steps=1000, **EXACT, **rule))
    child = finish(server, submit(server, init_from=first.job_id, steps=1000))  # the rest from the parent's spec
    for status in (whole, first, child):
        assert State.Name(status.state) == "SUCCEEDED", status.message
    assert child.parent == first.job_id and child.parent_steps == 1000 and child.steps == 1000
    assert child.spec.optimizer == rule["optimizer"] and child.spec.lr_schedule == first.spec.lr_schedule
    np.testing.assert_array_equal(weights(server, child.job_id), weights(server, whole.job_id))
    assert history(server, first.job_id) + history(server, child.job_id) == history(server, whole.job_id)
    assert child.effective_lr == whole.effective_lr
    assert child.test_accuracy == whole.test_accuracy and child.val_accuracy == whole.val_accuracy


def test_another_optimizer_starts_from_the_parents_w_with_a_fresh_rule(server):
    parent = finish(server, submit(server, steps=300, **EXACT, lr=0.01))
    child = finish(server, submit(server, init_from=parent.job_id, steps=300, optimizer="adam", lr=1e-3,
                                  lr_schedule="step:100,0.5"))
    assert State.Name(child.state) == "SUCCEEDED", child.message
    assert child.parent_steps == 300 and child.spec.optimizer == "adam"
    assert child.effective_lr == pytest.approx(1e-3 * 0.5**2)  # its own schedule from step 0, not from 300
    assert child.test_accuracy >= parent.test_accuracy - 0.05


def test_parents_that_cannot_be_continued_are_refused_and_nothing_changes(server):
    done = finish(server, submit(server, steps=200, **EXACT))
    running = submit(server, dataset="digits", workers=1, steps=10**8)
    try:
        wait_for(lambda: get(server, running).state == State.RUNNING, timeout=120)
        before = len(server.trainer.ListJobs(pb.ListJobsRequest()).jobs)
        code, details = refused(server, init_from="job-000000000000")
        assert code == grpc.StatusCode.NOT_FOUND and "init_from" in details
        code, details = refused(server, init_from=running)
        assert code == grpc.StatusCode.FAILED_PRECONDITION and "RUNNING" in details
        code, details = refused(server, init_from=done.job_id, dataset="synthetic:300,20,3")
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "10 x 65" in details and "3 x 21" in details
        code, details = refused(server, init_from="../../etc")
        assert code == grpc.StatusCode.NOT_FOUND
        assert len(server.trainer.ListJobs(pb.ListJobsRequest()).jobs) == before
    finally:
        server.trainer.CancelJob(pb.CancelJobRequest(job_id=running))
    cancelled = get(server, running)
    assert State.Name(cancelled.state) == "CANCELLED" and cancelled.version > 0
    child = finish(server, submit(server, init_from=running, steps=100, workers=1))  # a cancelled job's last W
    assert State.Name(child.state) == "SUCCEEDED" and child.parent_steps == cancelled.version


def test_kill_9_mid_continued_job_resumes_exactly(server_factory, state_dir):
    first = server_factory(state_dir)
    parent = finish(first, submit(first, dataset="digits", workers=1, steps=2000, lr=1e-3, lr_schedule="step:10000,0.5"))
    job_id = submit(first, init_from=parent.job_id, workers=2, steps=40_000)
    killed_at = wait_for(lambda: (s := get(first, job_id)).checkpoint_version >= 2_000 and s, timeout=240)
    assert killed_at.parent_steps == 2000
    first.kill()

    second = server_factory(state_dir)
    try:
        final = finish(second, job_id)
        assert_exact(final, 40_000)
        assert final.restarts == 1 and final.resumed_from >= killed_at.checkpoint_version
        assert final.parent == parent.job_id and final.parent_steps == 2000
        # The schedule counts on from the parent's 2,000 updates: update 41,999 of the chain is in its 5th decay.
        assert final.effective_lr == pytest.approx(1e-3 * 0.5**4)
    finally:
        assert second.stop() == 0
