"""Every request bounded, against a real server with its default bounds and a real 2-CPU Ray cluster: what would
compute for minutes is refused RESOURCE_EXHAUSTED at once, garbage inputs INVALID_ARGUMENT, and work whose caller
went (a killed client, a passed deadline, CancelJob of a numerical-gradient job) stops: every CPU is free again
soon after, as both ClusterInfo (``descent cluster``) and Ray itself (a driver of its own) say.

The issue's figures (a refusal in < 1 s, CPUs free within 2 s) are printed; the asserts leave room for a loaded
2-core machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import pytest

from proto import descent_pb2 as pb
from proto.tensor import from_tensor, to_tensor
from tests.server_process import ROOT

Code = grpc.StatusCode
#: Generous bounds for a loaded machine (the issue's: 1 s and 2 s).
REFUSAL_S = 5.0
FREE_S = 15.0
#: A landscape the default bound admits that runs for about a minute on 2 CPUs.
LONG_LANDSCAPE = dict(dataset="synthetic:10000,1000,10", points=61)

# A driver of its own asks Ray how many CPUs are free, waiting up to 20 s for all of them.
RAY_PROBE = r"""
import json, sys, time, ray
ray.init(address=sys.argv[1], logging_level="ERROR")
total, start = ray.cluster_resources().get("CPU", 0.0), time.monotonic()
while ray.available_resources().get("CPU", 0.0) < total and time.monotonic() - start < 20:
    time.sleep(0.1)
print(json.dumps({"total": total, "free": ray.available_resources().get("CPU", 0.0)}))
"""

# A client that asks for LONG_LANDSCAPE and waits (it is killed mid-call).
CLIENT = r"""
import sys
from client.rpc.channel import open_channel
from proto import descent_pb2 as pb, descent_pb2_grpc
stub = descent_pb2_grpc.TrainerStub(open_channel(sys.argv[1], sys.argv[2]))
stub.Landscape(pb.LandscapeRequest(dataset=sys.argv[3], points=int(sys.argv[4])), timeout=600)
"""


@pytest.fixture(scope="module")
def server(module_server_factory):
    proc = module_server_factory(num_cpus=2)  # the default bounds of `descent serve`
    yield proc
    assert proc.stop() == 0, "server did not shut down cleanly"


def cpus(server) -> tuple[float, float]:
    info = server.trainer.ClusterInfo(pb.ClusterInfoRequest(), timeout=30)
    return info.available_cpus, info.total_cpus


def wait_cpus(server, busy: bool, timeout: float) -> float:
    """Seconds until every CPU is free (``busy``: until none is), per ClusterInfo."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        free, total = cpus(server)
        if (free == 0) if busy else (free == total):
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"CPUs not {'busy' if busy else 'free'} after {timeout} s: {cpus(server)}")


def ray_agrees_every_cpu_is_free(server) -> None:
    address = server.trainer.ClusterInfo(pb.ClusterInfoRequest(), timeout=30).ray_address
    env = {**os.environ, "RAY_AUTH_MODE": "token"}  # as the server's local cluster (server.cluster.local_ray)
    done = subprocess.run([sys.executable, "-c", RAY_PROBE, address], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["total"] == 2 and seen["free"] == seen["total"], seen


def train(server, **spec) -> str:
    job = server.trainer.SubmitJob(pb.SubmitJobRequest(spec=pb.JobSpec(workers=1, **spec)), timeout=30)
    for status in server.trainer.WatchJob(pb.WatchJobRequest(job_id=job.job_id, interval=0.2), timeout=300):
        pass
    assert status.state == pb.SUCCEEDED, status.message
    return job.job_id


def refused(call, request) -> tuple[Code, str, float]:
    start = time.monotonic()
    with pytest.raises(grpc.RpcError) as info:
        result = call(request, timeout=60)
        if not hasattr(result, "DESCRIPTOR"):
            list(result)  # a stream
    return info.value.code(), info.value.details() or "", time.monotonic() - start


def test_what_would_run_for_minutes_is_refused_at_once_with_its_estimate(server):
    t = server.trainer
    cases = {
        "landscape 401 points": (t.Landscape, pb.LandscapeRequest(dataset="synthetic:20000,1000,10", points=401),
                                 "--points"),
        "minibatch 10,000 draws x 64 sizes": (
            t.Minibatch, pb.MinibatchRequest(dataset="synthetic:20000,1000,10", draws=10_000,
                                             batch_sizes=list(range(1, 65))), "--draws"),
        "brute full gradient check": (
            t.GradientCheckStream, pb.GradientCheckRequest(dataset="synthetic:2000,1000,1000", full=True,
                                                           method=pb.BRUTE), "--checks"),
    }
    for name, (call, request, hint) in cases.items():
        code, details, seconds = refused(call, request)
        print(f"{name}: {code.name} in {seconds:.3f} s: {details}")
        assert code == Code.RESOURCE_EXHAUSTED, details
        assert "floating-point operations" in details and "--max-request-flops" in details and hint in details
        assert seconds < REFUSAL_S
    assert cpus(server)[0] == 2  # nothing was started


def test_analyses_take_a_jobs_bounds(server):
    t = server.trainer
    for call, request, field in [
        (t.Minibatch, pb.MinibatchRequest(dataset="digits", init_scale=1e308), "init_scale"),
        (t.Landscape, pb.LandscapeRequest(dataset="digits", span=1e308), "span"),
        (t.Landscape, pb.LandscapeRequest(dataset="digits", reg=1e7), "reg"),
        (t.StepSizeSweep, pb.StepSizeSweepRequest(dataset="digits", batch_size=2**21), "batch_size"),
    ]:
        code, details, seconds = refused(call, request)
        assert code == Code.INVALID_ARGUMENT and details.startswith(f"{field} must be in"), details
        assert seconds < REFUSAL_S
    reply = t.Landscape(pb.LandscapeRequest(dataset="digits", span=1e6, points=3, examples=10), timeout=120)
    assert [p.a for p in reply.line] == [-1e6, 0.0, 1e6] and np.isfinite([p.loss for p in reply.line]).all()


@pytest.fixture(scope="module")
def tiny_job(server) -> str:
    return train(server, dataset="synthetic:300,4,3", steps=100)  # float32, 4 features, 3 classes


def test_predict_refuses_what_is_not_finite_naming_the_row_and_column(server, tiny_job):
    job_id = tiny_job
    t = server.trainer
    X = np.ones((4, 4))
    for value, row, column, shown in [(np.nan, 2, 1, "nan"), (np.inf, 3, 3, "inf"), (1e308, 1, 0, "inf as float32")]:
        bad = X.copy()
        bad[row, column] = value
        code, details, _ = refused(t.Predict, pb.PredictRequest(job_id=job_id, inputs=to_tensor(bad)))
        assert code == Code.INVALID_ARGUMENT and f"row {row}, column {column} is {shown}" in details, details
    nan_rows = np.full((3, 4), np.nan, np.float32)
    code, details, _ = refused(t.Predict, pb.PredictRequest(job_id=job_id, inputs=to_tensor(nan_rows)))
    assert code == Code.INVALID_ARGUMENT and "row 0, column 0 is nan" in details
    reply = t.Predict(pb.PredictRequest(job_id=job_id, inputs=to_tensor(X * 1e30)), timeout=30)  # large, finite
    assert reply.labels.shape == [4]


def rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_predict_bounds_its_reply_before_computing(server):
    job_id = train(server, dataset="synthetic:2000,4,50", steps=50, dtype="float64")
    rows = np.random.default_rng(0).standard_normal((700_000, 4))  # 22 MB in; 50 float64 scores each: 280 MB out
    before = rss_mb(server.proc.pid)
    code, details, seconds = refused(server.trainer.Predict, pb.PredictRequest(job_id=job_id, inputs=to_tensor(rows)))
    print(f"predict of 700,000 rows: {code.name} in {seconds:.3f} s, server RSS {before:.0f} -> "
          f"{rss_mb(server.proc.pid):.0f} MiB: {details}")
    assert code == Code.RESOURCE_EXHAUSTED and "reply would be about" in details and "fewer rows" in details
    assert rss_mb(server.proc.pid) - before < 200  # the inputs' copies at most, never the 280 MB of scores
    reply = server.trainer.Predict(pb.PredictRequest(job_id=job_id, inputs=to_tensor(rows[:1000])), timeout=60)
    assert reply.scores.shape == [1000, 50]


def test_a_client_killed_mid_landscape_frees_every_cpu(server):
    client = subprocess.Popen(
        [sys.executable, "-c", CLIENT, server.address, server.token, LONG_LANDSCAPE["dataset"],
         str(LONG_LANDSCAPE["points"])],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        wait_cpus(server, busy=True, timeout=120)  # the data prepared, the plane's tasks running
        time.sleep(1)
        client.kill()
        client.wait()
        seconds = wait_cpus(server, busy=False, timeout=FREE_S)
    finally:
        client.kill()
    print(f"every CPU free {seconds:.2f} s after the client was killed")
    ray_agrees_every_cpu_is_free(server)


def test_a_deadline_stops_the_work_on_the_server(server):
    start = time.monotonic()
    with pytest.raises(grpc.RpcError) as info:
        server.trainer.Landscape(pb.LandscapeRequest(**LONG_LANDSCAPE), timeout=8)
    assert info.value.code() == Code.DEADLINE_EXCEEDED
    seconds = wait_cpus(server, busy=False, timeout=FREE_S)
    print(f"every CPU free {seconds:.2f} s after the deadline ({time.monotonic() - start:.1f} s after the call)")
    ray_agrees_every_cpu_is_free(server)


@pytest.mark.parametrize("spec", [
    pb.JobSpec(dataset="synthetic:100,1000,10000", gradient="numerical", workers=2, steps=50),
    pb.JobSpec(dataset="synthetic:4000,1000,10", strategy="random-search", workers=2, steps=10**6),
    pb.JobSpec(dataset="synthetic:4000,1000,10", workers=2, steps=10**7),
], ids=["numerical-gradient", "random-search", "gradient"])
def test_cancelling_a_job_frees_its_cpus_and_the_queue_moves(server, spec):
    t = server.trainer
    job = t.SubmitJob(pb.SubmitJobRequest(spec=spec), timeout=60)
    wait_cpus(server, busy=True, timeout=180)
    if spec.gradient != "numerical":  # a numerical job's first step takes long: its tasks run from the start
        for status in t.WatchJob(pb.WatchJobRequest(job_id=job.job_id, interval=0.1), timeout=180):
            if status.steps > 0:
                break  # training for real
    queued = t.SubmitJob(pb.SubmitJobRequest(spec=pb.JobSpec(dataset="digits", workers=2, steps=50)), timeout=60)
    time.sleep(1)
    assert t.GetJob(pb.GetJobRequest(job_id=queued.job_id)).state in (pb.PENDING, pb.QUEUED)
    start = time.monotonic()
    cancelled = t.CancelJob(pb.CancelJobRequest(job_id=job.job_id), timeout=60)
    assert cancelled.state == pb.CANCELLED, cancelled.message
    answered = time.monotonic() - start
    running_after = None
    for status in t.WatchJob(pb.WatchJobRequest(job_id=queued.job_id, interval=0.1), timeout=180):
        if status.state == pb.RUNNING and running_after is None:
            running_after = time.monotonic() - start
    assert status.state == pb.SUCCEEDED, status.message  # the queued job got the CPUs and trained
    print(f"CancelJob answered in {answered:.2f} s; the queued job was RUNNING {running_after:.2f} s after the call")
    assert running_after is not None and running_after < FREE_S
    seconds = wait_cpus(server, busy=False, timeout=FREE_S)
    ray_agrees_every_cpu_is_free(server)
    print(f"every CPU free {seconds:.2f} s after the queued job ended")



def finite_reply(reply) -> bool:
    """No NaN or infinity anywhere in an answer's numbers (tensors and floats), but a gradient check's figures over
    its smooth or kink coordinates, which are NaN when it has none."""
    for field, value in reply.ListFields():
        if "smooth" in field.name or "kink" in field.name:
            continue
        if field.type == field.TYPE_DOUBLE or field.type == field.TYPE_FLOAT:
            values = list(value) if field.is_repeated else [value]
            if not np.isfinite(values).all():
                return False
        elif field.type == field.TYPE_MESSAGE:
            items = list(value) if field.is_repeated else [value]
            for item in items:
                if item.DESCRIPTOR.name == "Tensor":
                    if item.dtype.startswith("float") and not np.isfinite(from_tensor(item)).all():
                        return False
                elif not finite_reply(item):
                    return False
    return True


def test_the_issues_hostile_requests_are_refused_or_answered_finite(server, tiny_job, tmp_path):
    """Each hostile request of the issue and its neighbours: a clean refusal at once, or an answer without NaN."""
    t, big, wide = server.trainer, "synthetic:20000,1000,10", "synthetic:2000,1000,1000"
    nan_file = tmp_path / "nan.npz"
    X = np.ones((10, 4), np.float32)
    X[7, 2] = np.nan
    np.savez(nan_file, X=X, y=np.arange(10) % 3)
    ones = np.ones((5, 4))
    IA, RE, OK = Code.INVALID_ARGUMENT, Code.RESOURCE_EXHAUSTED, Code.OK

    def predict(values):
        return pb.PredictRequest(job_id=tiny_job, inputs=to_tensor(values))

    def with_value(row, column, value, dtype=np.float64):
        values = ones.astype(dtype)
        values[row, column] = value
        return predict(values)

    cases = [
        (t.Landscape, pb.LandscapeRequest(dataset=big, points=401), RE),
        (t.Landscape, pb.LandscapeRequest(dataset=big, points=402), IA),
        (t.Landscape, pb.LandscapeRequest(dataset="digits", span=1e308), IA),
        (t.Landscape, pb.LandscapeRequest(dataset="digits", span=float("inf")), IA),
        (t.Landscape, pb.LandscapeRequest(dataset="digits", span=-1), IA),
        (t.Landscape, pb.LandscapeRequest(dataset="digits", init_scale=1e308), IA),
        (t.Landscape, pb.LandscapeRequest(dataset="digits", examples=-5), IA),
        (t.Landscape, pb.LandscapeRequest(dataset="digits", reg=float("nan")), IA),
        (t.Landscape, pb.LandscapeRequest(dataset="digits", points=5, span=1e6, init_scale=1e6, reg=1e6), OK),
        (t.Minibatch, pb.MinibatchRequest(dataset=big, draws=10_000, batch_sizes=list(range(1, 65))), RE),
        (t.Minibatch, pb.MinibatchRequest(dataset="digits", init_scale=1e308), IA),
        (t.Minibatch, pb.MinibatchRequest(dataset="digits", batch_sizes=list(range(1, 66))), IA),
        (t.Minibatch, pb.MinibatchRequest(dataset="digits", draws=0), IA),
        (t.Minibatch, pb.MinibatchRequest(dataset="digits", draws=10_001), IA),
        (t.Minibatch, pb.MinibatchRequest(dataset="digits", draws=3, batch_sizes=[1, 64], init_scale=1e6), OK),
        (t.GradientCheck, pb.GradientCheckRequest(dataset=wide, full=True, method=pb.BRUTE), RE),
        (t.GradientCheck, pb.GradientCheckRequest(dataset=wide, checks=2**31 - 1), IA),
        (t.GradientCheck, pb.GradientCheckRequest(dataset="digits", batch_size=2**30), IA),
        (t.GradientCheck, pb.GradientCheckRequest(dataset="digits", init_scale=1e300), IA),
        (t.GradientCheck, pb.GradientCheckRequest(dataset="digits", checks=5, init_scale=1e6), OK),
        (t.StepSizeSweep, pb.StepSizeSweepRequest(dataset="digits", points=1001, step_min=1e-3, step_max=1), IA),
        (t.StepSizeSweep, pb.StepSizeSweepRequest(dataset="digits", batch_size=2**30), IA),
        (t.StepSizeSweep, pb.StepSizeSweepRequest(dataset="digits", init_scale=1e308), IA),
        (t.SubmitJob, pb.SubmitJobRequest(spec=pb.JobSpec(dataset=wide, steps=10**9)), RE),
        (t.SubmitJob, pb.SubmitJobRequest(spec=pb.JobSpec(dataset=wide, gradient="numerical", steps=10**6)), RE),
        (t.SubmitJob, pb.SubmitJobRequest(spec=pb.JobSpec(dataset="digits", init_scale=1e308)), IA),
        (t.Predict, predict(np.full((3, 4), np.nan)), IA),
        (t.Predict, with_value(2, 3, np.inf), IA),
        (t.Predict, with_value(1, 1, -np.inf), IA),
        (t.Predict, with_value(4, 0, 1e308), IA),  # overflows float32
        (t.Predict, with_value(0, 0, np.nan, np.float32), IA),
        (t.Predict, predict(np.ones((3, 5))), IA),  # a feature too many
        (t.Predict, predict(np.arange(20, dtype=np.uint8).reshape(5, 4)), OK),
        (t.Predict, with_value(0, 0, 3e38), OK),  # finite in float32
        (t.Evaluate, pb.EvaluateRequest(job_id=tiny_job, dataset=f"npz:{nan_file}"), IA),
        (t.Evaluate, pb.EvaluateRequest(job_id=tiny_job, split="test"), OK),
    ]
    counts, failures = {"refusals": 0, "acceptances": 0, "failures": 0}, []
    for call, request, expected in cases:
        start = time.monotonic()
        try:
            reply = call(request, timeout=120)
            code = Code.OK
        except grpc.RpcError as error:
            code, details = error.code(), error.details() or ""
        seconds = time.monotonic() - start
        name = f"{type(request).__name__} {str(request).replace(chr(10), ' ')[:100]}"
        if code != expected:
            failures.append(f"{name}: {code.name}, expected {expected.name}")
        elif code == Code.OK and not finite_reply(reply):
            failures.append(f"{name}: answered with NaN or infinity")
        elif code != Code.OK and (seconds > REFUSAL_S or not details):
            failures.append(f"{name}: refused in {seconds:.2f} s with {details!r}")
        else:
            counts["refusals" if code != Code.OK else "acceptances"] += 1
            continue
        counts["failures"] += 1
    print(f"{len(cases)} hostile requests: {counts}")
    assert not failures, failures
    assert server.proc.poll() is None
    wait_cpus(server, busy=False, timeout=FREE_S)  # the last accepted request's task may still be returning its CPU


def test_one_client_runs_at_most_its_share_of_analyses(server):
    """--max-analyses-per-client (2 by default): a third analysis from the same address is refused at once, and the
    two that ran stop with their deadlines."""

    def long_call():
        with pytest.raises(grpc.RpcError) as info:
            server.trainer.Landscape(pb.LandscapeRequest(**LONG_LANDSCAPE), timeout=10)
        return info.value.code()

    with ThreadPoolExecutor(2) as pool:
        running = [pool.submit(long_call) for _ in range(2)]
        wait_cpus(server, busy=True, timeout=60)
        code, details, seconds = refused(server.trainer.Landscape, pb.LandscapeRequest(dataset="digits", points=3))
        assert code == Code.RESOURCE_EXHAUSTED and "is running 2 analyses" in details, details
        assert "--max-analyses-per-client" in details and seconds < REFUSAL_S
        assert [future.result() for future in running] == [Code.DEADLINE_EXCEEDED] * 2
    wait_cpus(server, busy=False, timeout=FREE_S)
    assert server.trainer.Landscape(pb.LandscapeRequest(dataset="digits", points=3), timeout=120).center_loss > 0
