"""Update rules and lr schedules: each rule against a few lines of reference numpy, the store and its checkpoints."""

import math

import numpy as np
import pytest

from proto import descent_pb2
from server.errors import RequestError
from server.jobs.spec import resolve
from server.params import update_rules
from server.params.lr_schedules import Schedule, parse_schedule
from server.params.store import ParameterStore
from server.params.update_rules import OPTIMIZERS, RuleSpec, make_rule
from server.state.files import JobFiles
from worker.data.prepare import prepare
from worker.data.rows import sample_batch
from worker.kernel import svm_loss_grad
from worker.svm import accuracy

SHAPE = (3, 5)
STEPS = 40


def _gradients(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(SHAPE) * (1 + k % 3) for k in range(STEPS)]


def _reference(optimizer, w, grads, lr_at, mu=0.9, b1=0.9, b2=0.999, eps=1e-8):
    """The rules as the CS231n notes write them, on plain float64 arrays."""
    x = w.copy()
    v = np.zeros_like(x)
    m = np.zeros_like(x)
    cache = np.zeros_like(x)
    for step, dx in enumerate(grads):
        lr = lr_at(step)
        if optimizer == "sgd":
            x += -lr * dx
        elif optimizer == "momentum":
            v = mu * v - lr * dx
            x += v
        elif optimizer == "nesterov":
            v_prev = v
            v = mu * v - lr * dx
            x += -mu * v_prev + (1 + mu) * v
        elif optimizer == "adagrad":
            cache += dx**2
            x += -lr * dx / (np.sqrt(cache) + eps)
        elif optimizer == "rmsprop":
            cache = b2 * cache + (1 - b2) * dx**2
            x += -lr * dx / (np.sqrt(cache) + eps)
        elif optimizer == "adam":
            t = step + 1
            m = b1 * m + (1 - b1) * dx
            cache = b2 * cache + (1 - b2) * (dx**2)
            mt = m / (1 - b1**t)
            vt = cache / (1 - b2**t)
            x += -lr * mt / (np.sqrt(vt) + eps)
    return x


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("schedule", ["constant", "step:7,0.5", "cosine", "exp:0.05"])
def test_rule_matches_reference_loop(optimizer, schedule):
    spec = RuleSpec(optimizer=optimizer, lr=0.05, momentum=0.8, beta1=0.85, beta2=0.95, eps=1e-6,
                    schedule=parse_schedule(schedule), total_steps=STEPS)
    _check_against_reference(spec, mu=0.8, b1=0.85, b2=0.95, eps=1e-6)


def _check_against_reference(spec, **hyperparameters):
    """The rule applied to STEPS gradients equals the reference loop at spec's step sizes, and moved W."""
    grads = _gradients()
    w0 = np.random.default_rng(1).standard_normal(SHAPE)
    rule = make_rule(spec, SHAPE, np.float64)
    w = w0.copy()
    for step, g in enumerate(grads):
        rule.apply(w, g, step)
    expected = _reference(spec.optimizer, w0, grads, spec.lr_at, **hyperparameters)
    np.testing.assert_allclose(w, expected, rtol=0, atol=1e-12)
    assert np.abs(w - w0).max() > 1e-3  # the rule moved W


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_on_a_large_w_in_blocks_equals_the_formula_bit_for_bit(dtype):
    shape = (7, update_rules.SGD_BLOCK // 3)  # 2.3 blocks: a partial last block
    rng = np.random.default_rng(4)
    w0, grad = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    rule = make_rule(RuleSpec(optimizer="sgd", lr=0.03, total_steps=10), shape, dtype)
    w = w0.copy()
    rule.apply(w, grad, 0)
    np.testing.assert_array_equal(w, w0 + np.multiply(grad, -0.03).astype(dtype))
    view = np.frombuffer(grad.tobytes(), dtype=dtype).reshape(shape)  # a read-only gradient, as pushed
    rule.apply(w, view, 1)
    np.testing.assert_array_equal(w, w0 + np.multiply(grad, -0.03).astype(dtype) + np.multiply(grad, -0.03).astype(dtype))


def test_schedules_by_hand():
    assert Schedule().lr_at(0.1, 123, 1000) == 0.1
    step = parse_schedule("step:10,0.5")
    assert [step.lr_at(1.0, s, 100) for s in (0, 9, 10, 19, 20, 35)] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.125]
    cosine = parse_schedule("cosine")
    assert cosine.lr_at(2.0, 0, 100) == 2.0
    assert cosine.lr_at(2.0, 50, 100) == pytest.approx(1.0)
    assert cosine.lr_at(2.0, 100, 100) == pytest.approx(0.0)
    horizon = parse_schedule("cosine:200")  # its own horizon, whatever the job's length
    assert horizon.lr_at(2.0, 100, 100) == horizon.lr_at(2.0, 100, 7) == pytest.approx(1.0)
    assert horizon.lr_at(2.0, 250, 100) == pytest.approx(0.0)
    assert parse_schedule("exp:0.01").lr_at(3.0, 200, 1000) == pytest.approx(3.0 * math.exp(-2.0))


def test_warmup_rises_linearly_then_hands_over_to_the_schedule():
    spec = RuleSpec(lr=0.4, schedule=parse_schedule("cosine"), total_steps=104, lr_warmup=4)
    # by hand: 0.4 * (step + 1) / 4 for steps 0..3, then the cosine over the other 100 updates
    assert [spec.lr_at(s) for s in range(4)] == pytest.approx([0.1, 0.2, 0.3, 0.4])
    assert spec.lr_at(4) == pytest.approx(0.4)
    assert spec.lr_at(54) == pytest.approx(0.2)
    assert spec.lr_at(104) == pytest.approx(0.0)
    assert RuleSpec(lr=0.4, total_steps=10).lr_at(0) == 0.4  # no warm-up by default


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_warmup_reaches_the_rule_from_the_jobspec(optimizer):
    config = resolve(descent_pb2.JobSpec(dataset="digits", optimizer=optimizer, lr=0.05, steps=40, lr_warmup=10,
                                         lr_schedule="cosine"))
    spec = config.rule_spec()
    assert spec.lr_warmup == 10 and spec.lr_at(0) == pytest.approx(0.005)
    _check_against_reference(spec, mu=0.9, b1=0.9, b2=0.999, eps=1e-8)
    with pytest.raises(RequestError, match="lr_warmup must be in"):
        resolve(descent_pb2.JobSpec(lr_warmup=-1))


@pytest.mark.parametrize(
    "text, words",
    [
        ("linear", "unknown lr schedule"),
        ("step:10", "step:EVERY,FACTOR"),
        ("step:0,0.5", "EVERY"),
        ("step:2.5,0.5", "EVERY"),
        ("step:10,1.5", "FACTOR"),
        ("step:10,abc", "not a number"),
        ("exp:", "exp:RATE"),
        ("exp:-1", "RATE"),
        ("exp:nan", "finite"),
        ("constant:3", "no arguments"),
        ("cosine:0", "STEPS"),
        ("cosine:2.5", "STEPS"),
        ("cosine:x", "not a number"),
    ],
)
def test_malformed_schedules_are_refused(text, words):
    with pytest.raises(ValueError, match=words):
        parse_schedule(text)


@pytest.mark.parametrize(
    "fields, words",
    [
        ({"optimizer": "lbfgs"}, "unknown optimizer 'lbfgs'"),
        ({"optimizer": "momentum", "momentum": 1.0}, r"momentum must be in \[0, 1\), got 1.0"),
        ({"momentum": -0.1}, "momentum must be in"),
        ({"momentum": float("nan")}, "momentum must be in"),
        ({"beta1": 1.5}, "beta1 must be in"),
        ({"beta2": 1.0}, "beta2 must be in"),
        ({"eps": 0.0}, "eps must be in"),
        ({"lr_schedule": "step:5"}, "lr_schedule: lr schedule 'step:5' must be step:EVERY,FACTOR"),
        ({"lr_schedule": "x" * 1000}, "lr_schedule is 1000 characters"),
    ],
)
def test_spec_validation_names_the_bad_field(fields, words):
    with pytest.raises(RequestError, match=words):
        resolve(descent_pb2.JobSpec(dataset="digits", **fields))


def test_spec_defaults_and_rmsprop_beta2():
    config = resolve(descent_pb2.JobSpec())
    assert (config.optimizer, config.momentum, config.beta1, config.beta2, config.eps, config.lr_schedule) == (
        "sgd", 0.9, 0.9, 0.999, 1e-8, "constant")
    assert resolve(descent_pb2.JobSpec(optimizer="rmsprop")).beta2 == 0.99
    assert resolve(descent_pb2.JobSpec(optimizer="rmsprop", beta2=0.5)).beta2 == 0.5
    # every field round-trips through the status's spec
    spec = resolve(descent_pb2.JobSpec(optimizer="adam", lr_schedule="cosine")).to_proto()
    assert resolve(spec).optimizer == "adam" and resolve(spec).lr_schedule == "cosine"


def _store(optimizer, steps, w0):
    spec = RuleSpec(optimizer=optimizer, lr=0.01, schedule=parse_schedule("step:9,0.7"), total_steps=steps)
    return ParameterStore(w0, 0.01, steps, rule=make_rule(spec, w0.shape, w0.dtype)), spec


@pytest.mark.parametrize("optimizer", ["momentum", "adam", "rmsprop"])
def test_resumed_store_continues_the_same_trajectory(tmp_path, optimizer):
    grads = _gradients(3)
    w0 = np.random.default_rng(2).standard_normal(SHAPE)
    straight, spec = _store(optimizer, STEPS, w0)
    for g in grads:
        straight.push(g, 1.0, "a", "n")

    first, _ = _store(optimizer, STEPS, w0)
    for g in grads[:17]:
        first.push(g, 1.0, "a", "n")
    files = JobFiles(tmp_path)
    files.write_checkpoint("job-1", first.capture())
    state = files.read_checkpoint("job-1")
    assert sorted(state.optimizer) == sorted(make_rule(spec, SHAPE, np.float64).state())
    resumed = ParameterStore.resume(state, 0.01, STEPS, rule=make_rule(spec, SHAPE, np.float64))
    for g in grads[17:]:
        resumed.push(g, 1.0, "a", "n")
    np.testing.assert_array_equal(resumed.weights()[0], straight.weights()[0])
    # without the optimizer state the trajectory would differ: the state matters
    fresh = ParameterStore(state.weights, 0.01, STEPS, rule=make_rule(spec, SHAPE, np.float64))
    for g in grads[17:]:
        fresh.push(g, 1.0, "a", "n")
    assert np.abs(fresh.weights()[0] - straight.weights()[0]).max() > 1e-6


def test_resume_refuses_state_of_another_rule():
    store, _ = _store("adam", STEPS, np.zeros(SHAPE))
    store.push(np.ones(SHAPE), 1.0, "a", "n")
    momentum = make_rule(RuleSpec(optimizer="momentum", total_steps=STEPS), SHAPE, np.float64)
    with pytest.raises(ValueError, match="momentum needs"):
        ParameterStore.resume(store.capture(), 0.01, STEPS, rule=momentum)


def test_float32_store_keeps_float32_state():
    w0 = np.zeros(SHAPE, np.float32)
    store, _ = _store("adam", STEPS, w0)
    store.push(np.ones(SHAPE, np.float32), 1.0, "a", "n")
    state = store.capture()
    assert state.weights.dtype == np.float32 and all(a.dtype == np.float32 for a in state.optimizer.values())


def _updates_to_reach(optimizer, target=0.95, max_steps=3000, every=25, **hyper):
    """Mini-batch training on digits as the store applies it: updates until test accuracy >= target."""
    data = prepare("digits", seed=0, dtype="float64")
    rng = np.random.default_rng(0)
    w = 1e-3 * rng.standard_normal((data.num_classes, data.num_features))
    rule = make_rule(RuleSpec(optimizer=optimizer, lr=5e-3, total_steps=max_steps, **hyper), w.shape, w.dtype)
    for step in range(max_steps):
        X, y = sample_batch(data.X_train, data.y_train, 256, rng)
        rule.apply(w, svm_loss_grad(w, X, y, 1e-5)[1], step)
        if (step + 1) % every == 0 and accuracy(w, data.X_test, data.y_test) >= target:
            return step + 1
    return None


def test_momentum_and_adam_reach_095_on_digits_in_fewer_updates_than_sgd():
    sgd = _updates_to_reach("sgd")
    momentum = _updates_to_reach("momentum", momentum=0.9)
    adam = _updates_to_reach("adam")
    print(f"updates to 0.95 test accuracy on digits: sgd {sgd}, momentum 0.9 {momentum}, adam {adam}")
    assert sgd is not None and momentum is not None and adam is not None
    assert momentum < sgd and adam < sgd
