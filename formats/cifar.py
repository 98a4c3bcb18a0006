"""CIFAR-10 "python version" batches: pickled dicts with ``data`` uint8 (N, 3072) and ``labels``.

Rows of ``data`` are channel-major: 1,024 red, then 1,024 green, then 1,024 blue values
of a 32 x 32 image, row by row. Unpickling is restricted to numpy arrays.
"""

import pickle

import numpy as np

#: The class names of CIFAR-10, in label order (batches.meta's label_names).
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


class ArrayUnpickler(pickle.Unpickler):
    """Unpickler that only rebuilds numpy arrays: CIFAR batches need nothing else, and a
    pickle from an arbitrary directory must not be able to run arbitrary code."""

    _ALLOWED = {
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
        *((mod, name) for mod in ("numpy.core.multiarray", "numpy._core.multiarray")
          for name in ("_reconstruct", "scalar")),
        *((mod, "_frombuffer") for mod in ("numpy.core.numeric", "numpy._core.numeric")),
    }

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR batch")
        return super().find_class(module, name)



def read_cifar_batch(path):
    """Return (data (N, D) as stored, labels (N,) int64); ValueError naming the file if it is not a batch."""
    try:
        with open(path, "rb") as f:
            batch = ArrayUnpickler(f, encoding="bytes").load()
        data, labels = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"])
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as err:
        raise ValueError(f"cifar10: {path} is not a CIFAR-10 python batch ({err!r})") from None
    if data.ndim != 2 or labels.shape != (len(data),) or labels.dtype.kind not in "iu":
        raise ValueError(f"cifar10: {path} has data {data.shape} and labels {labels.shape} {labels.dtype}; "
                         f"expected data (N, 3072) and N integer labels")
    if len(labels) and (labels.min() < 0 or labels.max() >= 10):
        raise ValueError(f"cifar10: labels in {path} outside [0, 10)")
    return data, labels.astype(np.int64)

