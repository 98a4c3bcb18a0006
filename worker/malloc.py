"""Keep freed memory in the process instead of returning it to the OS after every call.

Each training step allocates and frees buffers of 100 KB to a few MB (a batch,
W's bytes, protobuf messages). By default glibc serves such sizes with mmap and
gives them back at free, so the next step page-faults them in again; in these
VMs page faults are slow (encoding W for the reply measured ~220 µs instead of
~20 µs). Raising glibc's mmap and trim thresholds keeps the memory for reuse.
"""

from __future__ import annotations

import ctypes
import ctypes.util

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's maximum on 64-bit
TRIM_THRESHOLD = 256 * 1024 * 1024


def keep_freed_memory() -> bool:
    """Raise glibc's mmap/trim thresholds for this process; False where there is no glibc ``mallopt``."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
