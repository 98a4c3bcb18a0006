"""What a job or an analysis costs in server memory and in compute, modelled from its data set's size (formats.sizes).

Admission (server.rpc.admission) holds these figures against the server's limits before
anything is allocated or started; each analysis adds its own temporaries and counts its own
loss evaluations (server.analyses.*.cost_bytes, cost_flops).
"""

from __future__ import annotations

from formats.sizes import DataSize
from server.jobs.spec import JobConfig
from server.params.loss_history import MAX_BLOCKS

ITEMSIZE = {"float32": 4, "float64": 8}
#: Copies of W a job holds at once: the store's W and scratch, a snapshot's bytes, a saved copy.
W_COPIES = 4
#: Float64 temporaries of a loss evaluation on a batch: scores, margins, their mask, the gradient's factor.
SCORE_COPIES = 4


def prepared_bytes(size: DataSize, itemsize: int) -> int:
    """The examples with the bias column, in ``itemsize``-byte floats."""
    return size.num_examples * (size.num_features + 1) * itemsize


def weights_bytes(size: DataSize, itemsize: int) -> int:
    """W, (C, D+1), in ``itemsize``-byte floats."""
    return size.num_classes * (size.num_features + 1) * itemsize


def job_bytes(size: DataSize, config: JobConfig) -> int:
    """Raw data, its prepared copy and the object store's copy, W's copies and the loss history."""
    itemsize = ITEMSIZE.get(config.dtype, 8)
    history = min(config.steps, MAX_BLOCKS) * 8
    batch = min(config.batch_size, size.num_examples) * (size.num_features + 1 + SCORE_COPIES * size.num_classes) * 8
    return size.raw_bytes + 2 * prepared_bytes(size, itemsize) + W_COPIES * weights_bytes(size, itemsize) + history + batch


def evaluation_bytes(size: DataSize) -> int:
    """Every example of a data set, raw and preprocessed in float64 (a job evaluated on it)."""
    return size.raw_bytes + prepared_bytes(size, 8)


# Compute, in floating-point operations (a multiply-add is two), modelled from the same sizes: admission holds an
# analysis's estimate against --max-request-flops and a job's against --max-job-flops before anything runs.

#: Gradient evaluations the mini-batch measurement times per batch size (its warm-up and repeats, at least).
TIMING_CALLS = 25
#: A numpy call's fixed cost (~50-100 µs of Python and dispatch), counted as operations: what a tiny batch costs.
CALL_FLOPS = 1e6
#: Operations per example and coordinate of the incremental finite difference (a few per hinge it moves).
INCREMENTAL_OPS = 4


def loss_flops(size: DataSize, examples: int) -> float:
    """One loss evaluation on ``examples`` examples: the scores' GEMM, 2·N·C·(D+1), and the call's fixed cost."""
    return 2.0 * min(examples, size.num_examples) * size.num_classes * (size.num_features + 1) + CALL_FLOPS


def gradient_flops(size: DataSize, examples: int) -> float:
    """Loss and analytic gradient on ``examples`` examples: two GEMMs."""
    return 2 * loss_flops(size, examples)


def finite_difference_flops(size: DataSize, coordinates: int, evaluations: int, batch: int, method: str) -> float:
    """``evaluations`` finite differences (steps h × sides) at each of ``coordinates`` coordinates on a batch:
    a whole loss each (brute) or O(N) per coordinate (incremental, worker.fdiff)."""
    per = loss_flops(size, batch) if method == "brute" else INCREMENTAL_OPS * min(batch, size.num_examples)
    return float(coordinates) * evaluations * per + gradient_flops(size, batch)


def job_flops(size: DataSize, config: JobConfig) -> float:
    """A job's whole training: ``steps`` gradients of a batch; a search's ``steps`` loss evaluations; a numerical
    job's ``steps`` full centered numerical gradients."""
    batch = config.batch_size
    if config.strategy != "gradient":
        return config.steps * 2 * loss_flops(size, batch)  # each candidate, and the kept W on a fresh batch
    if config.gradient == "numerical":
        coordinates = size.num_classes * (size.num_features + 1)
        return config.steps * finite_difference_flops(size, coordinates, 2, batch, config.numerical_method)
    return config.steps * gradient_flops(size, batch)


def evaluation_flops(size: DataSize) -> float:
    """Every example of a data set scored once (an evaluation or a prediction)."""
    return loss_flops(size, size.num_examples)


def describe_flops(flops: float) -> str:
    """``3.2e+13 operations`` in words a refusal can use."""
    return f"{flops:.3g} floating-point operations"
