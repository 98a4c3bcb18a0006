"""Dropping this process's page mappings of shared memory it no longer reads (Linux; elsewhere a no-op).

The server writes each prepared data set into Ray's object store, a MAP_SHARED mapping of
a file in /dev/shm, and reads it while jobs use it. Afterwards its RSS still counts
every page it wrote or read (~590 MiB for the CIFAR-shaped set), though the pages
belong to the object store, which keeps them for the next job on the same data.
``madvise(MADV_DONTNEED)`` on a shared mapping removes only this process's mappings of
the pages: the data stays in the shared file, and the next read maps a page again (a
minor fault; ~0.1 s for the whole CIFAR-shaped set here). On a private mapping it would
discard the data instead, so a range that is not entirely inside one shared mapping is
left alone.
"""

from __future__ import annotations

import ctypes
import mmap
import sys
from collections.abc import Iterable

import numpy as np

from worker.task.malloc import libc_function

MADV_DONTNEED = 4
_PAGE = mmap.PAGESIZE


def _madvise():
    """libc's madvise with its C signature, or None where there is none (or it is not Linux's)."""
    function = libc_function("madvise") if sys.platform.startswith("linux") else None
    if function is not None:
        function.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        function.restype = ctypes.c_int
    return function


def shared_mappings() -> list[tuple[int, int]]:
    """The (start, end) address ranges of this process's shared ('s') mappings, from /proc/self/maps."""
    ranges = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                fields = line.split(maxsplit=2)
                if len(fields) >= 2 and fields[1][3:4] == "s":
                    start, end = fields[0].split("-")
                    ranges.append((int(start, 16), int(end, 16)))
    except OSError:
        return []
    return ranges


def _inner_pages(array: np.ndarray) -> tuple[int, int]:
    """The whole pages inside ``array``'s bytes: (first page's address, end address); empty if none."""
    address = array.__array_interface__["data"][0]
    start = -(-address // _PAGE) * _PAGE
    end = (address + array.nbytes) // _PAGE * _PAGE
    return start, max(start, end)


def unmap_shared(arrays: Iterable[np.ndarray]) -> int:
    """Drop this process's mappings of the whole pages of each C-contiguous array that lies in shared memory.

    Returns the bytes advised (pages not mapped at the time count too). Arrays in private
    memory (or not contiguous) are skipped, their data untouched.
    """
    madvise = _madvise()
    if madvise is None:
        return 0
    shared = shared_mappings()
    released = 0
    for array in arrays:
        if not isinstance(array, np.ndarray) or not array.flags.c_contiguous:
            continue
        start, end = _inner_pages(array)
        if end <= start or not any(lo <= start and end <= hi for lo, hi in shared):
            continue
        if madvise(start, end - start, MADV_DONTNEED) == 0:
            released += end - start
    return released
