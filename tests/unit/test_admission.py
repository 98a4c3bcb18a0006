"""Admission control: sizes read from headers agree with the loaded data, and what exceeds a limit is
refused before anything is allocated, naming the limit and the flag that raises it."""

from __future__ import annotations

import gzip
import io
import struct
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from formats.sizes import data_size
from server.analyses.gradcheck import GRADIENT_CHECK, GradcheckConfig
from server.analyses.landscape import LANDSCAPE, LandscapeConfig
from server.analyses.minibatch import MINIBATCH, MinibatchConfig
from server.analyses.sweep import SWEEP, SweepConfig
from server.errors import RequestError, ResourcesExhausted
from server.jobs.spec import JobConfig
from server.limits import Limits, parse_bytes
from server.rpc.admission import Admission
from server.rpc.data_roots import DataRoots
from worker.data.prepare import load, parse_spec

REAL_MNIST = Path(__file__).resolve().parents[3] / "shared/data/mnist"


def header_only_npz(path: Path, x_shape: tuple[int, ...], y: np.ndarray) -> None:
    """An npz whose X.npy is only a header (no data): its size is known without any bytes behind it."""
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, {"descr": "<f4", "fortran_order": False, "shape": x_shape})
    labels = io.BytesIO()
    np.lib.format.write_array(labels, y)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("X.npy", head.getvalue())
        archive.writestr("y.npy", labels.getvalue())


def admission(root: Path, **limits) -> Admission:
    return Admission(Limits(**limits), DataRoots([root]), job_dataset=lambda _: "digits", running_jobs=lambda: 0)


def test_sizes_from_headers_match_the_loaded_arrays(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((37, 3, 4)).astype(np.float32), rng.integers(0, 7, 37)
    np.savez(tmp_path / "a.npz", X=X, y=y)
    np.savez_compressed(tmp_path / "b.npz", X=X, y=y)
    for name in ("a.npz", "b.npz"):
        size = data_size(*parse_spec(f"npz:{tmp_path / name}"))
        (X_pool, y_pool), _, classes = load(f"npz:{tmp_path / name}", rng)
        assert (size.num_examples, size.num_features, size.num_classes) == (*X_pool.shape, classes)
    size = data_size(*parse_spec("synthetic:100,7,5"))
    assert (size.num_examples, size.num_features, size.num_classes) == (100, 7, 5)
    size = data_size(*parse_spec("digits"))
    (X_pool, _), _, classes = load("digits", rng)
    assert (size.num_examples, size.num_features, size.num_classes) == (*X_pool.shape, classes)


def test_mnist_sizes_from_idx_headers(tmp_path):
    images = np.arange(5 * 4 * 3, dtype=np.uint8).reshape(5, 4, 3)
    labels = np.array([0, 3, 1, 2, 3], dtype=np.uint8)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">3I", 5, 4, 3) + images.tobytes())
    )
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 5) + labels.tobytes())
    size = data_size(*parse_spec(f"mnist:{tmp_path}"))
    assert (size.num_examples, size.num_features, size.num_classes) == (5, 12, 4)
    if REAL_MNIST.is_dir():
        size = data_size(*parse_spec(f"mnist:{REAL_MNIST}"))
        assert (size.num_examples, size.num_features, size.num_classes) == (10_000, 784, 10)


def test_a_label_of_1e15_is_refused_naming_the_class_limit(tmp_path):
    np.savez(tmp_path / "big.npz", X=np.zeros((3, 2), np.float32), y=np.array([0, 1, 10**15]))
    with pytest.raises(ResourcesExhausted, match=r"1000000000000001 classes.*--max-classes"):
        admission(tmp_path).admit_job(JobConfig(dataset="npz:big.npz"))
    np.savez(tmp_path / "neg.npz", X=np.zeros((3, 2), np.float32), y=np.array([0, -1, 1]))
    with pytest.raises(RequestError, match=">= 0"):
        admission(tmp_path).admit_job(JobConfig(dataset="npz:neg.npz"))


def test_too_large_requests_are_refused_before_any_allocation(tmp_path):
    header_only_npz(tmp_path / "huge.npz", (10**6, 30_000), np.zeros(10**6, np.int8))  # 120 GB of float32 claimed
    gate = admission(tmp_path, request_memory=parse_bytes("2G"))
    tracemalloc.start()
    try:
        for request in (
            lambda: gate.admit_job(JobConfig(dataset="npz:huge.npz")),
            lambda: gate.admit_job(JobConfig(dataset="synthetic:100000000,6,10")),
            lambda: gate.admit_analysis(GRADIENT_CHECK, GradcheckConfig(dataset="synthetic:1000,10000,10000", full=True)),
            lambda: gate.admit_analysis(SWEEP, SweepConfig(dataset="synthetic:5000000,100,10")),
            lambda: gate.admit_analysis(MINIBATCH, MinibatchConfig(dataset="synthetic:5000000,100,10")),
            lambda: gate.admit_analysis(LANDSCAPE, LandscapeConfig(dataset="synthetic:5000000,100,10")),
        ):
            with pytest.raises(ResourcesExhausted, match=r"needs about .* GiB.*limit is 2 GiB \(--max-request-memory"):
                request()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, f"refusing allocated {peak} bytes"


def test_count_limits_name_their_flags(tmp_path):
    gate = admission(tmp_path, workers_per_job=4, steps=1000, analyses=1)
    with pytest.raises(ResourcesExhausted, match="5 workers.*--max-workers-per-job"):
        gate.admit_job(JobConfig(workers=5))
    with pytest.raises(ResourcesExhausted, match="2000 steps.*--max-steps"):
        gate.admit_job(JobConfig(steps=2000))
    busy = Admission(Limits(jobs=2), DataRoots([tmp_path]), job_dataset=lambda _: "digits", running_jobs=lambda: 2)
    with pytest.raises(ResourcesExhausted, match="2 jobs are not finished yet.*--max-jobs"):
        busy.admit_job(JobConfig())
    crowded = Admission(Limits(worker_streams=6), DataRoots([tmp_path]), job_dataset=lambda _: "digits",
                        running_jobs=lambda: 1, running_workers=lambda: 5)
    with pytest.raises(ResourcesExhausted, match="have 5 workers and this one asks for 2 more.*--max-worker-streams"):
        crowded.admit_job(JobConfig(workers=2))
    assert crowded.admit_job(JobConfig(workers=1)).workers == 1
    with gate.analysis_slot():
        with pytest.raises(ResourcesExhausted, match="--max-analyses"):
            with gate.analysis_slot():
                pass
    with gate.analysis_slot():  # released again
        pass
    assert gate.admit_job(JobConfig(workers=4, steps=1000)).dataset == "digits"
