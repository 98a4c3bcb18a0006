"""server.rpc.cluster_view: node roles and dead nodes, against hand-written cluster facts."""

from importlib import metadata

from server.rpc.cluster_view import cluster_response, node_roles


def node(node_id, alive=True, cpus=1.0, is_head=False):
    return {"node_id": node_id, "address": f"10.0.0.{len(node_id)}", "alive": alive, "cpus": cpus, "is_head": is_head}


def test_roles_of_a_compose_cluster():
    assert node_roles(node("head", cpus=0.0, is_head=True), "srv") == ["head"]
    assert node_roles(node("srv", cpus=0.0), "srv") == ["server"]
    assert node_roles(node("w1"), "srv") == ["worker"]
    assert node_roles(node("dead", alive=False), "srv") == []
    assert node_roles(node("local", cpus=4.0, is_head=True), "local") == ["head", "server", "worker"]


def test_dead_nodes_come_last_with_no_cpus_and_no_roles():
    facts = {"nodes": [node("head", cpus=0.0, is_head=True), node("gone", alive=False, cpus=1.0), node("srv", cpus=0.0),
                       node("w1")],
             "total_cpus": 1.0, "available_cpus": 1.0, "ray_address": "head:6379"}
    response = cluster_response(facts, "srv", [])
    assert [(n.node_id, n.alive, n.cpus, list(n.roles)) for n in response.nodes] == [
        ("head", True, 0.0, ["head"]), ("srv", True, 0.0, ["server"]), ("w1", True, 1.0, ["worker"]),
        ("gone", False, 0.0, []),
    ]
    assert response.server_version == metadata.version("descent") and response.ray_address == "head:6379"
