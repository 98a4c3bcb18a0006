"""Preparing synthetic data from its stream of raw blocks, without the raw pool or the whole split in memory.

formats.datasets draws synthetic data block by block (``synthetic_stream``): the labels
come first, so the split is known before any features exist, and each block of raw rows
goes straight to its rows in the splits. The training split keeps the pool's order (its
rows are independent draws, so that order is as random as any).

A training split larger than one block of ``step`` rows is built in two passes over the
stream, so that it never exists whole outside the store ``keep`` puts it in:

1. the validation and test splits are filled and the training rows only measured
   (``Moments``: the preprocessing is fitted on the training split);
2. the stream is drawn again from the same generator state, and the training rows fill
   one block of ``step`` rows at a time, each standardized and handed to ``keep`` as soon
   as it is full (then dropped): X_train comes back as ``worker.data.rows.Rows``.

At the peak there is the data set once (what ``keep`` stored) plus one block: building
the split whole first held it twice (privately and in the store). The second pass draws
the raw numbers again (~2.5 s for 50,000 x 3,072), once per (spec, seed, dtype) on a
server, which caches prepared sets. A split of one block is built in one pass.
"""

import copy

import numpy as np

from formats.datasets import MAX_CLASSES, synthetic_stream
from worker.data.preprocessing import Moments, split_three_way, standardize
from worker.data.rows import Rows


def _finish(out, mean, scale):
    out[:, -1] = 1
    standardize(out, mean, scale)
    return out


def prepare_stream(spec, shape, load_rng, split_rng, dtype, keep_raw_test, step, keep, check=lambda: None):
    """prepare() for synthetic data: (the Prepared's fields as a dict, minus name).

    ``step``: rows per block of the training split (at least one). ``keep(name, array)``
    takes each finished array and returns what to hold instead. ``check()`` is called before
    each raw block is drawn (it raises to stop the preparation).
    """
    replay = copy.deepcopy(load_rng)  # the second pass draws the same numbers again
    y_pool, num_classes, blocks = synthetic_stream(shape, load_rng)
    if num_classes > MAX_CLASSES:
        raise ValueError(f"{spec.strip()[:200]}: labels go up to {num_classes - 1}; at most {MAX_CLASSES} classes")
    train, val, test = split_three_way(y_pool, split_rng)
    train = np.sort(train)
    d = shape[1]
    one_pass = step >= len(train)
    where = np.empty(len(y_pool), dtype=np.int8)  # which split each pool row goes to
    position = np.empty(len(y_pool), dtype=np.int64)  # and its row there
    for index, rows in enumerate((train, val, test)):
        where[rows] = index
        position[rows] = np.arange(len(rows))
    outs = [np.empty((len(rows), d + 1), dtype=dtype) if index or one_pass else None
            for index, rows in enumerate((train, val, test))]
    raw_test = np.empty((len(test), d), dtype=np.float32) if keep_raw_test else None
    mean, scale = _first_pass(_checked(blocks, check), d, where, position, outs, raw_test)
    X_val = keep("X_val", _finish(outs.pop(1), mean, scale))
    X_test = keep("X_test", _finish(outs.pop(1), mean, scale))
    if one_pass:
        X_train = keep("X_train", _finish(outs.pop(0), mean, scale))
    else:
        outs.clear()
        _, _, again = synthetic_stream(shape, replay)
        X_train = Rows(list(_train_blocks(_checked(again, check), where == 0, step, len(train), d, dtype, mean, scale, keep)))
    return dict(
        X_train=X_train, y_train=keep("y_train", y_pool[train]), X_val=X_val, y_val=keep("y_val", y_pool[val]),
        X_test=X_test, y_test=keep("y_test", y_pool[test]), num_classes=int(num_classes),
        mean=mean, scale=scale, X_test_raw=raw_test,
    )


def _checked(blocks, check):
    """``blocks`` with ``check()`` called before each one is drawn."""
    for block in blocks:
        check()
        yield block


def _first_pass(blocks, d, where, position, outs, raw_test):
    """Fill the splits in ``outs`` (None: not built in this pass) and fit the preprocessing: (mean, scale)."""
    moments = Moments(d)
    for start, block in blocks:
        here, at = where[start:start + len(block)], position[start:start + len(block)]
        for index, out in enumerate(outs):
            mine = here == index
            rows = block[mine]
            if index == 0:
                moments.add(rows)
            if out is not None:
                out[at[mine], :-1] = rows
            if index == 2 and raw_test is not None:
                raw_test[at[mine]] = rows
    return moments.result()


def _train_blocks(stream, is_train, step, count, d, dtype, mean, scale, keep):
    """The training split's blocks of ``step`` rows, each kept as soon as it is full."""
    out, filled, done = None, 0, 0
    for start, block in stream:
        rows = block[is_train[start:start + len(block)]]
        while len(rows):
            if out is None:
                out, filled = np.empty((min(step, count - done), d + 1), dtype=dtype), 0
            take = min(len(rows), len(out) - filled)
            out[filled:filled + take, :-1] = rows[:take]
            filled, rows = filled + take, rows[take:]
            if filled == len(out):
                kept = keep("X_train", _finish(out, mean, scale))
                done, out = done + len(kept), None  # the private block goes before the next is made
                yield kept
