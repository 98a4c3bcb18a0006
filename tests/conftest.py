"""What the whole suite shares: the folder markers and the real-server fixtures.

- Every test is marked by its folder (``unit``, ``integration``, ``e2e``), and a test that
  starts servers of its own (``server_factory``) is also ``slow``: ``pytest -m unit``,
  ``-m "not slow"`` select without a decorator in any file.
- ``server``: ONE real ``python -m server`` (local Ray, 2 CPUs, a fresh token) for the
  whole session, started the first time a test asks for it. Tests that only submit jobs and
  read answers share it: each start costs a Ray start (~5 s).
- ``server_factory`` / ``module_server_factory``: a server of the test's (or module's) own,
  for what must not touch the shared one: kill -9, restarts on one state directory, TLS,
  limits, data roots, the process tree, the log. Whatever a test leaves running is stopped.
- ``state_dir``: a fresh state directory on ``tmp_path``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
KINDS = ("unit", "integration", "e2e")
SHARED_CPUS = 2  # what the shared server tells Ray it has (tests assert it)


def pytest_collection_modifyitems(config, items):
    for item in items:
        try:
            kind = Path(str(item.path)).resolve().relative_to(TESTS).parts[0]
        except ValueError:
            continue
        if kind in KINDS:
            item.add_marker(getattr(pytest.mark, kind))
        if {"server_factory", "module_server_factory"} & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)


class ServerFactory:
    """Starts ``ServerProcess``es on request and stops, at teardown, those still running."""

    def __init__(self, default_state_dir):
        self._default_state_dir = default_state_dir
        self.started = []

    def __call__(self, state_dir: Path | None = None, **kwargs):
        """A new ``ServerProcess``; ``kwargs`` as for it (num_cpus, extra_args, data_roots, tls_ca, log_path, ...)."""
        from tests.server_process import ServerProcess  # here, so that unit-only runs never load it

        proc = ServerProcess(state_dir if state_dir is not None else self._default_state_dir(), **kwargs)
        self.started.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            if proc.proc.poll() is None:
                proc.stop()


@pytest.fixture
def state_dir(tmp_path) -> Path:
    """A fresh server state directory (not created: the server makes it)."""
    return tmp_path / "state"


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The shared real server (2 CPUs); it must shut down cleanly at the end of the session."""
    from tests.server_process import ServerProcess

    proc = ServerProcess(tmp_path_factory.mktemp("shared-state"), num_cpus=SHARED_CPUS)
    yield proc
    assert proc.stop() == 0, "the shared server did not shut down cleanly"


@pytest.fixture
def server_factory(tmp_path):
    """``server_factory(state_dir=tmp_path/"state", **ServerProcess options)`` -> a server of this test's own."""
    factory = ServerFactory(lambda: tmp_path / "state")
    yield factory
    factory.stop_all()


@pytest.fixture(scope="module")
def module_server_factory(tmp_path_factory):
    """As ``server_factory``, for a module-scoped server with special flags (a fresh state directory each call)."""
    factory = ServerFactory(lambda: tmp_path_factory.mktemp("state"))
    yield factory
    factory.stop_all()
