"""The library never imports Streamlit; pages never import numpy or torch."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_core_imports_no_streamlit():
    code = (
        "import sys, importlib, pkgutil, embaug_core\n"
        "for m in pkgutil.iter_modules(embaug_core.__path__):\n"
        "    importlib.import_module('embaug_core.' + m.name)\n"
        "print('streamlit' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_core_source_has_no_streamlit_import():
    for path in (ROOT / "embaug_core").glob("*.py"):
        assert "streamlit" not in _imports(path), path


def test_pages_do_no_math():
    for path in list((ROOT / "pages").glob("*.py")) + [ROOT / "app.py"]:
        assert not _imports(path) & {"numpy", "torch"}, path


def test_no_unsafe_deserialisation():
    for path in list(ROOT.glob("embaug_core/*.py")) + list(ROOT.glob("pages/*.py")):
        text = path.read_text()
        assert "pickle" + ".load" not in text, path  # spelled apart so this file does not match itself
        assert "allow_pickle=True" not in text, path
        assert "torch.load(" not in text or "weights_only=True" in text, path
