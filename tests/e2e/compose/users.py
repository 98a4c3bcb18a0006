"""Compose checks of the cluster as its users expect it (issue 10): used by run.py.

- defaults: a plain `up -d --wait` gives 2 healthy worker nodes, and a plain
  `descent train --dataset digits` succeeds on 2 distinct nodes;
- one image: every service's container runs the same image id, tagged descent:VERSION, at most 600 MB;
- logs: `docker compose logs server` tells that job's story in parseable logfmt lines;
- settings stick: with DESCENT_WORKERS=3, another plain `up -d` keeps the 3 workers
  (same containers);
- restart: a worker whose process is killed comes back by itself, one stopped with
  `docker kill` comes back with `up -d`, and `descent cluster` shows 3 live worker nodes again;
- a second host: a second compose project (docker-compose.worker.yml) whose worker joins
  the first project's head over the shared Docker network, and a job with a worker on it.
"""

from __future__ import annotations

import importlib.metadata
import os
import signal
import sys
import time

from server.observe.logs import parse_logfmt
from tests.e2e.compose.engine import log, run

IMAGE_LIMIT = 600 * 1000 * 1000  # bytes, as `docker images` counts MB


def check(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def live_workers(cluster) -> list[dict]:
    """The alive nodes labelled ``worker`` by `descent cluster`."""
    return [n for n in cluster.descent("cluster")["nodes"] if n["alive"] and "worker" in n["roles"]]


def wait_live_workers(cluster, count: int, timeout: float = 180, without: str = "") -> list[dict]:
    """Wait until `descent cluster` shows ``count`` live worker nodes (none of them node ``without``)."""
    deadline = time.monotonic() + timeout
    while len(workers := live_workers(cluster)) != count or any(n["node_id"] == without for n in workers):
        check(time.monotonic() < deadline, f"{len(workers)} live worker nodes after {timeout} s, expected {count}")
        time.sleep(2)
    return workers


def node_of(cluster, container: str) -> str:
    """The live Ray node of a worker container (matched by its IP address)."""
    ip = run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", container],
             env=cluster.env).stdout.strip()
    (node,) = [n["node_id"] for n in live_workers(cluster) if n["address"] == ip]
    return node


def defaults(cluster) -> dict:
    """`up -d --wait` as it is, then `descent train --dataset digits --json` with no other flags."""
    states = {c["Service"]: c.get("Health", "") for c in cluster.services()}
    log(f"after a plain `up -d --wait`: {cluster.count('worker')} workers; health: {states}")
    check(cluster.count("worker") == 2, "a plain `up -d` should start 2 worker nodes")
    check(all(h == "healthy" for s, h in states.items()), f"not every service is healthy: {states}")
    info = cluster.descent("cluster")
    roles = sorted(",".join(n["roles"]) for n in info["nodes"] if n["alive"])
    log(f"descent cluster: server descent {info['server_version']}, live node roles {roles}")
    check(roles == ["head", "server", "worker", "worker"], f"node roles {roles}")
    version = run([sys.executable, "-m", "client.cli", "--version"], env=cluster.env, cwd=cluster.root).stdout.strip()
    check(version == f"descent {info['server_version']}", f"client says {version!r}, server {info['server_version']!r}")
    job = cluster.descent("train", "--dataset", "digits")
    nodes = {w["node_id"] for w in job["per_worker"]}
    log(f"plain `descent train --dataset digits`: job {job['job_id']} {job['state']}, {len(job['per_worker'])} workers "
        f"on {len(nodes)} distinct nodes, test accuracy {job['test_accuracy']}")
    check(job["state"] == "SUCCEEDED", f"the default job ended {job['state']}: {job.get('message')}")
    check(len(nodes) >= 2, f"the default job ran on {len(nodes)} distinct nodes")
    return job


def one_image(cluster) -> None:
    """Every container of the project runs one image id, tagged descent:VERSION (this checkout's
    version, never a fixed tag that another checkout's build could have left), of at most IMAGE_LIMIT bytes."""
    tag = f"descent:{importlib.metadata.version('descent')}"
    ids = cluster.compose("ps", "-q").stdout.split()
    images = {run(["docker", "inspect", "-f", "{{.Image}}", c], env=cluster.env).stdout.strip() for c in ids}
    names = {run(["docker", "inspect", "-f", "{{.Config.Image}}", c], env=cluster.env).stdout.strip() for c in ids}
    size = int(run(["docker", "image", "inspect", "-f", "{{.Size}}", tag], env=cluster.env).stdout)
    log(f"{len(ids)} containers run {len(images)} image id(s) named {sorted(names)}; {tag} is {size / 1e6:.0f} MB")
    check(len(images) == 1, f"the services run {len(images)} different images")
    check(names == {tag}, f"the containers run {sorted(names)}, not {tag}")
    check(size <= IMAGE_LIMIT, f"the image is {size / 1e6:.0f} MB, over {IMAGE_LIMIT / 1e6:.0f} MB")


def server_log_story(cluster, job_id: str) -> None:
    """`docker compose logs server` has a parseable submitted, placed, progress and finished line for the job."""
    out = cluster.compose("logs", "--no-color", "--no-log-prefix", "server").stdout.splitlines()
    lines = [parse_logfmt(line) for line in out if line.startswith("time=")]
    mine = [f for f in lines if f.get("job") == job_id]
    kinds = [f["event"] for f in mine]
    log(f"docker compose logs server: {len(out)} lines, {len(lines)} logfmt; job {job_id}: {', '.join(kinds)}")
    for kind in ("submitted", "placed", "progress", "finished"):
        check(kind in kinds, f"no {kind} line for job {job_id} in the server's log")
    finished = next(f for f in mine if f["event"] == "finished")
    check(float(finished["test_accuracy"]) > 0.9, f"finished line: {finished}")
    joined = [f for f in lines if f.get("event") == "node_joined"]
    check(len(joined) >= 4, f"{len(joined)} node_joined lines for head, server and 2 workers")


def settings_stick(cluster) -> None:
    """DESCENT_WORKERS=3 then another plain `up -d`: still the same 3 worker containers."""
    cluster.up(3)
    before = sorted(cluster.worker_containers())
    cluster.compose("up", "-d", "--wait", "--wait-timeout", "300")
    after = sorted(cluster.worker_containers())
    log(f"DESCENT_WORKERS=3, then a plain `up -d`: {len(before)} -> {len(after)} workers, same containers: {before == after}")
    check(len(after) == 3 and before == after, "a plain `up -d` changed the workers")
    wait_live_workers(cluster, 3)


def killed_workers_come_back(cluster) -> None:
    """kill -9 of a worker's process: back by itself; `docker kill`: back with `up -d`; 3 live worker nodes again."""
    victim = cluster.worker_containers()[0]
    old_node = node_of(cluster, victim)
    pid = int(run(["docker", "inspect", "-f", "{{.State.Pid}}", victim], env=cluster.env).stdout)
    log(f"kill -9 of worker container {victim[:12]}'s process (host PID {pid}, Ray node {old_node[:12]})")
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 120
    while True:
        state = run(["docker", "inspect", "-f", "{{.State.Status}} {{.RestartCount}}", victim], env=cluster.env).stdout.split()
        if state[0] == "running" and int(state[1]) >= 1:
            break
        check(time.monotonic() < deadline, f"the killed worker did not come back: {state}")
        time.sleep(1)
    workers = wait_live_workers(cluster, 3, without=old_node)
    new_node = node_of(cluster, victim)
    dead = [n for n in cluster.descent("cluster")["nodes"] if n["node_id"] == old_node]
    log(f"it came back by itself (restart count {state[1]}) as Ray node {new_node[:12]}; descent cluster: "
        f"{len(workers)} live worker nodes, the old node listed as "
        f"{[('alive' if n['alive'] else 'dead', n['cpus'], n['roles']) for n in dead]}")
    check(new_node != old_node, "the restarted worker is the same Ray node")
    check(all(not n["alive"] and n["cpus"] == 0 and n["roles"] == [] for n in dead), f"the old node is not shown dead: {dead}")
    victim = cluster.worker_containers()[1]
    old_node = node_of(cluster, victim)
    run(["docker", "kill", victim], env=cluster.env)
    time.sleep(3)
    status = run(["docker", "inspect", "-f", "{{.State.Status}}", victim], env=cluster.env).stdout.strip()
    log(f"docker kill {victim[:12]}: {status} (docker counts it as a manual stop); docker compose up -d")
    cluster.compose("up", "-d", "--wait", "--wait-timeout", "300")
    workers = wait_live_workers(cluster, 3, without=old_node)
    check(len(cluster.worker_containers()) == 3, "up -d did not bring the killed worker back")
    log(f"after up -d: descent cluster shows {len(workers)} live worker nodes")


def second_host(cluster) -> None:
    """A second compose project joins the first one's head over the shared network; a job runs on its node."""
    token = cluster.compose("exec", "-T", "ray-head", "ray", "get-auth-token").stdout.strip()
    check(len(token) >= 16, "no Ray auth token from the head")
    env = dict(cluster.env, DESCENT_HEAD="ray-head:6379", DESCENT_RAY_TOKEN=token, DESCENT_WORKERS="1")
    project = f"{cluster.project}-host2"
    host2 = ["docker", "compose", "-p", project, "-f", "docker-compose.worker.yml"]
    before = {n["node_id"] for n in live_workers(cluster)}
    try:
        log(f"second host: docker compose -p {project} -f docker-compose.worker.yml up -d --wait")
        run([*host2, "up", "-d", "--wait", "--wait-timeout", "300"], env=env, cwd=cluster.root, timeout=600)
        workers = wait_live_workers(cluster, len(before) + 1)
        (new,) = [n for n in workers if n["node_id"] not in before]
        (container,) = run([*host2, "ps", "-q"], env=env, cwd=cluster.root).stdout.split()
        ip = run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", container],
                 env=env).stdout.strip()
        check(new["address"] == ip, f"the new node is at {new['address']}, the second project's worker at {ip}")
        job = cluster.descent("train", "--dataset", "digits", "--workers", str(len(workers)), "--steps", "3000")
        nodes = {w["node_id"] for w in job["per_worker"]}
        log(f"job {job['job_id']} {job['state']} on {len(nodes)} nodes; on the second host's node "
            f"{new['node_id'][:12]} ({ip}): {new['node_id'] in nodes}")
        check(job["state"] == "SUCCEEDED", f"the job ended {job['state']}: {job.get('message')}")
        check(new["node_id"] in nodes, "no worker of the job ran on the second host's node")
    finally:
        run([*host2, "down", "--timeout", "10"], env=env, cwd=cluster.root, check=False, timeout=300)
    wait_live_workers(cluster, len(before))
