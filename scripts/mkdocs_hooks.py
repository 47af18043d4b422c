"""MkDocs hooks (``hooks:`` in mkdocs.yml): parts of pages written from the code at build time, so they cannot drift.

Markers a page may hold, each on a line of its own:

- ``<!-- googlenet:differences -->``: the table of deliberate differences in the docstring of
  ``googlenet.models.googlenet`` (a reStructuredText simple table), as a Markdown table.
- ``<!-- googlenet:recipes -->``: every recipe in ``src/googlenet/recipes/`` with its opening comment (its command
  and its evidence).
- ``<!-- googlenet:cli -->``: ``googlenet COMMAND --help`` for every subcommand, at 100 columns.

Docstrings keep their Sphinx cross-reference roles (``:class:`~a.B```); after mkdocstrings renders them, the roles are
shown as plain code (``B``). A marker whose source is missing stops the build with the reason. The training config's
page, ``docs/config.md``, is generated from the schema (``python -m googlenet.config.docs``) and kept current by
``tests/test_config.py``.
"""

from __future__ import annotations

import ast
import contextlib
import html
import io
import itertools
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "googlenet"
MARKER = re.compile(r"^<!-- googlenet:([a-z-]+) -->$", re.M)


class HookError(RuntimeError):
    """A marker whose source cannot be read."""


def on_page_markdown(markdown: str, page, config, files) -> str:
    return MARKER.sub(lambda m: _render(m.group(1)), markdown)


def _render(name: str) -> str:
    if name == "differences":
        return differences_table()
    if name == "recipes":
        return recipes()
    if name == "cli":
        return cli_help()
    raise HookError(f"unknown marker <!-- googlenet:{name} -->")


# ---------------------------------------------------------------- the GoogLeNet docstring's table
def rst_simple_table(text: str) -> list[list[str]]:
    """The first reStructuredText simple table in ``text`` as rows of cells (header first).

    Columns are the runs of ``=`` of the ruler lines; a line whose first column is blank continues the row above.
    """
    lines = text.splitlines()
    rulers = [i for i, line in enumerate(lines) if re.fullmatch(r"=+( +=+)+", line.strip())]
    if len(rulers) < 3:
        raise HookError("no reStructuredText simple table (three ruler lines of '=') found")
    indent = len(lines[rulers[0]]) - len(lines[rulers[0]].lstrip())
    spans = [(m.start() + indent, m.end() + indent) for m in re.finditer(r"=+", lines[rulers[0]].strip())]
    starts = [*(s for s, _ in spans), None]  # line[a:None]: the last column runs to the end of the line

    def cells(line: str) -> list[str]:
        return [line[a:b].strip() for a, b in itertools.pairwise(starts)]

    rows = [cells(line) for line in lines[rulers[0] + 1 : rulers[1]]][:1]
    for line in lines[rulers[1] + 1 : rulers[2]]:
        if not line.strip():
            continue
        values = cells(line)
        if values[0] or len(rows) == 1:
            rows.append(values)
        else:
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], values, strict=True)]
    return rows


def markdown_table(rows: list[list[str]]) -> str:
    def cell(text: str) -> str:
        """``code`` as Markdown code; ``<`` and ``>`` outside code escaped (``last_rank<r>`` is no HTML tag)."""
        parts = re.split(r"(``.+?``|`[^`]+`)", text)
        out = [f"`{p.strip('`')}`" if p.startswith("`") else html.escape(p, quote=False) for p in parts]
        return "".join(out).replace("|", "\\|")

    out = ["| " + " | ".join(cell(c) for c in rows[0]) + " |", "|" + "---|" * len(rows[0])]
    return "\n".join(out + ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows[1:]])


def differences_table() -> str:
    path = SRC / "models" / "googlenet.py"
    doc = ast.get_docstring(ast.parse(path.read_text()))
    if not doc:
        raise HookError(f"{path} has no module docstring")
    return markdown_table(rst_simple_table(doc))


# ---------------------------------------------------------------- recipes and their evidence
def recipes() -> str:
    parts = []
    for path in sorted((SRC / "recipes").glob("*.yaml")):
        head = []
        for line in path.read_text().splitlines():
            if not line.startswith("#"):
                break
            head.append(line[2:] if line.startswith("# ") else line[1:])
        parts.append(f"### `{path.stem}`\n\n```text\n" + "\n".join(head).strip("\n") + "\n```")
    if not parts:
        raise HookError(f"no recipes in {SRC / 'recipes'}")
    return "\n\n".join(parts)


# ---------------------------------------------------------------- the command line
def cli_help() -> str:
    os.environ["COLUMNS"] = "100"  # argparse wraps at the terminal's width; fix it for a reproducible page
    if str(ROOT / "src") not in sys.path:
        sys.path.insert(0, str(ROOT / "src"))  # the tree being built, not another installed copy
    from googlenet.cli import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    parts = ["```text\n" + parser.format_help().rstrip() + "\n```"]
    for name, command in sorted(sub.choices.items()):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            command.print_help()
        parts.append(f"### `googlenet {name}`\n\n```text\n{buf.getvalue().rstrip()}\n```")
    return "\n\n".join(parts)


# ---------------------------------------------------------------- Sphinx roles in rendered docstrings
ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc|obj):<code>(~?)([^<]+)</code>")


def _role(m: re.Match) -> str:
    target = m.group(2)
    return f"<code>{target.rsplit('.', 1)[-1] if m.group(1) else target}</code>"


def on_page_content(html: str, page, config, files) -> str:
    html = ROLE.sub(_role, html)
    return html.replace("::</p>", ":</p>")
