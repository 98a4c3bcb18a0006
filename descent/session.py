"""A session with a descent server: ``descent.connect()`` and what it offers.

``connect()`` with no server starts an embedded one (a local ``python -m server`` and Ray) that
lives as long as the session: ``with`` or ``close()`` stops it, and so does the interpreter's
exit (a notebook kernel's restart included; the server also exits when its parent process
dies). ``connect("host:50051")`` talks to a running server, with the token and TLS CA read as
the CLI reads them (``DESCENT_TOKEN_FILE``, ``DESCENT_TOKEN``, ``DESCENT_TLS_CA``) unless given.

Example::

    import descent
    with descent.connect() as session:
        job = session.train(dataset="digits", steps=2000, lr=5e-3)
        print(job.wait().test_accuracy)              # ≈ 0.97
        session.landscape(dataset="digits").plot()   # the notes' loss along a line and over a plane
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from client.commands.tune import DEFAULT_RANGE, DEFAULT_RANGES, STUDY_FILE, search_result
from client.commands.tune_runner import StudyRunner
from client.commands.tune_space import ETA, parse_dimension
from client.commands.tune_study import distributions, grid_size, import_optuna, open_study
from client.connection.config import build_connection
from client.connection.session import connect as open_session
from client.output.model_text import evaluation_json
from client.rpc.api import TrainerApi
from client.rpc.channel import default_state_dir
from client.rpc.model_calls import decoded
from client.rpc.requests import gradcheck_request, job_spec
from descent.errors import FailedPrecondition, translated
from descent.job import Job
from descent.notes import GradCheck, Landscape, Minibatch, Sweep
from descent.results import Evaluation, Prediction, TuneResult
from formats.scoring import summarize

log = logging.getLogger("descent")


def _job_id(job: Job | str | None) -> str | None:
    return job.id if isinstance(job, Job) else job


def _space(value: Any, default: str) -> str:
    """A search dimension as tune_plan's text: (low, high) → ``low:high``, a list → ``v1,v2``."""
    if value is None:
        return default
    if isinstance(value, tuple) and len(value) == 2:
        return f"{value[0]!r}:{value[1]!r}"
    if isinstance(value, (list, tuple)):
        return ",".join(repr(float(v)) for v in value)
    return str(value)


class Session:
    """A connection to one descent server (see ``descent.connect``). Use it in ``with`` or ``close()`` it."""

    def __init__(self, server: str | None, **options: Any) -> None:
        self._stack = contextlib.ExitStack()
        self._lock = threading.Lock()
        with translated():
            config = build_connection(server, options.get("state_dir"), options.get("connect_timeout", 5.0), os.environ,
                                      options.get("token_file"), options.get("tls_ca"))
            if options.get("token") is not None and config.server is not None:
                config = dataclasses.replace(config, token=options["token"])
            self._api: TrainerApi | None = self._stack.enter_context(open_session(config, log.warning))
        self.embedded = config.embedded
        self._state_dir = (config.state_dir or default_state_dir(os.environ)) if config.embedded else None
        self.address = self._api.address
        atexit.register(self.close)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        kind = "embedded" if self.embedded else "remote"
        return f"<descent.Session {kind} {self.address}{'' if self._api else ' (closed)'}>"

    def close(self) -> None:
        """Close the channel and stop the embedded server (its Ray with it); safe to call twice."""
        with self._lock:
            if self._api is None:
                return
            self._api = None
            atexit.unregister(self.close)
            self._stack.close()

    def _open_api(self) -> TrainerApi:
        if self._api is None:
            raise FailedPrecondition("this descent session is closed: descent.connect() opens a new one")
        return self._api

    # -- jobs ---------------------------------------------------------------------------------
    def train(self, dataset: str = "digits", **hyperparameters: Any) -> Job:
        """Submit a training job and return it at once (``job.wait()`` follows it).

        The hyperparameters are the JobSpec's (``proto.job_fields``: workers, batch_size, steps, lr,
        reg, seed, optimizer, ...); those left out take the server's defaults. A bad value raises
        ``descent.InvalidArgument`` with the server's message.

        >>> job = session.train(dataset="digits", lr=1e-2, optimizer="momentum")  # doctest: +SKIP
        """
        with translated():
            status = self._open_api().submit(job_spec(dataset, **hyperparameters))
        return Job(self, status.job_id)

    def jobs(self) -> list[Job]:
        """Every job the server knows, oldest first."""
        with translated():
            return [Job(self, s.job_id) for s in self._open_api().list()]

    def job(self, job_id: str) -> Job:
        """The job ``job_id``; ``descent.NotFound`` when the server has none."""
        with translated():
            self._open_api().get(job_id)
        return Job(self, job_id)

    # -- the notes' measurements --------------------------------------------------------------
    def gradcheck(self, dataset: str | None = None, *, job: Job | str | None = None, **options: Any) -> GradCheck:
        """Analytic vs numerical gradient (options: checks, h, formula, seed, reg, batch_size, init_scale, full, method)."""
        with translated():
            return GradCheck.of(self._open_api().gradcheck(gradcheck_request(dataset, job_id=_job_id(job), **options)))

    def sweep(self, dataset: str | None = None, *, job: Job | str | None = None, **options: Any) -> Sweep:
        """Loss after one step of each step size (options: seed, reg, init_scale, step_min, step_max, points, batch_size)."""
        with translated():
            return Sweep.of(self._open_api().sweep(dataset, job_id=_job_id(job), **options))

    def landscape(self, dataset: str | None = None, *, job: Job | str | None = None, **options: Any) -> Landscape:
        """The loss along a random line and over a random plane through W (options: seed, reg, examples, points, span)."""
        with translated():
            return Landscape.of(self._open_api().landscape(dataset, job_id=_job_id(job), **options))

    def minibatch(self, dataset: str | None = None, *, job: Job | str | None = None, **options: Any) -> Minibatch:
        """The mini-batch argument measured (options: seed, reg, init_scale, draws, batch_sizes)."""
        with translated():
            return Minibatch.of(self._open_api().minibatch(dataset, job_id=_job_id(job), **options))

    # -- a trained job as a model -------------------------------------------------------------
    def evaluate(self, job: Job | str, dataset: str | None = None, split: str | None = None) -> Evaluation:
        """A SUCCEEDED job's accuracy and confusion matrix on one of its splits or on another data set."""
        with translated():
            response = self._open_api().evaluate(_job_id(job), dataset or "", split or "")
            confusion = decoded(response.confusion, "confusion matrix")
        doc = evaluation_json({"model": response.job_id, "job_id": response.job_id, "dataset": response.dataset,
                               "split": response.split, "class_names": list(response.class_names),
                               "confusion": confusion, "accuracy": response.accuracy}, summarize(confusion))
        nan = float("nan")
        return Evaluation(job_id=response.job_id, dataset=response.dataset, split=response.split, accuracy=response.accuracy,
                          confusion=confusion, class_names=list(response.class_names),
                          precision=np.array([nan if p is None else p for p in doc["precision"]]),
                          recall=np.array([nan if r is None else r for r in doc["recall"]]), document=doc)

    def predict(self, job: Job | str, inputs: np.ndarray) -> Prediction:
        """Classify raw inputs (N, D) with a SUCCEEDED job's model, on the server."""
        with translated():
            response = self._open_api().predict(_job_id(job), np.asarray(inputs))
            return Prediction(labels=decoded(response.labels, "labels"), scores=decoded(response.scores, "scores"),
                              class_names=list(response.class_names))

    def tune(self, dataset: str = "digits", *, lr: Any = None, reg: Any = None, sampler: str = "tpe",
             pruner: str = "halving", trials: int = 8, budget: int = 2000, eta: int = ETA, parallel: int = 2,
             seed: int = 0, storage: str | Path | None = None, study: str | None = None, **fixed: Any) -> TuneResult:
        """An Optuna study over lr x reg, its trials ordinary jobs ranked by validation accuracy (as ``descent tune``).

        ``lr`` / ``reg``: ``(low, high)`` (log-uniform) or a list of values; ``sampler``: tpe, random,
        grid or cmaes; ``pruner``: halving, asha, hyperband or none (a promoted trial continues its
        job with ``init_from``); ``fixed``: the hyperparameters every trial shares (workers defaults
        to 1). The study lives in ``storage`` (an SQLite file; default: the embedded server's
        STATE_DIR/tune.db, a temporary file for a remote server). Interrupting cancels the trials.
        """
        with translated():
            optuna = import_optuna()
            defaults = DEFAULT_RANGES.get(sampler, DEFAULT_RANGE)
            space = {"lr": _space(lr, defaults["lr"]), "reg": _space(reg, defaults["reg"])}
            dimensions = [parse_dimension(name, text) for name, text in space.items()]
            shared = {"workers": 1, **fixed, "dataset": dataset, "seed": seed}
            job_spec(**shared)  # an unknown name fails here, before any trial starts
            if sampler == "grid":
                trials = min(trials, grid_size(dimensions))
            settings = dict(sampler=sampler, pruner=pruner, trials=trials, budget=budget, eta=eta, space=space,
                            seed=seed, fixed=shared)
            path = str(storage) if storage is not None else self._study_file()
            name = study or f"tune-{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(3).hex()}"
            started = time.monotonic()
            found, settings, dimensions, plan = open_study(optuna, path, name, settings)
            runner = StudyRunner(self._open_api(), optuna, found, settings["fixed"], distributions(optuna, dimensions),
                                 plan, settings["trials"], parallel, lambda *_: None, log.info,
                                 defer=settings["pruner"] == "halving")
            try:
                runner.run()
            except BaseException:
                runner.cancel_running()
                raise
        doc = search_result(runner, plan, list(space), settings, name, path, time.monotonic() - started)
        return TuneResult(trials=doc["trials"], best=doc["best"], jobs=doc["jobs"], seconds=doc["seconds"], document=doc)

    def _study_file(self) -> str:
        """Where a study lives when the caller names no file: beside the embedded server's jobs, else a temp file."""
        if self._state_dir is not None:
            Path(self._state_dir).mkdir(parents=True, exist_ok=True)
            return str(Path(self._state_dir) / STUDY_FILE)
        folder = self._stack.enter_context(tempfile.TemporaryDirectory(prefix="descent-tune-"))
        return str(Path(folder) / STUDY_FILE)


def connect(server: str | None = None, *, token: str | None = None, token_file: str | Path | None = None,
            tls_ca: str | Path | None = None, state_dir: str | Path | None = None, connect_timeout: float = 5.0) -> Session:
    """Open a session: with ``server`` (``HOST:PORT``) a running server's, else an embedded one's.

    ``token`` / ``token_file`` / ``tls_ca`` default to what the CLI reads (``DESCENT_TOKEN_FILE``,
    ``DESCENT_TOKEN``, ``DESCENT_TLS_CA``); ``state_dir`` is the embedded server's state directory.
    Raises ``descent.Unavailable`` when no server answers (or the local one will not start).

    >>> with descent.connect() as session:  # doctest: +SKIP
    ...     session.train(dataset="digits").wait().test_accuracy
    0.97...
    """
    return Session(server, token=token, token_file=str(token_file) if token_file else None,
                   tls_ca=str(tls_ca) if tls_ca else None, state_dir=str(state_dir) if state_dir else None,
                   connect_timeout=connect_timeout)
