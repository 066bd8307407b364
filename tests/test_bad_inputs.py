"""The bad-input corpus through the CLI: exit status 2, one specific line, nothing written."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from embaug_core.cli import main

HERE = Path(__file__).resolve().parent / "bad_inputs"
sys.path.insert(0, str(HERE))
from cases import CASES  # noqa: E402


def test_the_corpus_is_complete():
    files = sorted(p.name for p in HERE.iterdir() if p.is_file() and p.suffix != ".py")
    assert sorted(c[0] for c in CASES) == files
    assert len(files) >= 25


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("model")
    (d / "good.csv").write_text("label,e0,e1,e2\n" + "\n".join(f"c{i % 3},{i}.0,{i % 2}.5,{-i}.25" for i in range(12)))
    assert main(["train", str(d / "good.csv"), "--label-col", "label", "--epochs", "1", "--out", str(d / "m")]) == 0
    return d


@pytest.mark.parametrize("name, kind, message", CASES, ids=[c[0] for c in CASES])
def test_cli_reports_each_bad_file_in_one_line(name, kind, message, model_dir, tmp_path, capsys):
    path = str(HERE / name)
    out = tmp_path / "out"
    good_zip = Path(__file__).resolve().parent.parent / "sample_data" / "fashion_mnist_300.zip"
    args = {
        "table": ["train", path, "--label-col", "label", "--epochs", "1", "--out", str(out)]
        + (["--id-col", "id"] if name == "duplicate_ids.csv" else []),
        "images": [
            "embed",
            "images",
            path,
            "--weights",
            "random",
            "--device",
            "cpu",
            "--no-cache",
            "--out",
            f"{out}.csv",
        ],
        "weights": ["embed", "images", str(good_zip), "--weights", path, "--no-cache", "--out", f"{out}.csv"],
        "threshold": [
            "predict",
            str(model_dir / "m"),
            str(model_dir / "good.csv"),
            "--threshold",
            path,
            "--out",
            f"{out}.csv",
        ],
    }[kind]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("embaug ") and "Traceback" not in err
    assert not out.exists() and not Path(f"{out}.csv").exists()  # nothing half-written
