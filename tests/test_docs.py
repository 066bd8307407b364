"""The README's and the docs' Python examples stay true to the API: each compiles, and every name it
imports from embaug_core exists where it says (running them trains heads: the README's is run by hand,
and its numbers are not quoted)."""

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCKS = [(page, block) for page in PAGES for block in re.findall(r"```python\n(.*?)```", page.read_text(), re.S)]


def test_there_are_examples_to_check():
    assert sum(page.name == "README.md" for page, _ in BLOCKS) >= 1 and len(BLOCKS) >= 5


@pytest.mark.parametrize("page, block", BLOCKS, ids=[f"{p.relative_to(ROOT)}#{i}" for i, (p, _) in enumerate(BLOCKS)])
def test_each_python_example_compiles_and_imports_what_exists(page, block):
    tree = ast.parse(block, filename=str(page))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("embaug_core"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name) or importlib.util.find_spec(f"{node.module}.{alias.name}"), (
                    f"{page.relative_to(ROOT)}: {node.module} has no {alias.name}"
                )
