"""A finished job's accuracy on its train, validation and test splits, the splits evaluated side by side.

Each split is one ``worker.svm.accuracy`` call, exactly as a user would compute it on the
exported model. numpy's GEMM releases the GIL, so the splits run in threads at once (the
server's OpenBLAS has one thread each): the final evaluation of a CIFAR-shaped job took
~0.15 s of one core; it now takes about the train split's share of that. A split whose
accuracy is already known for this W (the training curve's last point, on the whole
validation split) is not evaluated again.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from worker.svm import accuracy


def split_accuracies(
    W: np.ndarray, splits: dict[str, tuple[np.ndarray, np.ndarray]], known: dict[str, float] | None = None
) -> dict[str, float]:
    """Accuracy of W on every non-empty split (in ``splits``' order); a split in ``known`` is taken as given."""
    known = known or {}
    todo = {name: (X, y) for name, (X, y) in splits.items() if len(y) and name not in known}
    with ThreadPoolExecutor(max_workers=max(1, len(todo)), thread_name_prefix="evaluate") as pool:
        futures = {name: pool.submit(accuracy, W, X, y) for name, (X, y) in todo.items()}
        found = {name: future.result() for name, future in futures.items()}
    return {name: known[name] if name in known else found[name] for name, (_, y) in splits.items() if len(y)}
