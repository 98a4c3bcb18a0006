"""The ClusterInfo answer: the Ray nodes with their roles (head, server, worker), the active workers, the version.

Roles: ``head`` is the Ray head; ``server`` is the node this server (the Ray driver)
runs on; ``worker`` is a live node with CPUs, where training workers go. A local
one-node cluster is all three. Dead nodes stay listed (``alive`` false, no roles)
with no CPUs counted: Ray keeps them in its node table for a while after they left.
"""

from __future__ import annotations

from importlib import metadata

from proto import descent_pb2

State = descent_pb2.JobState


def server_version() -> str:
    """The installed descent package's version ("unknown" when run from a tree that was never installed)."""
    try:
        return metadata.version("descent")
    except metadata.PackageNotFoundError:
        return "unknown"


def node_roles(node: dict, server_node_id: str) -> list[str]:
    """The roles of one node of ``RayLauncher.cluster()``; none for a dead node."""
    if not node["alive"]:
        return []
    roles = []
    if node["is_head"]:
        roles.append("head")
    if node["node_id"] == server_node_id:
        roles.append("server")
    if node["cpus"] > 0:
        roles.append("worker")
    return roles


def cluster_response(facts: dict, server_node_id: str, live_jobs) -> descent_pb2.ClusterInfoResponse:
    """The response from the launcher's ``cluster()`` facts and the registry's live jobs (running workers listed)."""
    response = descent_pb2.ClusterInfoResponse(
        total_cpus=facts["total_cpus"], available_cpus=facts["available_cpus"], ray_address=facts["ray_address"],
        server_version=server_version(),
    )
    nodes = sorted(facts["nodes"], key=lambda n: not n["alive"])  # live nodes first, in Ray's order
    for node in nodes:
        response.nodes.add(**{**node, "cpus": node["cpus"] if node["alive"] else 0.0},
                           roles=node_roles(node, server_node_id))
    for job in live_jobs:
        status = job.status()
        if status.state == State.RUNNING:
            for w in status.per_worker:
                response.workers.add(job_id=job.job_id, worker_id=w.worker_id, node_id=w.node_id)
    return response
