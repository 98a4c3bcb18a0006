"""Every row of the guarantees table in docs/operations.md names a test that exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAMED = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def _table_rows() -> list[str]:
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text.split("### What survives which fault", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| fault")]


def test_every_guarantee_is_backed_by_a_test_that_exists():
    rows = _table_rows()
    assert len(rows) >= 8
    for row in rows:
        named = NAMED.findall(row)
        assert len(named) == 1, f"a row names no test: {row[:80]}"
        path, name = named[0]
        assert (ROOT / path).is_file(), f"{path} does not exist"
        tree = ast.parse((ROOT / path).read_text())
        tests = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
        assert name in tests, f"{path} has no {name}"
