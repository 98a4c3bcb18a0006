"""A job's hyperparameters, defined once: every ``JobSpec`` field with its default, bounds, choices
and help text.

Both ends read this table. The client derives its ``train`` and ``tune`` options from it
(client.commands.options); the server derives its ``JobConfig``, its defaults and its range and
choice checks from it (server.jobs.spec), and keeps there only the rules that tie fields together
(steps a multiple of push_every, a search takes no gradient settings, ...). Adding a
hyperparameter is the proto field plus one entry here; tests/unit/test_job_fields.py fails when
the proto has a JobSpec field this table lacks, or the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

Value = Union[bool, int, float, str]

#: Upper bounds that keep one request from exhausting the server.
MAX_WORKERS = 128
MAX_BATCH = 1 << 20
MAX_STEPS = 10**9
MAX_PUSH_EVERY = 10_000
MAX_SEED = 2**63 - 1
#: What one analysis may ask for (ANALYSIS_FIELDS below).
MAX_LANDSCAPE_POINTS = 401
MAX_SPAN = 1e6
MAX_DRAWS = 10_000
MAX_BATCH_SIZES = 64
MAX_CHECKS = 1 << 21
MAX_EXAMPLES = 2**63 - 1
MAX_STEP_SIZE = 1e6


@dataclass(frozen=True)
class JobField:
    """One hyperparameter: its name in the JobSpec, its default, what values it takes, and its help."""

    name: str
    default: Value
    help: str
    #: Numbers: the closed range [low, high] (open at an end where ``low_open``/``high_open``).
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    #: Strings: the only values allowed (empty: any, checked by the server's own parser).
    choices: tuple[str, ...] = ()
    #: Strings: the longest value accepted.
    max_chars: int = 128
    metavar: str | None = None
    #: Only a job that follows the gradient uses it (a random search must leave it unset).
    gradient_only: bool = False
    #: Given on the command line through another field's option (``--workers MIN:MAX``), not one of its own;
    #: unset (0) unless given.
    via: str = ""

    @property
    def kind(self) -> type:
        """bool, int, float or str: the Python type of the field's values."""
        return type(self.default)

    @property
    def flag(self) -> str:
        """The command-line option: ``--batch-size`` for ``batch_size``."""
        return "--" + self.name.replace("_", "-")


JOB_FIELDS: tuple[JobField, ...] = (
    JobField("dataset", "digits", "digits | mnist:DIR | cifar10:DIR | npz:FILE | synthetic:N,D,C (DIR/FILE on the server)",
             max_chars=4096, metavar="SPEC"),
    JobField("workers", 2, "Ray workers (one CPU each); MIN:MAX: an elastic job that starts with MIN and grows "
             "while CPUs are free, up to MAX (its target, changed by `descent scale`).", low=1, high=MAX_WORKERS,
             metavar="N|MIN:MAX"),
    JobField("batch_size", 256, "Examples per mini-batch.", low=1, high=MAX_BATCH),
    JobField("steps", 2000, "Updates to apply, summed over all workers (a search: loss evaluations).",
             low=1, high=MAX_STEPS),
    JobField("lr", 5e-3, "Step size (learning rate).", low=0, high=1e6, low_open=True),
    JobField("reg", 1e-5, "L2 regularization strength.", low=0, high=1e6),
    JobField("seed", 0, "Seed for the data split, W and batch sampling.", low=0, high=MAX_SEED),
    JobField("dtype", "float32", "Training dtype.", choices=("float32", "float64")),
    JobField("init_scale", 1e-3, "Initial W = init_scale * randn.", low=0, high=1e6),
    JobField("gradient", "analytic",
             "numerical: each step computes the full numerical gradient over the cluster (slow, for the record).",
             choices=("analytic", "numerical"), gradient_only=True),
    JobField("check_gradient", False,
             "Check the gradient on the first batch first; refuse to train if it fails.", gradient_only=True),
    JobField("numerical_method", "incremental", "How --gradient numerical evaluates f(W ± h e).",
             choices=("incremental", "brute")),
    JobField("consistency", "async",
             "async (each gradient applied as it arrives), sync (each step averages one gradient per worker) "
             "or ssp:S (no worker more than S pushes ahead of the slowest).", metavar="MODE", gradient_only=True),
    JobField("push_every", 1, "Local steps per push, counted as K updates.", low=1, high=MAX_PUSH_EVERY,
             metavar="K", gradient_only=True),
    JobField("overlap", True, "Compute the next gradient while a push is in flight (off for sync)."),
    JobField("optimizer", "sgd", "Update rule at the parameter server.",
             choices=("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"), gradient_only=True),
    JobField("momentum", 0.9, "mu of momentum and nesterov.", low=0, high=1, high_open=True),
    JobField("beta1", 0.9, "Adam's first-moment decay.", low=0, high=1, high_open=True),
    JobField("beta2", 0.999, "Adam's second-moment decay / RMSprop's cache decay (rmsprop's default: 0.99).",
             low=0, high=1, high_open=True),
    JobField("eps", 1e-8, "adagrad, rmsprop, adam: added to the root of the cache.", low=0, high=1, low_open=True),
    JobField("lr_schedule", "constant", "constant | step:EVERY,FACTOR | cosine[:STEPS] | exp:RATE (lr * e^(-RATE * step)).",
             max_chars=64, metavar="SCHEDULE", gradient_only=True),
    JobField("strategy", "gradient",
             "The notes' strategy #3 (follow the gradient), #1 (keep the best random W) or #2 (step W + lr * randn, "
             "keep it if the loss drops).", choices=("gradient", "random-search", "random-local-search")),
    JobField("lr_warmup", 0, "Linear warm-up: lr * (step + 1) / STEPS over the first STEPS updates, then the schedule.",
             low=0, high=MAX_STEPS, metavar="STEPS", gradient_only=True),
    JobField("compress", "none",
             "Gradient compression on the push path: none, fp16, int8 (per-row scales) or topk:F (the fraction F "
             "of largest entries, with error feedback on the worker).", max_chars=64, metavar="KIND",
             gradient_only=True),
    JobField("min_workers", 0, "Elastic jobs: the fewest workers it trains with (--workers MIN:MAX).",
             low=1, high=MAX_WORKERS, via="workers"),
    JobField("max_workers", 0, "Elastic jobs: the most workers it grows to (--workers MIN:MAX).",
             low=1, high=MAX_WORKERS, via="workers"),
    JobField("max_worker_failures", 10, "Worker deaths after which the job ends FAILED, naming the workers and nodes.",
             low=1, high=1_000_000, metavar="N", gradient_only=True),
    JobField("init_from", "",
             "Continue this finished or cancelled job: its final W and, with the same optimizer, its update rule's "
             "state and step count; unset fields are taken from its spec.", max_chars=64, metavar="JOB"),
)

BY_NAME: dict[str, JobField] = {field.name: field for field in JOB_FIELDS}
#: The update rule's hyperparameters (``train`` and ``tune`` share them).
RULE_FIELDS = ("optimizer", "momentum", "beta1", "beta2", "eps", "lr_schedule", "lr_warmup")

#: The bounds of an analysis request's own fields. Where an analysis shares a field with a job (seed, reg,
#: init_scale, batch_size) it takes the JobSpec's entry above (BY_NAME): one table of bounds for every RPC,
#: read by server.analyses.base.check_analysis_field.
ANALYSIS_FIELDS: tuple[JobField, ...] = (
    JobField("points", 41, "Points per axis of a landscape's grid.", low=2, high=MAX_LANDSCAPE_POINTS),
    JobField("span", 1.0, "A landscape's grid runs from -span to span.", low=0, high=MAX_SPAN, low_open=True),
    JobField("examples", 1, "Examples of the training split a landscape evaluates.", low=1, high=MAX_EXAMPLES),
    JobField("draws", 100, "Batches drawn per batch size (minibatch).", low=1, high=MAX_DRAWS),
    JobField("batch_sizes", 256, "A batch size the minibatch measurement tries.", low=1, high=MAX_BATCH),
    JobField("checks", 20, "Coordinates a sparse gradient check looks at.", low=1, high=MAX_CHECKS),
    JobField("h", 1e-5, "A gradient check's finite-difference step.", low=0, high=MAX_STEP_SIZE, low_open=True),
    JobField("step_min", 1e-10, "A sweep's smallest step size.", low=0, high=MAX_STEP_SIZE, low_open=True),
    JobField("step_max", 1e3, "A sweep's largest step size.", low=0, high=MAX_STEP_SIZE, low_open=True),
)

ANALYSIS_BY_NAME: dict[str, JobField] = {field.name: field for field in ANALYSIS_FIELDS}
