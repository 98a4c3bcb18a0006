"""server.cluster.shm_pages: dropping this process's mappings of shared memory keeps the data; private memory is left alone."""

import mmap

import numpy as np

from server.cluster.shm_pages import shared_mappings, unmap_shared


def rss_shmem_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssShmem:"):
                return int(line.split()[1])
    raise AssertionError("no RssShmem in /proc/self/status")


def shared_array(values: np.ndarray) -> tuple[mmap.mmap, np.ndarray]:
    """A copy of ``values`` in a MAP_SHARED mapping (shared memory, as Ray's object store maps it)."""
    buffer = mmap.mmap(-1, values.nbytes, flags=mmap.MAP_SHARED)
    array = np.frombuffer(buffer, dtype=values.dtype).reshape(values.shape)
    array[...] = values
    return buffer, array


def test_unmapping_shared_pages_lowers_rss_and_keeps_the_data():
    values = np.random.default_rng(0).standard_normal((2048, 1024)).astype(np.float32)  # 8 MiB
    buffer, array = shared_array(values)
    address = array.__array_interface__["data"][0]
    assert any(lo <= address < hi for lo, hi in shared_mappings())
    before = rss_shmem_kb()
    released = unmap_shared([array])
    after = rss_shmem_kb()
    assert released == values.nbytes  # the mapping starts on a page boundary and is whole pages
    assert before - after >= 0.9 * released / 1024, (before, after, released)
    np.testing.assert_array_equal(array, values)  # read again: the same data, mapped afresh
    assert rss_shmem_kb() - after >= 0.9 * released / 1024
    del array
    buffer.close()


def test_private_memory_and_views_with_gaps_are_left_alone():
    values = np.random.default_rng(1).standard_normal((1024, 1024))
    private = values.copy()
    assert unmap_shared([private]) == 0
    np.testing.assert_array_equal(private, values)
    buffer, array = shared_array(values)
    assert unmap_shared([array[:, ::2], "not an array"]) == 0  # not contiguous: skipped
    assert unmap_shared([array[:1, :10]]) == 0  # less than a page: nothing whole to drop
    del array
    buffer.close()
