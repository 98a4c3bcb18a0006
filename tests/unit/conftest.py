"""Unit tests are oracles and pure code: they never import Ray and never start a server.

Checked where it can be seen: a unit module whose import loads ``ray`` (or the real-server
helper) fails its collection, and a unit test that loads ``ray`` while it runs fails, in any
run where nothing else loaded it first (``make test-fast``, ``pytest tests/unit``).
"""

from __future__ import annotations

import sys

import pytest

FORBIDDEN = ("ray", "tests.server_process")


def _loaded() -> set[str]:
    return {name for name in FORBIDDEN if name in sys.modules}


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    before = _loaded()
    outcome = yield
    new = _loaded() - before
    if new and isinstance(collector, pytest.Module):
        report = outcome.get_result()
        report.outcome = "failed"
        report.longrepr = f"{collector.nodeid}: importing it loads {sorted(new)}; a unit test must not (move it to integration/)"


@pytest.fixture(autouse=True)
def _no_ray_at_run_time():
    before = _loaded()
    yield
    new = _loaded() - before
    assert not new, f"this unit test loaded {sorted(new)}; a unit test must not (move it to integration/)"
