"""Every `descent` command written in the README and docs/ parses as written: its subcommand,
options, choices and argument types are the CLI's own (checked with click, nothing is run).

A placeholder file (a model, an input image) that the reader brings is fine: only a missing
path is tolerated, never an unknown option or a bad value.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import warnings
from pathlib import Path

import click
import pytest

from client.cli import cli

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def descent_commands(text: str) -> list[list[str]]:
    """The argument lists of the `descent ...` commands in the text's fenced shell blocks."""
    found = []
    for block in re.findall(r"^```(?:sh|bash|shell)[ \t]*\n(.*?)^```", text.replace("\\\n", " "), re.S | re.M):
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            for part in re.split(r"\|\||&&|\||;", line):
                if not re.match(r"^\s*(?:[A-Z_]+=\S*\s+)*descent\s", part + " "):
                    continue
                words = shlex.split(part)
                while re.match(r"^[A-Z_]+=", words[0]):
                    words = words[1:]
                found.append(words[1:])
    return found


COMMANDS = [(doc.relative_to(ROOT), args) for doc in DOCS for args in descent_commands(doc.read_text())]


def test_the_docs_have_descent_commands():
    assert len(COMMANDS) > 40 and {str(doc) for doc, _ in COMMANDS} >= {"README.md", "docs/training.md"}


@pytest.mark.parametrize("doc, args", COMMANDS, ids=lambda v: " ".join(v) if isinstance(v, list) else str(v))
def test_each_documented_command_parses(doc, args):
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            context = cli.make_context("descent", list(args))
            with context:
                with warnings.catch_warnings():  # click 8.2 deprecates protected_args; 9 folds it into args
                    warnings.simplefilter("ignore", DeprecationWarning)
                    remaining = [*getattr(context, "protected_args", []), *context.args]
                name, command, rest = cli.resolve_command(context, remaining)
                command.make_context(name, rest, parent=context)
    except click.exceptions.Exit:  # --help, --version
        pass
    except click.BadParameter as error:
        assert "does not exist" in error.format_message(), f"{doc}: descent {' '.join(args)}: {error.format_message()}"
    except click.ClickException as error:
        pytest.fail(f"{doc}: descent {' '.join(args)}: {error.format_message()}")
