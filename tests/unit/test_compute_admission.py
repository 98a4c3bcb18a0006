"""Compute admission and the one table of bounds: what an analysis or a job would compute is estimated from its
data set's size and refused above the server's bound (naming the estimate, the bound, the flag and how to shrink
it) before anything runs; every documented example fits the default bounds; analyses hold per-client slots; an
analysis's fields take the bounds of proto.job_fields, the same as SubmitJob's."""

from __future__ import annotations

import re
import threading

import pytest

from formats.sizes import data_size
from proto import descent_pb2 as pb
from server.analyses.gradcheck import GRADIENT_CHECK, GradcheckConfig
from server.analyses.landscape import LANDSCAPE, LandscapeConfig
from server.analyses.minibatch import MINIBATCH, MinibatchConfig
from server.analyses.sweep import SWEEP, SweepConfig
from server.config import parse_args
from server.errors import RequestError, ResourcesExhausted
from server.jobs.costs import CALL_FLOPS, job_flops, loss_flops
from server.jobs.spec import JobConfig
from server.limits import Limits
from server.rpc.admission import Admission
from server.rpc.data_roots import DataRoots
from worker.data.prepare import parse_spec

#: A stand-in of each documented data set's shape (CIFAR-10 and MNIST are not bundled).
CIFAR = "synthetic:60000,3072,10"
MNIST = "synthetic:70000,784,10"


def gate(tmp_path, **limits) -> Admission:
    return Admission(Limits(**limits), DataRoots([tmp_path]), job_dataset=lambda _: "digits", running_jobs=lambda: 0)


def size(spec: str):
    return data_size(*parse_spec(spec))


HOSTILE = [  # the cases: each ran for minutes before
    (LANDSCAPE, LandscapeConfig(dataset="synthetic:20000,1000,10", points=401), "--points"),
    (MINIBATCH, MinibatchConfig(dataset="synthetic:20000,1000,10", draws=10_000, sizes=tuple(range(1, 65))), "--draws"),
    (GRADIENT_CHECK, GradcheckConfig(dataset="synthetic:2000,1000,1000", full=True, method="brute"), "--checks"),
]


@pytest.mark.parametrize("analysis, cfg, hint", HOSTILE, ids=["landscape", "minibatch", "gradcheck"])
def test_an_analysis_over_the_compute_bound_is_refused_with_its_estimate_the_bound_and_a_remedy(tmp_path, analysis, cfg, hint):
    with pytest.raises(ResourcesExhausted) as info:
        gate(tmp_path).admit_analysis(analysis, cfg)
    message = str(info.value)
    estimate = float(re.search(r"about ([0-9.e+]+) floating-point operations", message)[1])
    assert estimate == pytest.approx(analysis.cost_flops(size(cfg.dataset), cfg), rel=1e-2) and estimate > 1e12
    assert "the limit is 1e+12 (--max-request-flops on `descent serve`, or $DESCENT_MAX_REQUEST_FLOPS, raises it)" in message
    assert hint in message and analysis.what in message
    assert gate(tmp_path, request_flops=2 * estimate).admit_analysis(analysis, cfg) == cfg  # the flag raises it


def test_the_estimates_follow_the_work():
    digits = size("digits")
    one = loss_flops(digits, digits.num_examples)
    assert one == 2 * digits.num_examples * 10 * 65 + CALL_FLOPS
    assert LANDSCAPE.cost_flops(digits, LandscapeConfig(points=3)) == (9 + 3 + 1) * one
    assert LANDSCAPE.cost_flops(digits, LandscapeConfig(points=3, examples=1)) == 13 * loss_flops(digits, 1)
    brute = GRADIENT_CHECK.cost_flops(digits, GradcheckConfig(full=True, method="brute"))
    assert brute > 50 * GRADIENT_CHECK.cost_flops(digits, GradcheckConfig(full=True))  # O(N) per coordinate
    assert GRADIENT_CHECK.cost_flops(digits, GradcheckConfig(checks=40)) > GRADIENT_CHECK.cost_flops(
        digits, GradcheckConfig(checks=20))
    assert MINIBATCH.cost_flops(digits, MinibatchConfig(draws=200)) > 1.5 * MINIBATCH.cost_flops(digits, MinibatchConfig())
    assert SWEEP.cost_flops(digits, SweepConfig(batch_size=100)) < SWEEP.cost_flops(digits, SweepConfig())
    job = JobConfig(dataset="digits")
    assert job_flops(digits, JobConfig(dataset="digits", steps=4000)) == 2 * job_flops(digits, job)
    assert job_flops(digits, JobConfig(dataset="digits", gradient="numerical")) > job_flops(digits, job)
    brute = JobConfig(dataset="digits", gradient="numerical", numerical_method="brute")
    assert job_flops(digits, brute) > 650 * job_flops(digits, job)  # a loss per coordinate and side


def test_every_documented_example_fits_the_default_bounds(tmp_path):
    """The README's and docs/' analyses and jobs (docs/notes-tour.md, training.md, models.md, cluster.md)."""
    limits = parse_args(["--state-dir", str(tmp_path)]).limits  # the defaults `descent serve` runs with
    analyses = [
        (GRADIENT_CHECK, GradcheckConfig(dataset="digits")),
        (GRADIENT_CHECK, GradcheckConfig(dataset="digits", checks=50, formula="forward")),
        (GRADIENT_CHECK, GradcheckConfig(dataset="digits", full=True, hs=(1e-3, 1e-5, 1e-7, 1e-9))),
        (GRADIENT_CHECK, GradcheckConfig(dataset=CIFAR, full=True)),
        (GRADIENT_CHECK, GradcheckConfig(dataset="digits", full=True, hs=(1e-3,), batch_size=2000)),
        (SWEEP, SweepConfig(dataset="digits")),
        (SWEEP, SweepConfig(dataset="digits", step_min=1e-10, step_max=1e-1, points=19)),
        (SWEEP, SweepConfig(dataset=MNIST)),
        (MINIBATCH, MinibatchConfig(dataset="digits")),
        (MINIBATCH, MinibatchConfig(dataset=MNIST)),
        (LANDSCAPE, LandscapeConfig(dataset="digits")),
        (LANDSCAPE, LandscapeConfig(dataset="digits", examples=1)),
        (LANDSCAPE, LandscapeConfig(dataset="digits", span=0.5)),
        (LANDSCAPE, LandscapeConfig(dataset="synthetic:10000,784,10")),  # the MNIST test set of the benchmarks
    ]
    for analysis, cfg in analyses:
        assert analysis.cost_flops(size(cfg.dataset), cfg) <= limits.request_flops, cfg
    jobs = [
        JobConfig(dataset="digits", optimizer="momentum", steps=1000),
        JobConfig(dataset="digits", gradient="numerical", steps=20),
        JobConfig(dataset="digits", strategy="random-search"),
        JobConfig(dataset=MNIST, workers=4),
        JobConfig(dataset=CIFAR, steps=100_000),  # far more than any example
    ]
    for job in jobs:
        assert job_flops(size(job.dataset), job) <= limits.job_flops, job


def test_a_job_over_its_compute_bound_is_refused(tmp_path):
    job = JobConfig(dataset="digits", gradient="numerical", steps=2000)
    with pytest.raises(ResourcesExhausted, match=r"about .* floating-point operations \(fewer steps.*--max-job-flops"):
        gate(tmp_path, job_flops=1e9).admit_job(job)
    assert gate(tmp_path).admit_job(job).dataset == "digits"


def test_analyses_hold_a_slot_of_their_client(tmp_path):
    admission = gate(tmp_path, analyses=3, client_analyses=1)
    with admission.analysis_slot("ipv4:10.0.0.2"):
        with pytest.raises(ResourcesExhausted, match=r"this client \(ipv4:10.0.0.2\) is running 1 analyses.*"
                                                     "--max-analyses-per-client"):
            with admission.analysis_slot("ipv4:10.0.0.2"):
                pass
        with admission.analysis_slot("ipv4:10.0.0.3"):  # another client has its own
            pass
    with admission.analysis_slot("ipv4:10.0.0.2"):  # released, server slots included
        with admission.analysis_slot("ipv4:10.0.0.3"):
            pass
    errors = []

    def hold() -> None:
        try:
            with admission.analysis_slot("ipv4:10.0.0.4"):
                pass
        except ResourcesExhausted as error:  # pragma: no cover - a leak would show here
            errors.append(error)

    threads = [threading.Thread(target=hold) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with admission.analysis_slot("ipv4:10.0.0.4"), admission.analysis_slot("a"), admission.analysis_slot("b"):
        pass  # every slot came back


@pytest.mark.parametrize("analysis, request_", [
    (MINIBATCH, pb.MinibatchRequest(dataset="digits", init_scale=1e308)),
    (MINIBATCH, pb.MinibatchRequest(dataset="digits", draws=10_001)),
    (MINIBATCH, pb.MinibatchRequest(dataset="digits", batch_sizes=[1, 2, 1 << 21])),
    (LANDSCAPE, pb.LandscapeRequest(dataset="digits", span=1e308)),
    (LANDSCAPE, pb.LandscapeRequest(dataset="digits", span=0)),
    (LANDSCAPE, pb.LandscapeRequest(dataset="digits", points=402)),
    (LANDSCAPE, pb.LandscapeRequest(dataset="digits", examples=0)),
    (LANDSCAPE, pb.LandscapeRequest(dataset="digits", reg=1e300)),
    (GRADIENT_CHECK, pb.GradientCheckRequest(dataset="digits", checks=1 << 22)),
    (GRADIENT_CHECK, pb.GradientCheckRequest(dataset="digits", batch_size=(1 << 20) + 1)),
    (SWEEP, pb.StepSizeSweepRequest(dataset="digits", batch_size=(1 << 20) + 1)),
    (SWEEP, pb.StepSizeSweepRequest(dataset="digits", init_scale=float("inf"))),
    (SWEEP, pb.StepSizeSweepRequest(dataset="digits", step_min=1e-3, step_max=1e308)),
    (GRADIENT_CHECK, pb.GradientCheckRequest(dataset="digits", h_values=[1e-5, 1e300])),
    (GRADIENT_CHECK, pb.GradientCheckRequest(dataset="digits", h=0)),
], ids=lambda value: getattr(value, "what", None) or str(value).replace("\n", " ")[:60])
def test_analyses_take_the_bounds_of_the_one_table(analysis, request_):
    with pytest.raises(RequestError, match=r"must be in [(\[]"):
        analysis.resolve(request_)


def test_the_bounds_of_the_table_are_the_ones_a_job_has():
    """init_scale 1e6 and reg 1e6 are within SubmitJob's bounds, and so within an analysis's."""
    cfg = MINIBATCH.resolve(pb.MinibatchRequest(dataset="digits", init_scale=1e6, reg=1e6, draws=10_000))
    assert (cfg.init_scale, cfg.reg, cfg.draws) == (1e6, 1e6, 10_000)
    cfg = LANDSCAPE.resolve(pb.LandscapeRequest(dataset="digits", span=1e6, points=401))
    assert (cfg.span, cfg.points) == (1e6, 401)


def test_the_compute_bounds_come_from_flags_or_the_environment(tmp_path, monkeypatch):
    """An embedded server (started by a command) has no flags of the user's: it reads the environment."""
    state = ["--state-dir", str(tmp_path)]
    assert parse_args([*state, "--max-request-flops", "2.5e12", "--max-job-flops", "1e16"]).limits.request_flops == 2.5e12
    monkeypatch.setenv("DESCENT_MAX_REQUEST_FLOPS", "3e13")
    monkeypatch.setenv("DESCENT_MAX_JOB_FLOPS", "1e17")
    limits = parse_args(state).limits
    assert (limits.request_flops, limits.job_flops) == (3e13, 1e17)
    assert parse_args([*state, "--max-request-flops", "1e11"]).limits.request_flops == 1e11  # the flag wins
    for bad in (["--max-request-flops", "0.5"], ["--max-job-flops", "inf"], ["--max-request-flops", "lots"]):
        with pytest.raises(SystemExit):
            parse_args([*state, *bad])
