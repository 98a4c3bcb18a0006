"""Starting a local Ray cluster with only the processes descent uses.

``ray.init()`` on a machine without a cluster starts a head node with everything a Ray user
might want: the GCS, the raylet (object store included) with its dashboard and runtime-env
agents, and three Python processes descent never uses — the autoscaler monitor (there is no
autoscaler on one machine), the log monitor (it forwards workers' stdout to the driver; descent's
workers report through gRPC and their results) and the API server (the HTTP head behind the
dashboard, job submission and the state API). Each imports Ray, about a CPU second together
on a 2-core machine while the GCS and raylet start (measured in one run under load: the cluster's
processes had used 4.2 CPU seconds when ``ray.init`` returned, 3.1 without those three).

``start_local`` starts the node the way ``ray.init`` does — the same ``Node`` class, the same
token authentication set-up — with those three left out, then connects to it as a driver
(``ray.init(address=...)``, the documented way to join a running cluster). It uses Ray's
internal ``ray._private`` API; ``LeanStartUnavailable`` says that this Ray version does not
have it in the shape expected, and the caller falls back to a plain ``ray.init``. The node's
processes are not stopped by ``ray.shutdown`` (this process only joined the cluster): the
server's reaper (server.cluster.reaper) ends them all when the server exits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import ray

from server.cluster.node_watch import NODE_HEALTH


class LeanStartUnavailable(RuntimeError):
    """This Ray version's internals differ from what ``start_local`` expects (nothing was started)."""


@dataclass(frozen=True)
class LocalCluster:
    """A started local cluster: the GCS address drivers join and the session directory of its processes."""

    address: str
    session_dir: str


def _internals() -> tuple[Any, Any, Any, Any]:
    """Ray's Node and RayParams classes and its two token set-up steps, or LeanStartUnavailable."""
    try:
        from ray._private.authentication.authentication_token_setup import (
            enable_token_auth_by_default,
            ensure_token_if_auth_enabled,
        )
        from ray._private.node import Node
        from ray._private.parameter import RayParams
    except ImportError as exc:
        raise LeanStartUnavailable(f"this Ray ({ray.__version__}) lacks {exc.name}") from None
    return Node, RayParams, enable_token_auth_by_default, ensure_token_if_auth_enabled


def start_local(num_cpus: int | None) -> LocalCluster:
    """Start a head node without monitor, log monitor or API server; connect this process to it."""
    Node, RayParams, enable_token_auth, ensure_token = _internals()
    try:
        params = RayParams(
            num_cpus=num_cpus, include_dashboard=False, no_monitor=True, include_log_monitor=False,
            _system_config=dict(NODE_HEALTH),
        )
    except TypeError as exc:
        raise LeanStartUnavailable(f"this Ray ({ray.__version__}) takes other start parameters: {exc}") from None

    class _LeanNode(Node):
        def start_api_server(self, **_ignored):  # no dashboard, job or state HTTP API: nothing of descent's uses it
            return None

    enable_token_auth()  # as ray.init does for a new local cluster (RAY_AUTH_MODE, when set, wins)
    ensure_token(None, create_token_if_missing=True)
    node = _LeanNode(params, head=True, shutdown_at_exit=False, spawn_reaper=False, ray_init_cluster=True)
    ray.init(address=node.address, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    return LocalCluster(node.address, node.get_session_dir_path())
