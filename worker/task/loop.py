"""The training loop a Ray task runs: pull W, sample a batch, compute the gradient, push, repeat.

This module does not import Ray: ``server.cluster.launcher`` runs ``TrainLoop`` in a Ray
task. The loop holds one ``PushStream`` call open for the whole job: each
request carries a gradient and is answered with the new W (one round trip per
step, without the fixed cost of a new call per step).

Overlap (the default, except in ``sync`` jobs): while push t is in flight the loop
computes step t+1's gradient on the newest W it has, so the round trip hides behind
compute; each gradient is then one update staler (staleness 1 for a lone worker, and
the server measures it). Without overlap the loop waits for the new W before computing.

With ``push_every`` K (Downpour's n_push) the loop applies K local steps to its own copy
of W (``W -= lr * dW``) and pushes the sum of the K gradients, which the server counts as
K updates. Batches come from one generator per worker seeded by the job, one batch per
local step, so a worker's batches are reproducible (server.training.seeds).

How the arrays travel is worker.task.wire: in the messages (one copy of the gradient, W
decoded without a copy), or, when the server is on this worker's host, through a
shared-memory lane (proto.shared_memory) with one small socket message each way. A job
with ``compress`` pushes compressed gradients (worker.compress) in the messages, with
top-k's residual carried from push to push (error feedback).
"""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import numpy as np

from proto import descent_pb2, lifted
from proto.limits import GRPC_OPTIONS
from proto.wire import passthrough
from worker.compress import ErrorFeedback, parse_compress
from worker.data.rows import sample_batch, skip_batches
from worker.kernel import svm_loss_grad
from worker.task.malloc import keep_freed_memory
from worker.task.wire import LaneWire, Update, Weights, open_wire

_END = None
PUSH_STREAM = "/descent.v1.ParameterServer/PushStream"


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
    lr: float = 0.0  # the job's step size (used for local steps when push_every > 1)
    push_every: int = 1  # local steps per push (Downpour's n_push)
    overlap: bool = True  # compute the next gradient while a push is in flight
    shared_memory: bool = True  # offer the server a shared-memory lane (used if the server is on this host)
    epoch: int = 0  # this worker's start in its slot (a replacement has the next): older epochs are fenced
    compress: str = "none"  # the job's gradient compression (worker.compress); any but none: no lane
    skip_batches: int = 0  # batches of this seed's stream drawn before (a job continued from another)


def _requests(outbox: queue.SimpleQueue) -> Iterator[bytes]:
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

    def _compute(self, current: Weights, X, y, rng) -> Update:
        """The gradient to push from W: one batch, or push_every local steps on a copy."""
        cfg = self.config
        W = current.W
        if cfg.push_every == 1:
            Xb, yb = sample_batch(X, y, cfg.batch_size, rng)
            loss, dW = svm_loss_grad(W, Xb, yb, cfg.reg)
            return Update(dW, float(loss), current.version)
        local = W.copy()
        total, losses = np.zeros_like(local), 0.0
        for _ in range(cfg.push_every):
            Xb, yb = sample_batch(X, y, cfg.batch_size, rng)
            loss, dW = svm_loss_grad(local, Xb, yb, cfg.reg)
            total += dW
            losses += float(loss)
            local -= cfg.lr * dW
        return Update(total, losses / cfg.push_every, current.version)

    def run(self, X: np.ndarray, y: np.ndarray) -> dict:
        """Train until told to stop; return this worker's push count, node, wire and where its time went."""
        cfg = self.config
        keep_freed_memory()
        rng = np.random.default_rng(cfg.seed)
        skip_batches(rng, len(y), cfg.batch_size, cfg.skip_batches)
        outbox: queue.SimpleQueue = queue.SimpleQueue()
        pushes, compute = 0, 0.0
        started, cpu_started = time.perf_counter(), time.process_time()
        fields = dict(job_id=cfg.job_id, worker_id=cfg.worker_id, node_id=cfg.node_id, secret=cfg.secret, epoch=cfg.epoch)
        codec = parse_compress(cfg.compress)
        encoder = ErrorFeedback(codec) if codec.active else None
        wire = None
        with _channel(cfg) as channel:
            metadata = (("authorization", f"Bearer {cfg.token}"),) if cfg.token else None
            call = channel.stream_stream(
                PUSH_STREAM, request_serializer=passthrough, response_deserializer=lifted.parameters
            )
            replies = call(_requests(outbox), metadata=metadata)
            try:
                lane = cfg.shared_memory and encoder is None
                outbox.put(descent_pb2.PushRequest(shared_memory=lane, **fields).SerializeToString())
                wire, current = open_wire(outbox, replies, fields, encoder)
                while not current.stop:
                    tick = time.perf_counter()
                    update = self._compute(current, X, y, rng)
                    compute += time.perf_counter() - tick
                    wire.send(update, cfg.push_every)
                    pushes += 1
                    if cfg.overlap:
                        # While this push is in flight, compute the next gradient on the W we have.
                        while True:
                            tick = time.perf_counter()
                            update = self._compute(current, X, y, rng)
                            compute += time.perf_counter() - tick
                            current = wire.receive()
                            if current.stop:
                                break
                            wire.send(update, cfg.push_every)
                            pushes += 1
                        break
                    current = wire.receive()
            finally:
                if isinstance(wire, LaneWire):
                    wire.close()
                outbox.put(_END)
        return {
            "worker_id": cfg.worker_id, "node_id": cfg.node_id, "pushes": pushes,
            "seconds": time.perf_counter() - started, "compute_seconds": compute,
            "cpu_seconds": time.process_time() - cpu_started,
            "shared_memory": wire is not None and wire.shared_memory,
        }
