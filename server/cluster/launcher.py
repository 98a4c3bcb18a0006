"""The Ray launcher: with server.cluster.local_ray (the lean local start), the only module of descent that imports ``ray``.

It connects to a Ray cluster (or starts a local one), reserves a job's CPUs as a placement group
(one one-CPU bundle per worker, spread over the nodes), starts the workers' training loops in its
bundles, runs analyses as Ray tasks (one, or many streamed back as they finish: ``imap_tasks``),
cancels tasks, and reports what the cluster looks like.

Starting a local cluster (server.cluster.local_ray.start_local) must happen before the process
creates any gRPC server or channel: Ray forks its daemons with a Python ``preexec_fn`` (a real
``fork()``), and with grpcio's poller threads alive the child sometimes dies before ``exec``
(measured: 3 of 25 ``ray.init`` calls beside a bound grpcio server left no raylet; 0 of 25
without). Hence one attempt and no retry here: the server (server.app) starts Ray first.

A local cluster also gets a reaper (server.cluster.reaper) holding a pipe from this process: when
the server exits, however it exits, every process of its cluster is gone within seconds.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import ray
from ray.util.placement_group import placement_group, remove_placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from server.cluster.local_ray import LeanStartUnavailable, LocalCluster, start_local
from server.cluster.node_watch import NODE_HEALTH
from server.cluster.reaper import end_local, kill_monitor, start_reaper
from server.errors import Cancelled, ResourcesExhausted
from worker.data.rows import Rows
from worker.task.loop import LoopConfig, TrainLoop
from worker.task.malloc import release_freed_memory


def _train(config: LoopConfig, y: Any, *blocks: Any) -> dict:
    """One worker's training loop on its Ray node, over the split's ``blocks`` (zero-copy views); frees memory at the end."""
    node_id = ray.get_runtime_context().get_node_id()
    X = blocks[0] if len(blocks) == 1 else Rows(blocks)
    try:
        return TrainLoop(dataclasses.replace(config, node_id=node_id)).run(X, y)
    finally:
        release_freed_memory()  # the process stays in Ray's pool for the next task


# A worker is a Ray task, not an actor: a task gets a warm pooled process (~5 ms), an actor a fresh one
# (~0.8 s here) for every job after the first. Its process title while it trains: ``ray::_RayTrainLoop``.
_TrainTask = ray.remote(num_cpus=1, max_retries=0, retry_exceptions=False)(_train)
_TRAIN_TASK_NAME = "_RayTrainLoop"


#: Seconds ``reserve``, stopped, lets a placement under way finish before it removes the group.
SETTLE_S = 5.0
#: Seconds ``kill`` waits for killed workers to end before their group may be removed.
KILL_WAIT_S = 10.0


class RayLauncher:
    """A connection to one Ray cluster."""

    def __init__(self, address: str | None = None, num_cpus: int | None = None):
        self._remote_tasks: dict[Callable[..., Any], Any] = {}
        self._held: dict[Any, int] = {}  # this server's placed groups (their ids) and their CPUs
        self._held_lock = threading.Lock()
        if address:
            ray.init(address=address, logging_level=logging.WARNING)
            self.address, self._session_dir = address, None
        else:
            try:
                local = start_local(num_cpus)
            except LeanStartUnavailable as exc:
                logging.getLogger(__name__).warning("starting Ray the plain way: %s", exc)
                kwargs: dict[str, Any] = dict(include_dashboard=False, logging_level=logging.WARNING,
                                              _system_config=dict(NODE_HEALTH))
                if num_cpus:
                    kwargs["num_cpus"] = num_cpus
                info = ray.init(**kwargs).address_info
                local = LocalCluster(info.get("address", ""), info["session_dir"])
            self.address, self._session_dir = local.address, local.session_dir
        self._reaper = None if address else start_reaper(self._session_dir, os.path.dirname(ray.__file__))

    def shutdown(self) -> None:
        """Disconnect; for a local cluster, also make sure none of its processes outlives this call by long."""
        if self._session_dir is not None:
            # ray.shutdown stops Ray's processes one at a time, SIGTERM and up to 1 s each; the
            # autoscaler monitor (descent has no autoscaler) always used its full second.
            kill_monitor(self._session_dir)
        if self._reaper is None:
            ray.shutdown()
        else:
            end_local(ray.shutdown, self._reaper)

    def node_id(self) -> str:
        """The Ray node this process (the driver, the server) runs on."""
        return ray.get_runtime_context().get_node_id()

    def node_ip(self) -> str:
        """This node's address as the other nodes of the cluster reach it."""
        return ray.util.get_node_ip_address()

    def total_cpus(self, nodes: list[dict] | None = None) -> float:
        """CPUs of the live nodes (a node Ray knows to be dead does not count); ``nodes`` as ``ray.nodes()`` gives them."""
        nodes = ray.nodes() if nodes is None else nodes
        return float(sum(n.get("Resources", {}).get("CPU", 0.0) for n in nodes if n.get("Alive")))

    def free_cpus(self, nodes: list[dict] | None = None) -> float:
        """CPUs not held by any actor, task or placement group right now.

        Ray's figure comes from the GCS, which hears of a group placed on a node only at that
        node's next resource report (100 ms apart, longer on a loaded machine): a job
        submitted just after another started could see its CPUs as free, try to place a
        group that cannot be placed, and wait the placement timeout out. So the CPUs of the
        groups this server holds are taken off the live total too, and the smaller figure wins.
        """
        with self._held_lock:
            held = sum(self._held.values())
        ray_free = float(ray.available_resources().get("CPU", 0.0))
        return max(0.0, min(ray_free, self.total_cpus(nodes) - held))

    def check_capacity(self, workers: int) -> None:
        """Raise ResourcesExhausted if the live cluster has fewer CPUs than ``workers``."""
        total = self.total_cpus()
        if workers > total:
            raise ResourcesExhausted(
                f"job asks for {workers} workers but the Ray cluster has {total:g} CPUs "
                "(one worker takes one CPU); add worker nodes or ask for fewer workers"
            )

    def reserve(self, cpus: int, timeout: float, should_stop: Callable[[], bool], poll: float = 0.25) -> Any | None:
        """Gang-reserve ``cpus`` one-CPU bundles spread over the nodes (a placement group).

        Returns the group once every bundle is placed, or None (the group removed) if
        that did not happen within ``timeout`` seconds or ``should_stop()`` turned true.
        """
        group = placement_group([{"CPU": 1}] * cpus, strategy="SPREAD")
        ready = group.ready()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not should_stop():
            done, _ = ray.wait([ready], timeout=poll)
            if done:
                with self._held_lock:
                    self._held[group.id] = cpus
                return group
        # Stopped while Ray may be placing it: a group removed while its bundles were being prepared on
        # the node leaked their CPUs in Ray for good (seen: 2 of 6 CPUs taken, no group left, after a
        # storm of cancels). Let a placement under way finish first, then remove the placed group.
        ray.wait([ready], timeout=SETTLE_S)
        remove_placement_group(group)
        return None

    def release(self, group: Any) -> None:
        """Remove a placement group (its CPUs are free again)."""
        with self._held_lock:
            self._held.pop(group.id, None)
        try:
            remove_placement_group(group)
        except Exception as exc:  # Ray shutting down, or the group is gone already
            logging.getLogger(__name__).warning("removing a placement group failed: %s", exc)

    def group_node(self, group: Any, bundle: int = 0) -> str:
        """The id of the node bundle ``bundle`` of a placed group is on ('' if Ray does not say)."""
        try:
            return str(ray.util.placement_group_table(group).get("bundles_to_node_id", {}).get(bundle, ""))
        except Exception:  # the group is gone, or Ray shutting down
            return ""

    def start_worker(self, config: LoopConfig, group: Any, bundle: int, X_refs: Sequence[Any], y_ref: Any) -> Any:
        """One worker's training loop in bundle ``bundle`` of ``group``; returns the future of its result."""
        strategy = PlacementGroupSchedulingStrategy(group, placement_group_bundle_index=bundle)
        return _TrainTask.options(scheduling_strategy=strategy, name=_TRAIN_TASK_NAME).remote(config, y_ref, *X_refs)

    def wait_any(self, futures: Sequence[Any], timeout: float) -> list[Any]:
        """The futures among ``futures`` that finished within ``timeout`` seconds."""
        if not futures:
            return []
        done, _ = ray.wait(list(futures), num_returns=1, timeout=timeout)
        if done:  # collect every other one that is also finished, without waiting
            more, _ = ray.wait(list(futures), num_returns=len(futures), timeout=0)
            return list({*done, *more})
        return []

    def outcome(self, future: Any) -> tuple[dict | None, str | None]:
        """A finished worker's result, or the one-line error that ended it."""
        try:
            return ray.get(future), None
        except Exception as exc:  # WorkerCrashedError (its process or node died) or RayTaskError (it raised)
            return None, _short_error(exc)

    def put(self, value: Any) -> Any:
        """Place ``value`` in the object store once; workers read it without copies per step."""
        return ray.put(value)

    def get(self, ref: Any) -> Any:
        """The value behind ``ref`` (a numpy array comes back as a read-only view of the shared copy)."""
        return ray.get(ref)

    def cancel(self, refs: Sequence[Any]) -> None:
        """Stop tasks now, queued or running, killing a running one's process (``force``: numpy ignores a plain cancel)."""
        finished, _ = ray.wait(list(refs), num_returns=len(refs), timeout=0) if refs else ([], [])
        done = set(finished)  # a force-cancel racing a task's own reply can crash the driver (Ray's task manager)
        for ref in refs:
            if ref in done:
                continue
            try:
                ray.cancel(ref, force=True)
            except Exception as exc:  # Ray shutting down, or the task is finished already
                logging.getLogger(__name__).warning("cancelling a task failed: %s", exc)

    def kill(self, workers: Sequence[Any], wait: float = KILL_WAIT_S) -> None:
        """Stop workers (their futures) and wait up to ``wait`` s for them to end, so their group is released only after."""
        self.cancel(workers)
        if workers:
            _, left = ray.wait(list(workers), num_returns=len(workers), timeout=wait)
            if left:
                logging.getLogger(__name__).warning("%d killed worker(s) not ended after %g s", len(left), wait)

    def run_task(
        self, fn: Callable[..., Any], *args: Any, should_stop: Callable[[], bool] | None = None, **kwargs: Any
    ) -> Any:
        """Run ``fn(*args, **kwargs)`` as a Ray task on one CPU and return its result.

        If ``should_stop()`` turns true first (checked before it starts and every half second) the task is
        cancelled (``cancel``) and Cancelled raised.
        """
        if should_stop is not None and should_stop():
            raise Cancelled("stopped before the task started")
        ref = ray.remote(num_cpus=1, max_retries=0)(fn).remote(*args, **kwargs)
        finished = False
        try:
            while True:
                done, _ = ray.wait([ref], timeout=0.5)
                if done:
                    finished = True
                    return ray.get(ref)
                if should_stop is not None and should_stop():
                    raise Cancelled("stopped before the task finished")
        finally:
            if not finished:  # stopped, or this thread interrupted: the task must not run on
                self.cancel([ref])

    def imap_tasks(
        self,
        fn: Callable[..., Any],
        shared: Sequence[Any],
        items: Sequence[Any],
        *,
        should_stop: Callable[[], bool] | None = None,
        poll: float = 0.5,
        **kwargs: Any,
    ) -> Iterator[tuple[int, Any]]:
        """Run ``fn(*shared, item, **kwargs)`` for every item as parallel one-CPU Ray tasks; yield ``(index, result)``
        as they finish. ``shared`` goes to the object store once. If ``should_stop()`` turns true (checked every
        ``poll`` s) Cancelled is raised; unfinished tasks are then cancelled at once, as when the consumer stops early.
        """
        if should_stop is not None and should_stop():
            raise Cancelled(f"stopped before any of {len(items)} tasks started")
        remote = self._remote_tasks.get(fn)
        if remote is None:
            remote = self._remote_tasks[fn] = ray.remote(num_cpus=1, max_retries=0)(fn)
        refs = [value if isinstance(value, ray.ObjectRef) else ray.put(value) for value in shared]
        index = {remote.remote(*refs, item, **kwargs): i for i, item in enumerate(items)}
        pending = list(index)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1, timeout=poll)
                for ref in done:
                    yield index[ref], ray.get(ref)
                if pending and should_stop is not None and should_stop():
                    raise Cancelled(f"stopped with {len(pending)} of {len(index)} tasks unfinished")
        finally:
            self.cancel(pending)

    def cluster(self) -> dict:
        """Nodes, CPU totals and the address of this cluster."""
        nodes, ray_nodes = [], ray.nodes()
        for node in ray_nodes:
            resources = node.get("Resources", {})
            nodes.append({
                "node_id": node["NodeID"], "address": node.get("NodeManagerAddress", ""), "alive": bool(node.get("Alive")),
                "cpus": float(resources.get("CPU", 0.0)), "is_head": "node:__internal_head__" in resources,
            })
        return {
            "nodes": nodes,
            "total_cpus": self.total_cpus(ray_nodes),
            "available_cpus": self.free_cpus(ray_nodes),
            "ray_address": self.address,
        }


def _short_error(exc: BaseException) -> str:
    """The last line of a Ray error (Ray wraps the worker's traceback around it)."""
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__
