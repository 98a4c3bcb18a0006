"""The client speaks only the protocol: it never imports ``server`` or ``worker`` (nor Ray)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = {"server", "worker", "ray"}


def test_client_sources_import_no_server_worker_or_ray():
    offenders = []
    for path in sorted((REPO / "client").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            offenders += [f"{path.name}: {name}" for name in names if name.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_importing_the_cli_loads_only_the_protocol():
    code = (
        "import sys, client.cli, client.__main__; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'server', 'worker', 'ray'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
