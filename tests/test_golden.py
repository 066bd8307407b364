"""Golden numbers: a fixed-seed experiment's results.json and a saved head's predictions, byte for byte.

Pinned before the codebase was reorganised by concept (issue 25) and kept since: a change of layout,
names or records must not change a single number. The run goes through the ``embaug`` command, whose
commands and flags are the stable surface, on a 20-class slice of the bundled sample:

* ``embaug experiment`` (auto recipe; control, E-Stitchup and the auto method; all three peers; one
  trial): ``results.json`` with its timings zeroed (they are the only thing that may differ);
* ``embaug train`` (E-Stitchup, auto recipe), ``evaluate`` (heuristics 1-3) and ``predict`` with three
  scores: the head's weights and score bank (SHA-256), ``metrics.json`` and the predictions, byte for byte.

The references in ``tests/golden/`` were written on an AVX-512 CPU with one torch thread. Floating-point
kernels differ between instruction sets, so on another CPU the numbers are compared to 1e-6 instead of
bit for bit (and the weights' hashes are not compared). To write them anew after a change that is
*meant* to change numbers: ``EMBAUG_WRITE_GOLDEN=1 python -m pytest tests/test_golden.py``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from embaug_core.cli import main

GOLDEN = Path(__file__).resolve().parent / "golden"
SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "clinc150_minilm.npz"
WRITE = os.environ.get("EMBAUG_WRITE_GOLDEN") == "1"
#: keys whose values are wall-clock times: zeroed before comparing
TIMINGS = {"wall_seconds", "train_seconds", "elapsed_s", "seconds"}


def _slice(path: Path) -> Path:
    """The first 20 intents of the bundled sample (2,000 rows) as NPZ."""
    d = np.load(SAMPLE, allow_pickle=False)
    keep = np.isin(d["intent"], np.unique(d["intent"])[:20])
    np.savez(path, embeddings=d["embeddings"][keep], id=d["id"][keep], intent=d["intent"][keep])
    return path


def _canonical(obj, paths: dict[str, str]):
    """``obj`` with timings zeroed and this run's temporary paths replaced by fixed names."""
    if isinstance(obj, dict):
        return {k: 0 if k in TIMINGS else _canonical(v, paths) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_canonical(v, paths) for v in obj]
    if isinstance(obj, str):
        for real, name in paths.items():
            obj = obj.replace(real, name)
    return obj


def _json_text(path: Path, paths: dict[str, str]) -> str:
    return json.dumps(_canonical(json.loads(path.read_text()), paths), indent=2) + "\n"  # the written key order


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(*argv: str) -> None:
    assert main([str(a) for a in argv]) == 0, argv


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, str]:
    """Every golden output of this checkout, as text (file name -> content)."""
    tmp = tmp_path_factory.mktemp("golden")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        data = _slice(tmp / "slice.npz")
        cols = ["--label-col", "intent", "--id-col", "id"]
        common = [*cols, "--train-fraction", "0.3", "--unseen-classes", "3", "--seed", "0"]
        _run(
            "experiment",
            data,
            *common,
            "--methods",
            "control,e_stitchup,auto",
            "--trials",
            "1",
            "--baselines",
            "control_ts,logreg,logreg_ts",
            "--threads",
            "1",
            "--out",
            tmp / "exp",
        )
        _run("split", data, *common, "--out", tmp / "split")
        _run("train", tmp / "split" / "train.parquet", *cols, "--method", "e_stitchup", "--out", tmp / "head")
        _run(
            "evaluate",
            tmp / "head",
            tmp / "split" / "eval.parquet",
            *cols,
            "--max-false-rejection",
            "0.05",
            "--out",
            tmp / "eval",
        )
        guaranteed = ["--threshold", tmp / "eval" / "threshold_guaranteed.json"]
        how = {s: ["--score", s, "--threshold", "0.3"] for s in ("max_prob", "knn", "fused")} | {
            "guaranteed": guaranteed
        }
        for name, args in how.items():
            _run(
                "predict",
                tmp / "head",
                tmp / "split" / "eval.parquet",
                "--id-col",
                "id",
                *args,
                "--out",
                tmp / f"predict_{name}.csv",
            )
    finally:
        torch.set_num_threads(threads)
    paths = {str(tmp): "TMP"}
    out = {
        "experiment_results.json": _json_text(tmp / "exp" / "results.json", paths),
        "head.json": _json_text(tmp / "head" / "head.json", paths),
        "metrics.json": _json_text(tmp / "eval" / "metrics.json", paths),
        "weights.sha256": f"head.safetensors {_sha256(tmp / 'head' / 'head.safetensors')}\n"
        f"scores.safetensors {_sha256(tmp / 'head' / 'scores.safetensors')}\n",
    }
    for score in ("max_prob", "knn", "fused", "guaranteed"):
        out[f"predict_{score}.csv"] = (tmp / f"predict_{score}.csv").read_text()
    return out


def _platform() -> str:
    return f"{torch.backends.cpu.get_cpu_capability()}\n"


def _numbers_close(a: str, b: str, name: str) -> None:
    """Same text up to numbers that differ by at most 1e-6 (relative or absolute)."""
    import re

    number = re.compile(r"-?\d+\.\d+(?:[eE][-+]?\d+)?")
    assert number.sub("#", a) == number.sub("#", b), f"{name}: differs beyond its numbers"
    for x, y in zip(number.findall(a), number.findall(b), strict=True):
        assert math.isclose(float(x), float(y), rel_tol=1e-6, abs_tol=1e-6), f"{name}: {x} against {y}"


def test_golden_outputs_are_unchanged(outputs):
    if WRITE:
        GOLDEN.mkdir(exist_ok=True)
        for name, text in outputs.items():
            (GOLDEN / name).write_text(text)
        (GOLDEN / "platform.txt").write_text(_platform())
        pytest.skip("golden outputs written; run again without EMBAUG_WRITE_GOLDEN to compare")
    exact = (GOLDEN / "platform.txt").read_text() == _platform()
    for name, text in outputs.items():
        expected = (GOLDEN / name).read_text()
        if exact:
            assert text == expected, f"{name} differs from tests/golden/{name}"
        elif name != "weights.sha256":
            _numbers_close(text, expected, name)
