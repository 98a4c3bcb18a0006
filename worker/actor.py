"""The training loop a Ray actor runs: pull W, sample a batch, compute the gradient, push, repeat.

This module does not import Ray: ``server.launcher`` wraps ``TrainLoop`` as an
actor. One gRPC call per step: pushing a gradient returns the new W. While that
call is in flight the next batch is sampled (it does not depend on W), so the
sampling cost hides behind the network round trip.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc
import numpy as np

from proto import descent_pb2, descent_pb2_grpc
from proto.limits import GRPC_OPTIONS
from proto.tensor import from_tensor, to_tensor
from worker.data import sample_batch
from worker.malloc import keep_freed_memory
from worker.svm import svm_loss_grad


@dataclass(frozen=True)
class LoopConfig:
    """What one worker needs to know about its job."""

    server_address: str
    job_id: str
    worker_id: str
    node_id: str
    batch_size: int
    reg: float
    seed: int


class TrainLoop:
    """One worker of a job; ``run`` returns when the parameter server says stop."""

    def __init__(self, config: LoopConfig):
        self.config = config

    def ready(self) -> str:
        """The node this worker runs on (lets the launcher wait for placement)."""
        return self.config.node_id

    def run(self, X: np.ndarray, y: np.ndarray) -> dict:
        """Train until told to stop; return this worker's step count and node."""
        cfg = self.config
        keep_freed_memory()
        rng = np.random.default_rng(cfg.seed)
        with grpc.insecure_channel(cfg.server_address, options=GRPC_OPTIONS) as channel:
            stub = descent_pb2_grpc.ParameterServerStub(channel)
            params = stub.Pull(descent_pb2.PullRequest(job_id=cfg.job_id, worker_id=cfg.worker_id))
            steps = 0
            batch = sample_batch(X, y, cfg.batch_size, rng)
            while not params.stop:
                W = from_tensor(params.weights)
                loss, dW = svm_loss_grad(W, batch[0], batch[1], cfg.reg)
                request = descent_pb2.PushRequest(
                    job_id=cfg.job_id,
                    worker_id=cfg.worker_id,
                    node_id=cfg.node_id,
                    gradient=to_tensor(dW),
                    loss=loss,
                    version=params.version,
                )
                future = stub.Push.future(request)
                batch = sample_batch(X, y, cfg.batch_size, rng)
                params = future.result()
                steps += 1
        return {"worker_id": cfg.worker_id, "node_id": cfg.node_id, "pushes": steps}
