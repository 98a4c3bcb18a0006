"""What a benchmark's JSON says about the machine's BLAS: which kernel ran, and the OpenBLAS overrides in force."""

from __future__ import annotations

import os

from threadpoolctl import threadpool_info


def blas_facts() -> dict:
    """``blas`` (per loaded BLAS: API, version, kernel architecture, threads) and ``openblas_env``."""
    return {
        "blas": [
            {k: info.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
            for info in threadpool_info()
        ],
        "openblas_env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
    }
