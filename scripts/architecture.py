"""Draw the architecture picture (docs/architecture.svg) from the import contracts in pyproject.toml.

The layers contracts of ``[tool.importlinter]`` are the architecture; this script draws them, so the
picture cannot say something the contracts do not hold. Each box is a package or module with the first
line of its docstring; an arrow means "may import" and points down the layers. It writes
docs/architecture.dot (checked by tests/test_layout.py against the contracts) and, where Graphviz's
``dot`` is installed (Debian: graphviz), renders docs/architecture.svg:

    python scripts/architecture.py
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest's own dependency
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def _contracts() -> list[dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return [c for c in config["contracts"] if c["type"] == "layers"]


def _summary(module: str) -> str:
    """The first line of a module's or package's docstring, without its trailing full stop."""
    path = ROOT / Path(*module.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    first = re.split(r"\.\s+(?=[A-Z])", doc.split("\n\n")[0].replace("\n", " ").strip())[0].rstrip(".")
    first = first.split(": ", 1)[-1] if ": " in first else first
    first = first.replace("``", "")
    return first if len(first) <= 90 else ""  # a long one does not fit a box: the name alone


def _members(layer: str) -> list[str]:
    sep = "|" if "|" in layer else ":"
    return [m.strip() for m in layer.split(sep)]


def _node(layer: str) -> tuple[str, str]:
    """(node id, label) of one layer: one box naming every member, with its summary where it has one."""
    members = _members(layer)
    short = [m.split(".")[-1] for m in members]
    ident = "_".join(m.replace(".", "_") for m in members)
    summaries = [_summary(m) for m in members]
    if len(members) > 2 or not any(summaries):  # the base modules, or helpers without a short summary
        return ident, " · ".join(short)
    lines = [f"{s}\\n{_wrap(d)}".removesuffix("\\n") for s, d in zip(short, summaries, strict=True)]
    return ident, "\\n\\n".join(lines).replace('"', '\\"')


def _wrap(text: str, width: int = 44) -> str:
    words, lines, line = text.split(), [], ""
    for w in words:
        if line and len(line) + len(w) + 1 > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    return "\\n".join([*lines, line] if line else lines)


def dot_source() -> str:
    """The picture as Graphviz DOT text, drawn from the layers contracts."""
    out = [
        "// Written by scripts/architecture.py from the layers contracts in pyproject.toml; do not edit.",
        "digraph architecture {",
        '  graph [rankdir=TB, compound=true, fontname="Helvetica", fontsize=11, nodesep=0.3, ranksep=0.35];',
        '  node [shape=box, style="rounded,filled", fillcolor="#f4f6fb", fontname="Helvetica", fontsize=10];',
        '  edge [color="#55607a", arrowsize=0.7];',
        '  app [label="app.py\\nthe front door", fillcolor="#fff4dd"];',
    ]
    firsts = {}
    for i, contract in enumerate(_contracts()):
        layers = contract["layers"]
        package = layers[0].split(".")[0]
        out.append(f'  subgraph cluster_{i} {{ label="{package}"; style="rounded"; color="#9aa3b8";')
        nodes = [_node(layer) for layer in layers]
        for ident, label in nodes:
            out.append(f'    {ident} [label="{label}"];')
        out.append("  }")
        for (a, _), (b, _) in zip(nodes, nodes[1:], strict=False):
            out.append(f"  {a} -> {b};")
        firsts[package] = (nodes[0][0], nodes[-1][0], f"cluster_{i}")
    if "dashboard" in firsts and "embaug_core" in firsts:
        top, _, _ = firsts["dashboard"]
        core_top, _, core_cluster = firsts["embaug_core"]
        out.append(f"  app -> {top};")
        out.append(f'  {top} -> {core_top} [lhead={core_cluster}, label=" any package", fontsize=9];')
    out.append("}")
    return "\n".join(out) + "\n"


def main() -> int:
    dot_path = ROOT / "docs" / "architecture.dot"
    dot_path.write_text(dot_source())
    exe = shutil.which("dot")
    if exe is None:
        print(
            f"wrote {dot_path}; Graphviz's dot is not installed, so docs/architecture.svg is unchanged", file=sys.stderr
        )
        return 0
    svg = subprocess.run([exe, "-Tsvg", str(dot_path)], check=True, capture_output=True, text=True).stdout
    (ROOT / "docs" / "architecture.svg").write_text(svg)
    print(f"wrote {dot_path} and docs/architecture.svg", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
