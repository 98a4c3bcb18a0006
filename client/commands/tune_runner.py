"""The trials of a ``descent tune`` study run as ordinary jobs, asynchronously (Optuna's ask and tell).

A trial is a chain of jobs, one per rung (client.commands.tune_space.rungs): its first job
trains for the first rung's updates; when it ends, its validation accuracy is reported at
that step and the pruner decides (no rung waits for its slowest trial, ASHA's rule: Optuna's
own pruners decide at once, ``halving`` when a slot is free for the trial, so that its rung
has filled meanwhile);
a promoted trial goes on with a job continued from its last one (``init_from``: its W, update
rule state and batch streams) up to the next rung, never training again from the start. While
a job runs, the newest point of its validation curve is reported at each poll too, and a
trial the pruner stops there has its job cancelled. At most ``parallel`` jobs run at once; a free slot starts a new
trial before it continues a promoted one, so the first rungs fill before the later ones.

Every trial keeps its jobs and updates in its user attributes, so a study interrupted
(Ctrl-C cancels the running jobs) is continued by ``--resume``: a trial that was running goes
on from its last job where that job stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from client.errors import CommandError
from client.output.progress import is_terminal
from client.rpc.api import TrainerApi
from client.rpc.requests import job_spec
from proto.names import state_name

#: Seconds between polls of the running trials.
POLL_SECONDS = 0.3


@dataclass
class Trial:
    """One trial in flight: Optuna's trial, its chain of jobs and where it stands."""

    trial: Any
    params: dict[str, float]
    done: int = 0  # updates its chain applied
    target: int = 0  # updates its running job ends at
    reported: int = 0  # the last step reported
    judged: bool = True  # whether the pruner has let it go on from its rung (a deferring pruner judges later)
    jobs: list[str] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)


class StudyRunner:
    """Asks, runs, reports and tells the trials of one study until ``n_trials`` of them have ended."""

    def __init__(self, api: TrainerApi, optuna, study, fixed: dict[str, Any], distributions: dict[str, Any],
                 rungs: list[int], n_trials: int, parallel: int, on_change: Callable[[list[dict], dict | None], None],
                 on_note: Callable[[str], None], defer: bool = False):
        """``defer``: ask the pruner about a trial at its rung only when a slot is free for it (HalvingPruner)."""
        self._api, self._optuna, self._study = api, optuna, study
        self._fixed, self._distributions, self._rungs = fixed, distributions, rungs
        self._n_trials, self._parallel, self._on_change, self._on_note = n_trials, parallel, on_change, on_note
        self._defer = defer
        self._running: dict[str, Trial] = {}
        self._promoted: list[Trial] = []
        self.records: dict[int, dict[str, Any]] = {}
        self.jobs, self.updates = 0, 0

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> None:
        self._adopt_interrupted()
        while True:
            self._fill()
            if not self._running:
                return
            time.sleep(POLL_SECONDS)
            for job_id, trial in list(self._running.items()):
                self._poll(job_id, trial)

    def cancel_running(self) -> int:
        """Cancel the trials' jobs that are still running; return how many (their trials stay RUNNING)."""
        cancelled = 0
        for job_id in list(self._running):
            try:
                self._api.cancel(job_id, timeout=10)
                cancelled += 1
            except CommandError as error:
                self._on_note(f"error: {error.code}: could not cancel trial job {job_id}: {error.details}")
        return cancelled

    def _fill(self) -> None:
        """Start jobs while slots are free: new trials first, then promoted ones."""
        while len(self._running) < self._parallel:
            if len(self._study.get_trials(deepcopy=False)) < self._n_trials:
                ask = self._study.ask(self._distributions)
                self._start(Trial(ask, dict(ask.params)))
            elif self._promoted:
                trial = self._promoted.pop(0)
                if trial.judged or not trial.trial.should_prune():
                    self._start(trial)
                else:
                    self._tell(trial, "PRUNED")
            else:
                return

    def _start(self, trial: Trial) -> None:
        trial.target = next(r for r in self._rungs if r > trial.done)
        steps = trial.target - trial.done
        if trial.jobs:
            spec = job_spec(init_from=trial.jobs[-1], steps=steps)
        else:
            spec = job_spec(**self._fixed, **trial.params, steps=steps)
        status = self._api.submit(spec)
        trial.jobs.append(status.job_id)
        self._running[status.job_id] = trial
        self.jobs += 1
        trial.trial.set_user_attr("jobs", trial.jobs)
        self._record(trial, state_name(status.state))

    def _poll(self, job_id: str, trial: Trial) -> None:
        status = self._api.get(job_id)
        inside = [p for p in status.curve if trial.reported < status.parent_steps + p.step < trial.target]
        if inside:  # the newest curve point inside this rung (one report per poll): the pruner may stop it there
            step = status.parent_steps + inside[-1].step
            trial.trial.report(inside[-1].val_accuracy, step)
            trial.reported = step
            if trial.trial.should_prune():
                self._api.cancel(job_id, timeout=10)
                self._end_job(job_id, trial, self._api.get(job_id))
                self._tell(trial, "PRUNED")
                return
        if not is_terminal(status):
            if state_name(status.state) != trial.record.get("state"):
                self._record(trial, state_name(status.state))
            return
        self._end_job(job_id, trial, status)
        if state_name(status.state) != "SUCCEEDED":
            self._tell(trial, "FAIL", state_name(status.state))
            return
        trial.trial.report(status.val_accuracy, trial.done)
        trial.reported = trial.done
        if trial.done >= self._rungs[-1]:
            self._tell(trial, "COMPLETE", value=status.val_accuracy)
        elif not self._defer and trial.trial.should_prune():
            self._tell(trial, "PRUNED")
        else:
            trial.judged = not self._defer
            self._promoted.append(trial)
            self._record(trial, "PROMOTED" if trial.judged else "WAITING")

    def _end_job(self, job_id: str, trial: Trial, status) -> None:
        del self._running[job_id]
        self.updates += status.steps
        trial.done = status.parent_steps + status.steps
        trial.trial.set_user_attr("updates", trial.done)
        trial.record.update({f"{s}_accuracy": getattr(status, f"{s}_accuracy") if status.HasField(f"{s}_accuracy")
                             else None for s in ("train", "val", "test")})

    def _tell(self, trial: Trial, state: str, shown: str | None = None, value: float | None = None) -> None:
        """End the trial in the study (its record kept there for a resumed study's table)."""
        self._record(trial, shown or state, finished=True)
        trial.trial.set_user_attr("record", trial.record)
        self._study.tell(trial.trial, value, state=getattr(self._optuna.trial.TrialState, state))

    # -- the table's records --------------------------------------------------------------

    def _record(self, trial: Trial, state: str, finished: bool = False) -> None:
        rung = max((i for i, r in enumerate(self._rungs) if r <= trial.done), default=0)
        trial.record.update(trial=trial.trial.number, params=trial.params, rung=rung, updates=trial.done, state=state,
                            job_id=trial.jobs[-1] if trial.jobs else None, jobs=list(trial.jobs))
        trial.record.setdefault("val_accuracy", None)
        trial.record.setdefault("train_accuracy", None)
        trial.record.setdefault("test_accuracy", None)
        self.records[trial.trial.number] = trial.record
        self._on_change(list(self.records.values()), trial.record if finished else None)

    # -- a study continued ----------------------------------------------------------------

    def _adopt_interrupted(self) -> None:
        """Take up the trials of a resumed study: finished ones into the table, running ones going on."""
        states = self._optuna.trial.TrialState
        for frozen in self._study.get_trials(deepcopy=False):
            jobs = list(frozen.user_attrs.get("jobs", []))
            trial = Trial(self._optuna.trial.Trial(self._study, frozen._trial_id), dict(frozen.params), jobs=jobs,
                          done=int(frozen.user_attrs.get("updates", 0)), reported=frozen.last_step or 0)
            if frozen.state != states.RUNNING:
                trial.record.update(frozen.user_attrs.get("record") or {})
                self._record(trial, trial.record.get("state") or frozen.state.name)
                continue
            while trial.jobs:  # it goes on from the last of its jobs that trained
                status = self._api.get(trial.jobs[-1])
                if not is_terminal(status):
                    self._api.cancel(trial.jobs[-1], timeout=10)
                    status = self._api.get(trial.jobs[-1])
                if state_name(status.state) in ("SUCCEEDED", "CANCELLED") and status.steps > 0:
                    trial.done = status.parent_steps + status.steps
                    break
                trial.jobs.pop()
            trial.done = trial.done if trial.jobs else 0
            if trial.done >= self._rungs[-1]:  # its last job ended before the study was told
                trial.record["val_accuracy"] = status.val_accuracy
                self._tell(trial, "COMPLETE", value=status.val_accuracy)
                continue
            trial.judged = not self._defer or trial.done not in self._rungs
            self._promoted.insert(0, trial)
            self._record(trial, "RESUMED")
