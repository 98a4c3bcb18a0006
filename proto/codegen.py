"""Regenerate the committed protobuf/gRPC modules, or check that they are fresh.

    python -m proto.codegen            # rewrite proto/descent_pb2*.py(i)
    python -m proto.codegen --check    # regenerate in a temp dir, exit 1 if different

protoc runs with the repository root as include path, so the generated modules
import each other as ``proto.descent_pb2`` (absolute imports, no sys.path tricks).
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

PROTO_DIR = Path(__file__).resolve().parent
REPO_ROOT = PROTO_DIR.parent
SOURCES = ["descent.proto"]
GENERATED_SUFFIXES = ["_pb2.py", "_pb2.pyi", "_pb2_grpc.py"]


def generate(out_dir: Path) -> list[Path]:
    """Run protoc on every source into ``out_dir``; return the generated files."""
    import grpc_tools
    from grpc_tools import protoc  # dev dependency: only needed to regenerate

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    for source in SOURCES:
        args = [
            "grpc_tools.protoc",
            f"-I{REPO_ROOT}",
            f"-I{well_known}",
            f"--python_out={out_dir}",
            f"--pyi_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            str(PROTO_DIR / source),
        ]
        if protoc.main(args) != 0:
            raise RuntimeError(f"protoc failed on {source}")
    return [
        out_dir / PROTO_DIR.name / (Path(s).stem + suffix)
        for s in SOURCES
        for suffix in GENERATED_SUFFIXES
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed code is stale")
    args = parser.parse_args(argv)
    if not args.check:
        generated = generate(REPO_ROOT)
        print("\n".join(str(p.relative_to(REPO_ROOT)) for p in generated))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        stale = []
        for fresh in generate(Path(tmp)):
            committed = PROTO_DIR / fresh.name
            if not committed.exists() or not filecmp.cmp(fresh, committed, shallow=False):
                stale.append(committed.relative_to(REPO_ROOT))
    if stale:
        print("stale generated code (run `python -m proto.codegen`): "
              + ", ".join(map(str, stale)), file=sys.stderr)
        return 1
    print("generated code is fresh")
    return 0


if __name__ == "__main__":
    sys.exit(main())
