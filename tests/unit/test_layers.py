"""The house's shape, held: inside server/, client/ and worker/ imports point from the edge down,
no module imports itself back through a loop, folders stay small and files short.

Each package's layers, top first; a module may import its own layer and any layer below it,
never one above. A layer is a sub-package (``server.rpc``) or a top-level module of the package
(``server.app``). The package ``__init__`` files say the same in words.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = ("proto", "formats", "worker", "server", "client", "descent")

LAYERS = {
    "server": [
        {"__main__", "app", "config"},  # the composition root
        {"rpc"},
        {"training"},
        {"analyses"},
        {"jobs"},
        {"state"},
        {"params"},
        {"cluster"},
        {"observe"},
        {"errors", "limits", "fields"},  # the ground
    ],
    "client": [
        {"__main__", "cli"},
        {"commands"},
        {"plots"},
        {"output"},
        {"connection"},
        {"rpc"},
        {"errors"},
    ],
    "descent": [
        {"session"},
        {"job"},
        {"results", "notes"},
        {"picture"},
        {"errors"},
    ],
    "worker": [
        {"task"},
        {"svm", "kernel", "numgrad", "checks", "fdiff", "verdict", "sweep", "minibatch", "landscape", "search",
         "compress"},
        {"data"},
    ],
}
#: Modules in one folder at most (``__init__`` not counted), and lines in one file.
MAX_MODULES_PER_FOLDER = 12
MAX_LINES = 300


def modules() -> dict[str, Path]:
    """Every module of ours by dotted name (a package by its own name)."""
    found = {}
    for package in OURS:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of ours that the module ``name`` imports (``from a import b`` names a.b when it is a module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known] or [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


GRAPH = {name: imports(name, path, modules()) for name, path in modules().items()}


def layer_of(package: str, module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != package or len(parts) < 2:
        return None
    for rank, layer in enumerate(LAYERS[package]):
        if parts[1] in layer:
            return rank
    raise AssertionError(f"{module} is in no layer of {package}: add it to LAYERS and say why in {package}/__init__.py")


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_imports_point_down(package):
    upward = []
    for module, targets in GRAPH.items():
        own = layer_of(package, module)
        if own is None:
            continue
        for target in targets:
            other = layer_of(package, target)
            if other is not None and other < own:
                upward.append(f"{module} -> {target}")
    assert not upward, f"imports that point up in {package}/: {sorted(upward)}"


def test_no_import_cycles():
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(GRAPH.get(node, ())):
            if state.get(target) == 1:
                cycles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[node] = 2

    for node in sorted(GRAPH):
        if node not in state:
            visit(node, [node])
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_every_sub_package_says_what_it_holds_and_may_import(package):
    silent = []
    for init in sorted((ROOT / package).rglob("__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        if init.parent != ROOT / package and "import" not in doc:
            silent.append(str(init.relative_to(ROOT)))
    assert not silent, f"sub-packages whose __init__ does not say what they may import: {silent}"


def test_folders_stay_small_and_files_short():
    per_folder: dict[Path, int] = {}
    long_files = []
    for path in modules().values():
        if path.name != "__init__.py":
            per_folder[path.parent] = per_folder.get(path.parent, 0) + 1
        lines = len(path.read_text().splitlines())
        if lines > MAX_LINES and "_pb2" not in path.name:
            long_files.append(f"{path.relative_to(ROOT)} ({lines})")
    crowded = {str(f.relative_to(ROOT)): n for f, n in per_folder.items() if n > MAX_MODULES_PER_FOLDER}
    assert not crowded, f"folders over {MAX_MODULES_PER_FOLDER} modules: {crowded}"
    assert not long_files, f"files over {MAX_LINES} lines: {long_files}"


def test_the_layer_table_names_only_what_exists():
    for package, layers in LAYERS.items():
        present = {p.stem if p.is_file() else p.name for p in (ROOT / package).iterdir() if p.suffix == ".py" or p.is_dir()}
        missing = set().union(*layers) - present
        assert not missing, f"LAYERS names what {package}/ does not have: {sorted(missing)}"
