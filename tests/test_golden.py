"""Golden numbers: a fixed-seed experiment's results.json and a saved head's predictions, byte for byte.

Pinned before the codebase was reorganised by concept (issue 25) and kept since: a change of layout,
names or records must not change a single number. The run goes through the ``embaug`` command, whose
commands and flags are the stable surface, on a 20-class slice of the bundled sample:

* ``embaug experiment`` (auto recipe; control, E-Stitchup and the auto method; all three peers; one
  trial): ``results.json`` with its timings zeroed (they are the only thing that may differ);
* ``embaug train`` (E-Stitchup, auto recipe), ``evaluate`` (heuristics 1-3) and ``predict`` with three
  scores: the head's weights and score bank (SHA-256), ``metrics.json`` and the predictions, byte for byte.

The references are kept per platform: the CPU's instruction set and the auto recipe's training precision
there (bfloat16 on a CPU fast at it, else float32), e.g. ``AVX512 bfloat16``. Floating-point kernels
differ between instruction sets, and bfloat16 against float32 changes which epoch a head stops at, so
a set holds only on its own platform. ``tests/golden/`` holds the main set (its platform in
``platform.txt``; the other tests read its ``experiment_results.json`` for the records' layout) and
``tests/golden/platforms/<platform>/`` the others. On a platform that has a set, every output is
compared byte for byte; on one that has none the test is skipped and says how to add one (comparing
to a tolerance across instruction sets does not work: after 96 epochs the rounding of another kernel
moves a head's best epoch, and every number after it). To write this platform's set anew after a
change that is *meant* to change numbers: ``EMBAUG_WRITE_GOLDEN=1 python -m pytest tests/test_golden.py``;
that makes this platform's set the main one and removes the other platforms' sets, which no longer
hold. To add this platform's set beside the main one when no number is meant to change:
``EMBAUG_WRITE_GOLDEN_PLATFORM=1``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from embaug_core.cli import main

GOLDEN = Path(__file__).resolve().parent / "golden"
SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "clinc150_minilm.npz"
WRITE = os.environ.get("EMBAUG_WRITE_GOLDEN") == "1"
#: add this platform's set beside the main one, for a platform that has none (numbers meant unchanged)
WRITE_PLATFORM = os.environ.get("EMBAUG_WRITE_GOLDEN_PLATFORM") == "1"
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
    """This CPU's instruction set and the auto recipe's training precision on it, e.g. "AVX512 bfloat16"."""
    from conftest import auto_precision

    return f"{torch.backends.cpu.get_cpu_capability()} {auto_precision()}"


def _sets() -> dict[str, Path]:
    """Every golden set on disk by its platform: the main one, then tests/golden/platforms/*."""
    main_platform = (GOLDEN / "platform.txt").read_text().strip()
    found = {main_platform: GOLDEN}
    for folder in sorted((GOLDEN / "platforms").glob("*")):
        found.setdefault(folder.name.replace("_", " "), folder)
    return found


def test_golden_outputs_are_unchanged(outputs):
    platform = _platform()
    if WRITE or WRITE_PLATFORM:
        if WRITE:  # numbers meant to change: this platform's set is the main one; the others no longer hold
            target = GOLDEN
            shutil.rmtree(GOLDEN / "platforms", ignore_errors=True)
            target.mkdir(exist_ok=True)
            (GOLDEN / "platform.txt").write_text(platform + "\n")
        else:  # numbers unchanged: this platform's set beside the main one
            assert (GOLDEN / "platform.txt").read_text().strip() != platform, "this platform's set is the main one"
            target = GOLDEN / "platforms" / platform.replace(" ", "_")
            target.mkdir(parents=True, exist_ok=True)
        for name, text in outputs.items():
            (target / name).write_text(text)
        pytest.skip(f"golden outputs for {platform} written in {target}; run again without the variable to compare")
    sets = _sets()
    if platform in sets:
        for name, text in outputs.items():
            assert text == (sets[platform] / name).read_text(), f"{name} differs from {sets[platform] / name}"
        return
    pytest.skip(
        f"no golden outputs for {platform} (there are: {', '.join(sets)}); to add them when no number is "
        "meant to change: EMBAUG_WRITE_GOLDEN_PLATFORM=1 python -m pytest tests/test_golden.py"
    )
