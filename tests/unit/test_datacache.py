"""The prepared-data cache: one preparation per (spec, seed, dtype), read-only shared views, LRU by bytes."""

import mmap
import weakref

import numpy as np
import pytest

from server.cluster.data_cache import DEFAULT_BLOCK_BYTES, DataCache
from server.config import parse_args
from tests.fakes import Objects
from tests.unit.test_pages import rss_shmem_kb
from worker.data.prepare import prepare
from worker.data.rows import Rows


def test_second_request_reuses_the_shared_copy_and_matches_prepare():
    objects = Objects()
    cache = DataCache(objects)
    first = cache.get("digits", 3, "float32")
    puts = len(objects.values)
    second = cache.get(" digits ", 3, "float32")
    assert second is first and len(objects.values) == puts  # prepared and put once
    fresh = prepare("digits", seed=3, dtype="float32")
    for name in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        view = getattr(first.data, name)
        np.testing.assert_array_equal(view, getattr(fresh, name))
        assert not view.flags.writeable and not view.flags.owndata  # a view of the store's copy
    assert objects.values[first.X_refs[0]] is not None and first.data.mean.shape == fresh.mean.shape


def test_other_seed_or_dtype_is_another_entry():
    cache = DataCache(Objects())
    a = cache.get("digits", 0, "float32")
    b = cache.get("digits", 1, "float32")
    c = cache.get("digits", 0, "float64")
    assert len({id(a), id(b), id(c)}) == 3 and c.data.X_train.dtype == np.float64
    assert cache.keys() == [("digits", 0, "float32"), ("digits", 1, "float32"), ("digits", 0, "float64")]


def test_least_recently_used_entries_go_once_past_the_bound():
    one = DataCache(Objects()).get("digits", 0, "float32").nbytes
    cache = DataCache(Objects(), max_bytes=2 * one)
    cache.get("digits", 0, "float32")
    cache.get("digits", 1, "float32")
    cache.get("digits", 0, "float32")  # 0 is now the most recently used
    cache.get("digits", 2, "float32")  # over the bound: 1 goes
    assert cache.keys() == [("digits", 0, "float32"), ("digits", 2, "float32")]
    small = DataCache(Objects(), max_bytes=1)
    small.get("digits", 0, "float32")
    assert small.keys() == [("digits", 0, "float32")]  # the entry just prepared always stays


class SharedObjects(Objects):
    """An object store in shared memory (MAP_SHARED, like Ray's): put copies in, get returns read-only views."""

    def put(self, value):
        value = np.ascontiguousarray(value)
        buffer = mmap.mmap(-1, max(value.nbytes, 1), flags=mmap.MAP_SHARED)
        array = np.frombuffer(buffer, dtype=value.dtype, count=value.size).reshape(value.shape)
        array[...] = value
        return super().put(array)


@pytest.mark.parametrize("block_bytes", [DEFAULT_BLOCK_BYTES, 1 << 20])  # training split whole, or in 5 blocks
def test_an_entry_is_unmapped_once_no_job_has_used_it_for_a_while_and_stays_usable(block_bytes):
    spec = "synthetic:3000,512,3"  # 6 MiB of features: well over a page per split
    cache = DataCache(SharedObjects(), block_bytes=block_bytes)
    first = cache.get(spec, 0, "float32")
    second = cache.get(spec, 0, "float32")  # two jobs use it
    assert cache.unmap_idle(0.0) == 0
    cache.done(first)
    assert cache.unmap_idle(0.0) == 0  # one job still uses it
    cache.done(second)
    assert cache.unmap_idle(60.0) == 0  # not idle for long enough yet
    before = rss_shmem_kb()
    released = cache.unmap_idle(0.0)
    assert released > 0.9 * first.nbytes and before - rss_shmem_kb() >= 0.9 * released / 1024
    assert cache.unmap_idle(0.0) == 0  # once
    again = cache.get(spec, 0, "float32")
    assert again is first
    fresh = prepare(spec, seed=0, dtype="float32")
    for name in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(again.data, name), getattr(fresh, name))


class CopyingObjects(Objects):
    """Keeps a copy of each value put (as Ray's store does) and notes which earlier originals are still alive."""

    def __init__(self):
        super().__init__()
        self.originals = []
        self.alive_at_put = []

    def put(self, value):
        self.alive_at_put.append(sum(ref() is not None for ref in self.originals))
        self.originals.append(weakref.ref(value))
        return super().put(value.copy())


def test_each_private_array_is_dropped_once_it_is_in_the_store():
    objects = CopyingObjects()
    shared = DataCache(objects).get("synthetic:3000,64,3", 0, "float32")
    assert objects.alive_at_put == [0] * 6  # never more than the one being copied exists twice
    assert all(ref() is None for ref in objects.originals)
    fresh = prepare("synthetic:3000,64,3", seed=0, dtype="float32")
    np.testing.assert_array_equal(shared.data.X_train, fresh.X_train)
    assert shared.nbytes == sum(getattr(fresh, n).nbytes for n in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"))


def test_a_training_split_over_the_block_bound_is_stored_block_by_block():
    objects = CopyingObjects()
    spec = "synthetic:3000,64,3"  # 2,100 training rows of 65 float32
    shared = DataCache(objects, block_bytes=500 * 65 * 4).get(spec, 0, "float32")
    assert isinstance(shared.data.X_train, Rows)
    assert [objects.values[ref].shape for ref in shared.X_refs] == [(500, 65)] * 4 + [(100, 65)]
    # X_val, X_test, five blocks, three label arrays: none put while an earlier private array lives
    assert objects.alive_at_put == [0] * 10
    assert all(ref() is None for ref in objects.originals)
    whole = prepare(spec, seed=0, dtype="float32")
    np.testing.assert_array_equal(np.asarray(shared.data.X_train), whole.X_train)
    for _, block in shared.data.X_train.blocks():
        assert not block.flags.writeable and not block.flags.owndata  # views of the store's copies
    assert shared.nbytes == sum(getattr(whole, n).nbytes for n in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"))


def test_an_entry_evicted_while_in_use_is_unmapped_when_its_last_job_is_done():
    cache = DataCache(SharedObjects(), max_bytes=1)  # room for the newest entry only
    first = cache.get("synthetic:3000,512,3", 0, "float32")
    cache.get("synthetic:3000,512,3", 1, "float32")  # evicts the first while a job still uses it
    assert cache.keys() == [("synthetic:3000,512,3", 1, "float32")]
    before = rss_shmem_kb()
    cache.done(first)
    assert before - rss_shmem_kb() >= 0.9 * first.nbytes / 1024
    np.testing.assert_array_equal(first.data.X_train, prepare("synthetic:3000,512,3", seed=0).X_train)


def test_the_cache_and_block_flags_are_read_and_checked(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("DESCENT_TOKEN", "t" * 32)
    monkeypatch.setenv("DESCENT_DATA_BLOCK", "16M")
    config = parse_args(["--state-dir", str(tmp_path), "--data-cache", "512M"])
    assert (config.data_cache_bytes, config.data_block_bytes) == (512 << 20, 16 << 20)
    for flags, message in ((["--data-block", "0.5M"], "--data-block must be at least 1M, got 0.5M"),
                           (["--data-cache", "abc"], "--data-cache: 'abc' is not a size")):
        with pytest.raises(SystemExit) as stopped:
            parse_args(["--state-dir", str(tmp_path), *flags])
        assert stopped.value.code == 2 and message in capsys.readouterr().err
    monkeypatch.setenv("DESCENT_DATA_BLOCK", "")  # set but empty, as compose files often leave it: the default
    assert parse_args(["--state-dir", str(tmp_path)]).data_block_bytes == DEFAULT_BLOCK_BYTES
    for flags in (["--data-block", ""], ["--data-block=-64M"], ["--data-block", "nan"], ["--data-cache", "inf"],
                  ["--data-block", "1e9"]):
        with pytest.raises(SystemExit):
            parse_args(["--state-dir", str(tmp_path), *flags])
        assert "is not a size" in capsys.readouterr().err
    with pytest.raises(ValueError, match="block_bytes must be at least 1"):
        DataCache(Objects(), block_bytes=0)
