"""Keep freed memory in the process while a job trains, and give it back when the job ends.

Each training step allocates and frees buffers of 100 KB to a few MB (a batch,
W's bytes, protobuf messages). By default glibc serves such sizes with mmap and
gives them back at free, so the next step page-faults them in again; in these
VMs page faults are slow (encoding W for the reply measured ~220 µs instead of
~20 µs). Raising glibc's mmap and trim thresholds keeps the memory for reuse.
A worker process outlives its job (Ray keeps it for the next task), so the loop
trims the heap when it returns. The raised thresholds stay: glibc's dynamic threshold is
off for good once any threshold has been set (a fixed 128 KiB would page-fault every
larger allocation of the next task, ~10× the faults of a fresh process), and with them
the next task in this process reuses its freed memory the same way.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's maximum on 64-bit
TRIM_THRESHOLD = 256 * 1024 * 1024


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """The C library, looked up once per process (find_library runs ``ldconfig -p``: ~4 ms)."""
    library = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(library) if library else None
    except OSError:
        return None


def libc_function(name: str):
    """glibc's function ``name``, or None where there is no such C library function."""
    libc = _libc()
    return getattr(libc, name, None) if libc is not None else None


def keep_freed_memory() -> bool:
    """Raise glibc's mmap/trim thresholds for this process; False where there is no glibc ``mallopt``."""
    mallopt = libc_function("mallopt")
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def release_freed_memory() -> bool:
    """Give the heap's free memory back to the OS now (``malloc_trim``); False if none was or where there is no glibc."""
    malloc_trim = libc_function("malloc_trim")
    return malloc_trim is not None and bool(malloc_trim(0))
