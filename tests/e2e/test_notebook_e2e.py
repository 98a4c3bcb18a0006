"""examples/notes_tour.ipynb, executed headless as CI runs it: nbclient with an ipykernel against an
embedded server. Any cell's error fails the test; the notebook is committed without outputs; the
executed one holds the notes' pictures; and once the kernel is gone nothing it started runs.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from tests.e2e.test_python_api_e2e import still_running

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "notes_tour.ipynb"


def test_the_notebook_is_committed_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


def test_the_notes_tour_executes_and_draws_its_pictures(tmp_path, monkeypatch):
    marker = uuid.uuid4().hex
    monkeypatch.setenv("DESCENT_TEST_MARK", marker)  # the kernel, its server and Ray inherit it
    monkeypatch.setenv("DESCENT_STATE_DIR", str(tmp_path / "state"))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    pictures = {
        index for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"
        for output in cell.outputs if "image/png" in output.get("data", {})
    }
    assert len(pictures) >= 8, f"cells with a picture: {sorted(pictures)}"
    shown = "\n".join(out.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs)
    assert "coordinates sit on a kink" in shown and "random local search:" in shown
    left = still_running(f"DESCENT_TEST_MARK={marker}")
    assert not left, f"the notebook's server (or Ray) outlived its kernel: {left}"
