"""The training loop a Ray actor runs: pull W, sample a batch, compute the gradient, push, repeat.

This module does not import Ray: ``server.launcher`` wraps ``TrainLoop`` as an
actor. The loop holds one ``PushStream`` call open for the whole job: each
request carries a gradient and is answered with the new W (one round trip per
step, without the fixed cost of a new call per step). While a push is in
flight the next batch is sampled (it does not depend on W), so the sampling
cost hides behind the round trip.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import numpy as np

from proto import descent_pb2, descent_pb2_grpc
from proto.limits import GRPC_OPTIONS
from proto.tensor import from_tensor, to_tensor
from worker.data import sample_batch
from worker.malloc import keep_freed_memory
from worker.svm import svm_loss_grad

_END = None


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
    token: str = ""  # the server's bearer token (every call carries it)
    secret: str = ""  # this worker's own secret, handed out by its job when it placed the worker
    tls_ca: bytes = b""  # PEM that verifies a TLS server (empty: plaintext)


def _requests(outbox: queue.SimpleQueue) -> Iterator[descent_pb2.PushRequest]:
    while (request := outbox.get()) is not _END:
        yield request


def _channel(cfg: LoopConfig) -> grpc.Channel:
    if cfg.tls_ca:
        credentials = grpc.ssl_channel_credentials(root_certificates=cfg.tls_ca)
        return grpc.secure_channel(cfg.server_address, credentials, options=GRPC_OPTIONS)
    return grpc.insecure_channel(cfg.server_address, options=GRPC_OPTIONS)


class TrainLoop:
    """One worker of a job; ``run`` returns when the parameter server says stop."""

    def __init__(self, config: LoopConfig):
        self.config = config

    def ready(self) -> str:
        """The node this worker runs on (lets the launcher wait for placement)."""
        return self.config.node_id

    def run(self, X: np.ndarray, y: np.ndarray) -> dict:
        """Train until told to stop; return this worker's push count and node."""
        cfg = self.config
        keep_freed_memory()
        rng = np.random.default_rng(cfg.seed)
        outbox: queue.SimpleQueue = queue.SimpleQueue()
        pushes = 0
        with _channel(cfg) as channel:
            metadata = (("authorization", f"Bearer {cfg.token}"),) if cfg.token else None
            replies = descent_pb2_grpc.ParameterServerStub(channel).PushStream(_requests(outbox), metadata=metadata)
            try:
                outbox.put(
                    descent_pb2.PushRequest(
                        job_id=cfg.job_id, worker_id=cfg.worker_id, node_id=cfg.node_id, secret=cfg.secret
                    )
                )
                params = next(replies)
                Xb, yb = sample_batch(X, y, cfg.batch_size, rng)
                while not params.stop:
                    loss, dW = svm_loss_grad(from_tensor(params.weights), Xb, yb, cfg.reg)
                    outbox.put(
                        descent_pb2.PushRequest(
                            job_id=cfg.job_id,
                            worker_id=cfg.worker_id,
                            node_id=cfg.node_id,
                            gradient=to_tensor(dW),
                            loss=loss,
                            version=params.version,
                            secret=cfg.secret,
                        )
                    )
                    Xb, yb = sample_batch(X, y, cfg.batch_size, rng)
                    params = next(replies)
                    pushes += 1
            finally:
                outbox.put(_END)
        return {"worker_id": cfg.worker_id, "node_id": cfg.node_id, "pushes": pushes}
