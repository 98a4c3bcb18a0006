"""Dependencies point one way: client → proto, formats; worker → proto, formats; server → proto, worker, formats;
descent (the Python API) → client, proto, formats.

formats (pure numpy file formats) depends on nothing of ours.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = {
    "proto": {"proto"},
    "formats": {"formats"},
    "worker": {"proto", "formats", "worker"},
    "server": {"proto", "formats", "worker", "server"},
    "client": {"proto", "formats", "client"},
    # The Python API: a facade over the client (and formats' model file); never server or worker.
    "descent": {"proto", "formats", "client", "descent"},
}
OURS = set(ALLOWED)


def imported_packages(path: Path) -> set[str]:
    """Top-level names of every module imported by the file at ``path``."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_dependencies_point_one_way(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no Python files"
    bad = {}
    for path in files:
        wrong = (imported_packages(path) & OURS) - ALLOWED[package]
        if wrong:
            bad[str(path.relative_to(ROOT))] = sorted(wrong)
    assert not bad, f"{package} imports what it must not: {bad}"


def test_only_the_cluster_package_imports_ray():
    importers = sorted(
        str(p.relative_to(ROOT))
        for package in OURS
        for p in (ROOT / package).rglob("*.py")
        if "ray" in imported_packages(p)
    )
    # node_health runs only as a worker container's healthcheck (python -m server.cluster.node_health).
    assert importers == ["server/cluster/launcher.py", "server/cluster/local_ray.py", "server/cluster/node_health.py"]


def test_math_loads_neither_grpc_nor_ray():
    code = "import sys, worker.svm, worker.numgrad; print(sorted(m for m in ('grpc', 'ray') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_client_loads_neither_server_nor_worker_nor_ray():
    code = "import sys, client.cli; print(sorted(m for m in ('server', 'worker', 'ray') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_python_api_loads_neither_server_nor_worker_nor_ray():
    code = "import sys, descent; print(sorted(m for m in ('server', 'worker', 'ray', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_proto_is_ours_not_a_shadowing_package():
    import proto

    assert Path(proto.__file__).resolve().parent == ROOT / "proto"


def test_formats_load_only_numpy():
    code = ("import sys, formats.model, formats.inputs, formats.scoring; "
            "print(sorted(m for m in ('grpc', 'ray', 'PIL', 'sklearn', 'scipy', 'matplotlib', 'proto', 'worker', 'server', "
            "'client') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
