"""The compose files name the image by the project's version, never a fixed tag such as
``descent:latest``: with a fixed tag, `docker compose up` reused whatever image of that name
an earlier build (another checkout, an older version) had left. The services that build the
image build it on every `up` (``pull_policy: build``); the others never pull it."""

from __future__ import annotations

import re
from pathlib import Path

import yaml  # PyYAML, a dependency of ray

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILES = ("docker-compose.yml", "docker-compose.worker.yml")


def project_version() -> str:
    text = (ROOT / "pyproject.toml").read_text()
    return re.search(r'^version = "([^"]+)"$', text, re.M).group(1)


def services(name: str) -> dict[str, dict]:
    return yaml.safe_load((ROOT / name).read_text())["services"]


def test_every_service_runs_the_image_tagged_with_the_project_version():
    expected = f"descent:{project_version()}"
    for name in COMPOSE_FILES:
        images = {service: spec.get("image") for service, spec in services(name).items()}
        assert set(images.values()) == {expected}, f"{name}: {images}, expected {expected} everywhere"


def test_a_service_that_builds_the_image_builds_it_on_every_up_and_the_others_never_pull():
    for name in COMPOSE_FILES:
        specs = services(name)
        assert any("build" in spec for spec in specs.values()), f"{name}: no service builds the image"
        for service, spec in specs.items():
            expected = "build" if "build" in spec else "never"
            assert spec.get("pull_policy") == expected, f"{name}: {service} has pull_policy {spec.get('pull_policy')}"


def test_no_code_or_configuration_names_a_fixed_latest_tag():
    files = [*ROOT.glob("docker-compose*.yml"), ROOT / "Dockerfile", ROOT / "Makefile", *(ROOT / ".ci").glob("*"),
             *(ROOT / "tests").rglob("*.py")]
    this = Path(__file__).resolve()
    offenders = [str(f.relative_to(ROOT)) for f in files if f.resolve() != this and "descent:latest" in f.read_text()]
    assert not offenders, f"descent:latest is named in {offenders}"


def test_the_compose_head_checks_its_nodes_as_a_local_head_does():
    """A killed worker node is listed dead in ~10 s, not Ray's ~30 s: the same GCS health check everywhere."""
    from server.cluster.node_watch import NODE_HEALTH

    environment = services("docker-compose.yml")["ray-head"]["environment"]
    assert {key: int(environment[f"RAY_{key}"]) for key in NODE_HEALTH} == NODE_HEALTH
