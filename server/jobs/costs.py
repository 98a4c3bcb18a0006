"""What a job or an analysis costs in server memory, modelled from its data set's size (formats.sizes).

Admission (server.rpc.admission) holds these figures against the server's memory limit before
anything is allocated; each analysis adds its own temporaries (server.analyses.*.cost_bytes).
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
