"""The compose end-to-end test: a real Docker engine, the project's image, a real scaled cluster.

    python tests/e2e/compose/run.py          (.ci/run calls it after `make test`)

Brings the cluster up with `docker compose up -d --wait` as it is (two worker
nodes), checks what users expect of it (users.py: a plain `descent train`
succeeds on 2 nodes, one image <= 600 MB for every service, the server's log
tells the job's story, a second compose project's worker joins over the shared
network and runs a job, DESCENT_WORKERS=3 survives a plain `up -d`, killed
workers come back), trains through the published port with the host's
`descent` CLI, checks a 3-worker job used 3 distinct Ray nodes, runs a gradient
check, trains on MNIST through the ./data bind mount, runs the client inside
the compose network and scrapes the server's metrics from there, scales to 4 (DESCENT_WORKERS=4) and checks
the new node is used by the next
job, kills the container of one of a 3-worker job's nodes mid-job and checks a
replacement runs on the spare node (and that a job submitted 1 s later does not
fail), interrupts the server mid-job three ways
(kill -9 of its process, `docker compose restart server`, `down` then `up -d`)
and checks each job is resumed and ends with its exact step count
(durability.py), then tears everything down — also on failure — and stops the
engine it started. Exits non-zero on any failure.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from tests.e2e.compose import durability, elastic, users  # noqa: E402
from tests.e2e.compose.engine import DockerEngine, log, run  # noqa: E402

SHARED_DATA = ROOT.parent / "shared" / "data"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """`docker compose` for one project name, and the host CLI pointed at its published port."""

    def __init__(self, engine: DockerEngine):
        self.port = free_port()
        self.project = f"descent-e2e-{os.getpid()}"
        self.root = ROOT
        self.env = dict(engine.env, DESCENT_PORT=str(self.port), DESCENT_DATA=str(SHARED_DATA),
                        DESCENT_NETWORK=self.project)
        for name in ("DESCENT_SERVER", "DESCENT_WORKERS", "DESCENT_WORKER_CPUS", "DESCENT_NETWORK_EXTERNAL"):
            self.env.pop(name, None)
        self.up_once = False

    def compose(self, *args: str, timeout: float = 900, check: bool = True) -> subprocess.CompletedProcess:
        return run(["docker", "compose", "-p", self.project, *args], env=self.env, timeout=timeout, check=check, cwd=ROOT)

    def up(self, workers: int | None) -> None:
        """`up -d --wait`, with DESCENT_WORKERS=workers when given (the setting a later plain `up -d` keeps)."""
        if workers is not None:
            self.env["DESCENT_WORKERS"] = str(workers)
        log(f"{'' if workers is None else f'DESCENT_WORKERS={workers} '}docker compose up -d --wait")
        self.up_once = True
        self.compose("up", "-d", "--wait", "--wait-timeout", "300")
        if "DESCENT_TOKEN" not in self.env:  # the token the server created on first start, as the README shows
            self.env["DESCENT_TOKEN"] = self.compose("exec", "-T", "server", "cat", "/auth/token").stdout.strip()
        self.wait_for_cpus(workers or 2)

    def services(self) -> list[dict]:
        """`docker compose ps --format json`: one object per container."""
        out = self.compose("ps", "--format", "json").stdout.strip()
        return json.loads(out) if out.startswith("[") else [json.loads(line) for line in out.splitlines() if line]

    def count(self, service: str) -> int:
        return sum(1 for c in self.services() if c["Service"] == service)

    def descent(self, *args: str, timeout: float = 300) -> dict | list:
        result = run([sys.executable, "-m", "client.cli", *args, "--server", f"localhost:{self.port}", "--json"],
                     env=self.env, timeout=timeout, cwd=ROOT)
        return json.loads(result.stdout)

    def wait_for_cpus(self, cpus: int, timeout: float = 120) -> dict:
        """Worker nodes take a few seconds to register with the head after their container starts."""
        deadline = time.monotonic() + timeout
        while True:
            info = self.descent("cluster")
            if info["total_cpus"] >= cpus:
                return info
            if time.monotonic() > deadline:
                raise AssertionError(f"cluster has {info['total_cpus']} CPUs after {timeout} s, expected {cpus}")
            time.sleep(2)

    def worker_containers(self) -> list[str]:
        out = self.compose("ps", "-q", "worker").stdout.split()
        return [c for c in out if c]

    def down(self) -> None:
        if self.up_once:
            logs = self.compose("logs", "--no-color", "--tail", "30", check=False, timeout=120)
            (ROOT / ".compose-e2e.log").write_text(logs.stdout + logs.stderr)
            log("docker compose down -v")
            self.compose("down", "-v", "--remove-orphans", "--timeout", "20", check=False, timeout=300)


def check(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def train(cluster: Cluster, workers: int, *extra: str) -> dict:
    job = cluster.descent("train", "--workers", str(workers), *extra)
    nodes = [w["node_id"] for w in job["per_worker"]]
    log(f"job {job['job_id']}: {job['state']}, {job['steps']} steps, test accuracy {job['test_accuracy']}, "
        f"{workers} workers on {len(set(nodes))} distinct nodes: {', '.join(n[:12] for n in nodes)}")
    check(job["state"] == "SUCCEEDED", f"job ended {job['state']}: {job.get('message')}")
    check(sum(w["steps"] for w in job["per_worker"]) == job["steps"], "per-worker steps do not add up")
    return job


def scenario(engine: DockerEngine) -> None:
    cluster = Cluster(engine)
    try:
        cluster.compose("config", "--quiet")
        log("docker compose config: valid")
        log("building the project's image (Dockerfile FROM python:3.11-slim)")
        built = cluster.compose("build", timeout=1800)
        lines = (built.stdout + built.stderr).splitlines()
        log(f"docker compose build: {', '.join(line.strip() for line in lines if line.strip().endswith('Built'))}")

        cluster.up(None)  # as it is: DESCENT_WORKERS unset, two worker nodes
        anonymous = run([sys.executable, "-m", "client.cli", "jobs", "--server", f"localhost:{cluster.port}"],
                        env={k: v for k, v in cluster.env.items() if k != "DESCENT_TOKEN"}, cwd=ROOT, check=False)
        check(anonymous.returncode == 1 and "UNAUTHENTICATED" in anonymous.stderr, "the published port answered without the token")
        info = cluster.descent("cluster")
        log(f"default cluster: {len(info['nodes'])} nodes, {info['total_cpus']} CPUs")
        check(info["total_cpus"] == 2, "a plain `docker compose up` should give two worker CPUs")
        default_job = users.defaults(cluster)
        users.one_image(cluster)
        users.server_log_story(cluster, default_job["job_id"])
        users.second_host(cluster)

        users.settings_stick(cluster)  # DESCENT_WORKERS=3
        users.killed_workers_come_back(cluster)
        job3 = train(cluster, 3)
        nodes3 = {w["node_id"] for w in job3["per_worker"]}
        check(len(nodes3) == 3, f"3 workers ran on {len(nodes3)} distinct Ray nodes")
        check(job3["test_accuracy"] >= 0.95, f"digits test accuracy {job3['test_accuracy']}")
        alive = {n["node_id"] for n in cluster.descent("cluster")["nodes"] if n["alive"] and n["cpus"] > 0}
        check(nodes3 <= alive, "a worker ran on a node that is not a live worker node")

        grad = cluster.descent("gradcheck", "--dataset", "digits")
        log(f"gradcheck: passed={grad['passed']}, max_rel_error_smooth={grad['max_rel_error_smooth']:.2e}")
        check(grad["passed"] and grad["max_rel_error_smooth"] < 1e-7, "gradient check failed on the cluster")

        mnist = train(cluster, 3, "--dataset", "mnist:/data/mnist")
        check(mnist["test_accuracy"] >= 0.89, f"MNIST test accuracy {mnist['test_accuracy']}")

        inside = cluster.compose("run", "--rm", "--no-deps", "client",
                                 "descent", "train", "--dataset", "digits", "--workers", "2", "--steps", "300", "--json")
        inside_job = json.loads(inside.stdout)
        log(f"client inside the compose network: job {inside_job['job_id']} {inside_job['state']}")
        check(inside_job["state"] == "SUCCEEDED", "the in-network client's job failed")
        scrape_metrics_inside(cluster)

        if os.environ.get("DESCENT_COMPOSE_ELASTIC") == "1":  # not yet run on a compose cluster: opt-in until it has
            elastic.scenario(cluster, container_of_node)  # a 1:6 job grows as nodes join: leaves 4 worker nodes
        else:
            cluster.up(4)
        job4 = train(cluster, 4)
        nodes4 = {w["node_id"] for w in job4["per_worker"]}
        check(len(nodes4) == 4, f"4 workers ran on {len(nodes4)} distinct Ray nodes")
        new = nodes4 - nodes3
        log(f"after scaling: {len(nodes4)} distinct nodes, new node(s) used: {', '.join(n[:12] for n in new)}")
        check(len(new) >= 1, "the node added by --scale was not used by the next job")

        killed_job(cluster)
        durability.scenario(cluster, workers=3)
    finally:
        cluster.down()


def scrape_metrics_inside(cluster: Cluster) -> None:
    """Scrape the server's Prometheus metrics from a container on the compose network (port 9100 is not published)."""
    from prometheus_client.parser import text_string_to_metric_families

    fetch = "import urllib.request; print(urllib.request.urlopen('http://server:9100/metrics', timeout=10).read().decode())"
    text = cluster.compose("run", "--rm", "--no-deps", "client", "python", "-c", fetch).stdout
    samples = {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples if not s.labels}
    updates = samples.get("descent_updates_applied_total", 0)
    log(f"metrics from inside the network: {updates:.0f} updates applied, "
        f"{samples.get('descent_push_latency_seconds_count', 0):.0f} pushes timed")
    check(updates > 0, "the metrics show no update applied")
    check(samples.get("descent_push_latency_seconds_count", 0) > 0, "the push latency histogram is empty")


def container_of_node(cluster: Cluster, node_id: str) -> str:
    """The worker container that runs Ray node ``node_id`` (matched by its IP address)."""
    address = next(n["address"] for n in cluster.descent("cluster")["nodes"] if n["node_id"] == node_id)
    for container in cluster.worker_containers():
        ip = run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", container],
                 env=cluster.env).stdout.strip()
        if ip == address:
            return container
    raise AssertionError(f"no worker container has the address {address} of node {node_id[:12]}")


def killed_job(cluster: Cluster) -> None:
    """`docker kill` the node of one of a 3-worker job's workers on a 4-node cluster, mid-job.

    The job places a replacement on the spare node (worker_restarts >= 1) and runs at full
    width again; a job submitted 1 s after the node died is placed on live nodes or
    queued, and never fails because of the dead node.
    """
    job = cluster.descent("train", "--dataset", "digits", "--workers", "3", "--steps", "60000", "--detach")
    deadline = time.monotonic() + 120
    while (status := cluster.descent("status", job["job_id"]))["steps"] < 3000 or len(status["per_worker"]) < 3:
        check(status["state"] in ("PENDING", "QUEUED", "RUNNING"), f"job ended early: {status['state']} {status['message']}")
        check(time.monotonic() < deadline, "job did not start")
        time.sleep(1)
    victim_worker = status["per_worker"][0]
    victim = container_of_node(cluster, victim_worker["node_id"])
    log(f"job {job['job_id']} at {status['steps']} steps: docker kill {victim[:12]} "
        f"(node {victim_worker['node_id'][:12]} of {victim_worker['worker_id']})")
    run(["docker", "kill", victim], env=cluster.env)
    time.sleep(1)
    late = cluster.descent("train", "--dataset", "digits", "--workers", "1", "--steps", "300")
    log(f"a job submitted 1 s after the node died: {late['state']} ({late['message'] or 'no message'})")
    check(late["state"] == "SUCCEEDED", f"a job submitted after a node died ended {late['state']}: {late['message']}")
    final = cluster.descent("watch", job["job_id"], timeout=600)
    log(f"after the kill: job {final['state']} at {final['steps']} steps, worker_restarts {final['worker_restarts']}; "
        f"message: {final['message'][:300]}")
    check(final["state"] == "SUCCEEDED", f"job ended {final['state']}: {final['message']}")
    check(final["steps"] == 60000 and sum(w["steps"] for w in final["per_worker"]) == 60000, "steps are not exact")
    check(final["worker_restarts"] >= 1, "no replacement was placed for the lost worker")
    again = next(w for w in final["per_worker"] if w["worker_id"] == victim_worker["worker_id"])
    check(again["node_id"] != victim_worker["node_id"], "the lost worker's slot never ran on another node")
    check(again["steps"] > victim_worker["steps"], "the replacement made no progress: the job did not regain its width")
    log(f"{victim_worker['worker_id']} moved to node {again['node_id'][:12]}: {victim_worker['steps']} -> "
        f"{again['steps']} steps")


def main() -> int:
    started = time.monotonic()
    engine = DockerEngine()
    try:
        engine.start()
        engine.ensure_base_image()
        scenario(engine)
    except Exception as error:  # print the reason in one place; exit non-zero
        log(f"FAILED: {type(error).__name__}: {error}")
        log_file = ROOT / ".compose-e2e.log"
        if log_file.exists():
            print(log_file.read_text()[-6000:], flush=True)
        return 1
    finally:
        engine.stop()
        log(f"took {time.monotonic() - started:.0f} s")
    log("PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
