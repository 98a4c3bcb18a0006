"""The push record on a real server: a replaced worker's epoch is fenced, its calls refused and counted.

A 2-worker job; one worker process is SIGKILLed and replaced (epoch 1 of its slot). A call in
that worker's old epoch is refused with PERMISSION_DENIED naming the replacement, and counted in
``refused_stale_pushes``; the job still ends with exactly its steps and no push applied twice.
"""

from __future__ import annotations

import os
import signal

import grpc
import numpy as np
import pytest

from proto import descent_pb2 as pb
from proto.tensor import to_tensor
from tests.integration.test_durability import assert_exact, finish, get, ray_worker_pids, submit, wait_for


def test_a_replaced_workers_old_epoch_is_refused_and_counted(server_factory):
    server = server_factory(num_cpus=3)
    try:
        job_id = submit(server, dataset="digits", workers=2, steps=40_000, lr=1e-3)
        wait_for(lambda: get(server, job_id).version > 2_000, timeout=120)
        os.kill(wait_for(lambda: ray_worker_pids(server), timeout=30)[0], signal.SIGKILL)
        wait_for(lambda: get(server, job_id).worker_restarts >= 1, timeout=60)
        refusals = []
        for slot in (0, 1):  # the killed one's old epoch is fenced; the other's epoch 0 is still its newest
            push = pb.PushRequest(
                job_id=job_id, worker_id=f"{job_id}-w{slot}", secret="0123456789abcdef0123456789abcdef", epoch=0, sequence=1,
                gradient=to_tensor(np.zeros((10, 65), dtype=np.float32)), loss=1.0,
            )
            with pytest.raises(grpc.RpcError) as refused:
                server.params.Push(push)
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
            refusals.append("replaced by a newer one" in refused.value.details())
        assert sorted(refusals) == [False, True], refusals
        assert get(server, job_id).refused_stale_pushes == 1
        final = finish(server, job_id)
        assert_exact(final, 40_000)
        assert final.refused_stale_pushes == 1 and final.duplicate_pushes == 0
    finally:
        assert server.stop() == 0
