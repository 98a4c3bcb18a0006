"""``python -m server``: run the descent parameter server.

OpenBLAS in this process uses one thread (unless OPENBLAS_NUM_THREADS says otherwise), set
before numpy loads: the server's own numpy work (the training curve's validation accuracy,
the final evaluation) runs beside the job's workers, which hold every CPU of a local cluster;
a multi-threaded GEMM then spins against them. Measured on 2 cores, 2-worker job on
synthetic:20000,3072,10: server CPU per update 2,308 µs with OpenBLAS's default threads,
851 µs with one, in the same run. Ray's processes started from here inherit it; the
training workers and analysis tasks take one CPU each, where one BLAS thread is right anyway.
"""

import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from server.app import main  # after the BLAS setting, before numpy is imported

sys.exit(main())
