"""A real server and its cached data sets: mappings given back once idle, a training split stored in blocks."""

from __future__ import annotations

import threading

from proto import descent_pb2 as pb
from proto.tensor import from_chunks
from tests.integration.test_durability import assert_exact, finish, submit, wait_for
from worker import svm
from worker.data.prepare import prepare

DATASET = "synthetic:20000,768,10"  # 58.6 MiB of float32 features
DATA_KB = 20000 * 769 * 4 // 1024  # the prepared splits, with the bias column


def rss_shmem_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("RssShmem:"):
                return int(line.split()[1])
    raise AssertionError("no RssShmem")


class Peak:
    """The highest RssShmem of a process, sampled every 50 ms in a thread while in the ``with`` block."""

    def __init__(self, pid: int):
        self.pid, self.kb = pid, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.kb = max(self.kb, rss_shmem_kb(self.pid))

    def __enter__(self) -> Peak:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def test_the_server_unmaps_an_idle_cached_data_set_and_a_later_job_still_reads_it(server_factory):
    server = server_factory(num_cpus=2)
    try:
        with Peak(server.proc.pid) as peak:
            first = finish(server, submit(server, dataset=DATASET, workers=1, steps=300, lr=1e-3))
        assert_exact(first, 300)
        assert peak.kb >= 0.9 * DATA_KB, peak.kb  # it wrote the data set into the object store
        mapped = peak.kb
        # the housekeeping thread drops the mappings ~2 s after the job (heartbeat 1 s)
        wait_for(lambda: rss_shmem_kb(server.proc.pid) <= mapped - 0.9 * DATA_KB, timeout=30, poll=0.2)
        second = finish(server, submit(server, dataset=DATASET, workers=1, steps=300, lr=1e-3))
        assert_exact(second, 300)
        assert second.num_train == first.num_train  # the cached data set, read again after the unmapping
        assert abs(second.val_accuracy - first.val_accuracy) < 0.1, (first.val_accuracy, second.val_accuracy)
    finally:
        assert server.stop() == 0


def test_a_training_split_stored_in_blocks_trains_and_is_evaluated_like_the_whole_one(server_factory, tmp_path):
    # 8 MiB blocks: the 14,000 training rows (41 MiB) are stored as 6 objects, sampled by 2 workers
    server = server_factory(num_cpus=2, extra_args=["--data-block", "8M"])
    try:
        status = finish(server, submit(server, dataset=DATASET, workers=2, steps=400, lr=1e-3, seed=3))
        assert_exact(status, 400)
        W, _ = from_chunks(server.trainer.GetWeights(pb.GetWeightsRequest(job_id=status.job_id)))
        # a full-batch random local search on the same blocks: its losses summed block by block
        search = finish(server, submit(server, dataset=DATASET, workers=2, steps=3, seed=3, lr=1e-3,
                                       batch_size=20000, strategy="random-local-search"))
        assert pb.JobState.Name(search.state) == "SUCCEEDED", search.message
        history = server.trainer.GetJob(pb.GetJobRequest(job_id=search.job_id, include_history=True)).loss_history
        assert len(history) == 3 and all(later <= earlier for earlier, later in zip(history, history[1:])), history
    finally:
        assert server.stop() == 0
    assert "the training split in 6 block(s)" in server.log_path.read_text()
    whole = prepare(DATASET, 3)  # the same training split, as one array
    assert status.num_train == len(whole.y_train)
    # counted block by block on the server; a near tie may round the other way in one GEMM shape
    assert abs(status.train_accuracy - svm.accuracy(W, whole.X_train, whole.y_train)) <= 2 / len(whole.y_train)
    assert status.val_accuracy > 0.5, status.val_accuracy  # it learned (10 classes)
