"""``python -m server.cluster.node_health HEAD:PORT``: exit 0 if the Ray head lists this machine's Ray node as alive.

The healthcheck of a worker node's container: the node counts once the cluster's
GCS has it registered and alive at this container's IP address (the address
``ray start`` picks: the one that routes to the head). Reads the GCS node table
directly (no driver, no job), which costs little more than importing Ray; the
Ray auth token comes from ``~/.ray/auth_token`` or ``$RAY_AUTH_TOKEN`` as for
``ray start``. Besides server.cluster.launcher, the one module that imports ``ray``:
it runs in a worker node's container, never in the server process.
"""

from __future__ import annotations

import sys


def alive_node_ids(gcs_address: str, ip: str) -> list[str]:
    """IDs of the alive Ray nodes at ``ip`` in the cluster whose GCS is ``gcs_address``."""
    import ray._private.state as ray_state
    from ray._raylet import GcsClientOptions

    state = ray_state.GlobalState()
    state._initialize_global_state(
        GcsClientOptions.create(gcs_address, None, allow_cluster_id_nil=True, fetch_cluster_id_if_nil=True)
    )
    try:
        return [n["NodeID"] for n in state.node_table() if n.get("Alive") and n.get("NodeManagerAddress") == ip]
    finally:
        state.disconnect()


def main(argv: list[str]) -> int:
    """Print the verdict; 0 when healthy, 1 when not (or the head does not answer)."""
    if len(argv) != 1:
        print("usage: python -m server.cluster.node_health HEAD_HOST:PORT", file=sys.stderr)
        return 2
    import ray.util

    # As `ray start --address` picks it: the interface that routes to the head (a container on
    # an overlay network also has a gateway bridge, which routes to the internet).
    ip = ray.util.get_node_ip_address(argv[0])
    try:
        nodes = alive_node_ids(argv[0], ip)
    except Exception as error:  # the head is down or refuses us: unhealthy, said in one line
        print(f"unhealthy: {argv[0]}: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    if not nodes:
        print(f"unhealthy: no alive Ray node at {ip} in the cluster at {argv[0]}", file=sys.stderr)
        return 1
    print(f"healthy: Ray node {nodes[0][:12]} at {ip} is alive")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
