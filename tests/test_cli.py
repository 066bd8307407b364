import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT as ROOT_DIR
from conftest import blob_frame

from embaug_core.cli import main


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    frame = blob_frame(n_classes=6, per_class=40, dim=16)
    known = frame["label"].isin(["c0", "c1", "c2", "c3"])
    frame[known].to_csv(d / "train.csv", index=False)
    frame.to_csv(d / "eval.csv", index=False)
    frame.drop(columns=["label"]).to_csv(d / "unlabelled.csv", index=False)
    return d


def run(args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_train_evaluate_predict_round_trip(files, capsys):
    d = files
    code, _, err = run(
        [
            "train",
            d / "train.csv",
            "--label-col",
            "label",
            "--id-col",
            "item",
            "--method",
            "e_stitchup",
            "--epochs",
            "24",
            "--out",
            d / "model",
        ],
        capsys,
    )
    assert code == 0, err
    assert (d / "model" / "head.safetensors").exists()

    code, out, err = run(
        ["evaluate", d / "model", d / "eval.csv", "--label-col", "label", "--id-col", "item", "--out", d / "ev"], capsys
    )
    assert code == 0, err
    metrics = json.loads((d / "ev" / "metrics.json").read_text())
    assert metrics["n_none"] == 80 and metrics["n_id"] == 160
    assert metrics["auroc"] > 0.9
    for key in ("ece", "mce", "ece_equal_mass", "brier", "nll", "confidence_accuracy_correlation", "reliability"):
        assert key in metrics["calibration"]
    for h in ("intersection", "ratio"):
        assert 0 <= metrics["heuristics"][h]["threshold"] <= 1
        assert "overall_accuracy" in metrics["heuristics"][h]["at_threshold"]
    sweep = pd.read_csv(d / "ev" / "curves" / "threshold_sweep.csv")
    assert len(sweep) == 1001 and {"id_accuracy", "none_accuracy", "overall_accuracy", "mean_ratio"} <= set(
        sweep.columns
    )
    assert (d / "ev" / "curves" / "reliability.csv").exists()

    # predict with the exported threshold file: its threshold is the one in metrics.json
    tfile = d / "ev" / "threshold_ratio.json"
    code, _, err = run(
        [
            "predict",
            d / "model",
            d / "unlabelled.csv",
            "--id-col",
            "item",
            "--threshold",
            tfile,
            "--out",
            d / "preds.csv",
        ],
        capsys,
    )
    assert code == 0, err
    preds = pd.read_csv(d / "preds.csv")
    assert list(preds.columns[:3]) == ["id", "prediction", "confidence"]
    assert {"top1_class", "top1_prob", "top3_class", "top3_prob"} <= set(preds.columns)
    t = metrics["heuristics"]["ratio"]["threshold"]
    expect_none = preds["confidence"] < t
    assert ((preds["prediction"] == "none") == expect_none).all()
    assert (preds.loc[~expect_none, "prediction"] == preds.loc[~expect_none, "top1_class"]).all()
    assert preds["id"].iloc[0] == "row0"

    # with a plain number
    code, _, _ = run(
        ["predict", d / "model", d / "unlabelled.csv", "--threshold", "1.0", "--out", d / "p1.csv"], capsys
    )
    assert code == 0
    assert (pd.read_csv(d / "p1.csv")["prediction"] == "none").mean() > 0.9


def test_experiment_command(files, capsys):
    d = files
    code, out, err = run(
        [
            "experiment",
            d / "eval.csv",
            "--label-col",
            "label",
            "--methods",
            "control,e_mixup",
            "--trials",
            "2",
            "--epochs",
            "4",
            "--train-fraction",
            "0.3",
            "--unseen-classes",
            "2",
            "--alphas",
            "0.4",
            "--removed-classes",
            "1",
            "--out",
            d / "exp",
        ],
        capsys,
    )
    assert code == 0, err
    assert "Table 1" in out and "Comparison" in out
    res = json.loads((d / "exp" / "results.json").read_text())
    assert [r["method"] for r in res["tables"]["table1"]] == [
        "Control",
        "E-Mixup",
        "Control + TS",
        "LogReg",
        "LogReg + TS",
    ]
    assert (d / "exp" / "table3.csv").exists() and (d / "exp" / "comparison.csv").exists()
    report = (d / "exp" / "report.html").read_text()
    for fig in ("Fig. 3", "Fig. 4", "Fig. 5", "Fig. 6", "Fig. 7"):
        assert fig in report
    assert "plotly.js v" in report and 'src="https://cdn.plot.ly' not in report  # embedded: opens offline


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "{d}/train.csv", "--label-col", "nope", "--out", "{d}/m2"], "no label column 'nope'"),
        (["train", "{d}/train.csv", "--label-col", "label", "--method", "mixup", "--out", "{d}/m2"], "unknown method"),
        (["train", "{d}/missing.csv", "--label-col", "label", "--out", "{d}/m2"], "no such file"),
        (
            ["predict", "{d}/nomodel", "{d}/eval.csv", "--threshold", "0.5", "--out", "{d}/p.csv"],
            "no such model folder",
        ),
        (["experiment", "{d}/eval.csv", "--label-col", "label", "--alphas", "a,b", "--out", "{d}/x"], "--alphas"),
        (
            ["train", "{d}/train.csv", "--label-col", "label", "--outlier-exposure", "--out", "{d}/m2"],
            "--outlier-exposure trains on the rows of --none-examples",
        ),
        (["train", "{d}/train.csv", "--label-col", "label", "--ensemble", "0", "--out", "{d}/m2"], "--ensemble must"),
    ],
)
def test_bad_input_exits_2_with_one_line(files, capsys, args, message):
    code, _, err = run([a.format(d=files) for a in args], capsys)
    assert code == 2
    assert message in err
    assert err.strip().count("\n") == 0 and "Traceback" not in err


def test_predict_refuses_bad_thresholds(files, capsys):
    d = files
    if not (d / "model").exists():
        main(["train", str(d / "train.csv"), "--label-col", "label", "--epochs", "2", "--out", str(d / "model")])
    code, _, err = run(["predict", d / "model", d / "eval.csv", "--threshold", "1.5", "--out", d / "p.csv"], capsys)
    assert code == 2 and "[0, 1]" in err
    bad = d / "bad_threshold.json"
    bad.write_text(json.dumps({"schema": "embaug.threshold", "version": 1, "threshold": 2}))
    code, _, err = run(["predict", d / "model", d / "eval.csv", "--threshold", bad, "--out", d / "p.csv"], capsys)
    assert code == 2 and "missing field" in err
    assert not (d / "p.csv").exists()  # nothing written on failure


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "embaug_core.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for cmd in ("train", "evaluate", "predict", "experiment", "dashboard"):
        assert cmd in out.stdout


def test_split_command_applies_the_protocol(files, capsys, tmp_path):
    code, _, err = run(
        [
            "split",
            files / "eval.csv",
            "--label-col",
            "label",
            "--id-col",
            "item",
            "--train-fraction",
            "0.5",
            "--unseen-classes",
            "c1,c4",
            "--format",
            "csv",
            "--out",
            tmp_path / "s",
        ],
        capsys,
    )
    assert code == 0, err
    train = pd.read_csv(tmp_path / "s" / "train.csv")
    ev = pd.read_csv(tmp_path / "s" / "eval.csv")
    assert len(train) + len(ev) == 240 and set(train["item"]).isdisjoint(ev["item"])
    assert not {"c1", "c4"} & set(train["label"])
    info = json.loads((tmp_path / "s" / "split.json").read_text())
    assert {"c1", "c4"} <= set(info["none_classes"]) and info["n_train"] == len(train)
    # the written tables load back with their text column kept
    assert "text" in train.columns and "emb_15" in train.columns


def test_embed_text_and_images_commands(capsys, tmp_path):
    from test_embed import IMAGES, _zip

    raw = ROOT_DIR / "sample_data" / "clinc150_raw.csv"
    code, _, err = run(
        [
            "embed",
            "text",
            raw,
            "--text-col",
            "text",
            "--label-col",
            "intent",
            "--no-cache",
            "--out",
            tmp_path / "raw.parquet",
        ],
        capsys,
    )
    assert code == 0, err
    emb = pd.read_parquet(tmp_path / "raw.parquet")
    assert emb.shape == (300, 2 + 1 + 384) and {"intent", "text"} <= set(emb.columns)
    # the output is an embedding table the rest of embaug loads
    from embaug_core.data.table import load_embeddings

    ds = load_embeddings(tmp_path / "raw.parquet", label_col="intent", id_col="id", embedding_cols="emb_")
    assert ds.dim == 384

    (tmp_path / "imgs.zip").write_bytes(_zip(IMAGES))
    code, _, err = run(
        [
            "embed",
            "images",
            tmp_path / "imgs.zip",
            "--weights",
            "random",
            "--device",
            "cpu",
            "--no-cache",
            "--out",
            tmp_path / "imgs.csv",
        ],
        capsys,
    )
    assert code == 0, err
    assert "skipped data/blue/readme.txt: not an image file name" in err
    assert "skipped blue/broken.jpg: not a readable image" in err
    assert len(pd.read_csv(tmp_path / "imgs.csv")) == 3


@pytest.mark.parametrize(
    "args, message",
    [
        (["embed", "text", "{raw}", "--text-col", "nope", "--out", "{tmp}/x.csv"], "no text column 'nope'"),
        (
            ["embed", "text", "{raw}", "--text-col", "text", "--model", "{tmp}/missing", "--out", "{tmp}/x.csv"],
            "never downloads",
        ),
        (["embed", "text", "{raw}", "--text-col", "text", "--out", "{tmp}/x.txt"], "use a .csv, .parquet or .npz"),
        (["embed", "images", "{tmp}/missing.zip", "--out", "{tmp}/x.csv"], "no such ZIP file or folder"),
    ],
)
def test_embed_errors_are_one_line(capsys, tmp_path, args, message):
    raw = ROOT_DIR / "sample_data" / "clinc150_raw.csv"
    code, _, err = run([a.format(raw=raw, tmp=tmp_path) for a in args], capsys)
    assert code == 2 and message in err and "Traceback" not in err


def test_same_seed_gives_identical_numbers_end_to_end(files, capsys, tmp_path):
    args = [
        "experiment",
        files / "eval.csv",
        "--label-col",
        "label",
        "--methods",
        "control,e_stitchup",
        "--baselines",
        "none",
        "--trials",
        "1",
        "--epochs",
        "3",
        "--train-fraction",
        "0.3",
        "--unseen-classes",
        "2",
        "--alphas",
        "0.4",
        "--removed-classes",
        "1",
        "--seed",
        "5",
    ]
    assert run([*args, "--out", tmp_path / "a"], capsys)[0] == 0
    assert run([*args, "--out", tmp_path / "b"], capsys)[0] == 0
    a = json.loads((tmp_path / "a" / "results.json").read_text())
    b = json.loads((tmp_path / "b" / "results.json").read_text())
    assert a["tables"] == b["tables"]
    assert [r["calibration"] for r in a["records"]] == [r["calibration"] for r in b["records"]]
    assert (tmp_path / "a" / "table1.csv").read_bytes() == (tmp_path / "b" / "table1.csv").read_bytes()


def test_scores_and_the_guaranteed_threshold_end_to_end(files, capsys, tmp_path):
    """evaluate --score knn --max-false-rejection writes a guaranteed threshold in kNN units;
    predict applies the file's score, refuses another --score, and evaluate works on known rows only."""
    d = files
    frame = blob_frame(n_classes=6, per_class=40, dim=16)
    frame[frame["label"].isin(["c4", "c5"])].drop(columns=["label"]).to_csv(tmp_path / "none.csv", index=False)
    known = frame[frame["label"].isin(["c0", "c1", "c2", "c3"])]
    known.to_csv(tmp_path / "known.csv", index=False)
    model = tmp_path / "model"
    code, _, err = run(
        ["train", d / "train.csv", "--label-col", "label", "--id-col", "item", "--epochs", "6", "--out", model],
        capsys,
    )
    assert code == 0, err
    assert (model / "scores.safetensors").exists()

    ev = tmp_path / "ev"
    args = ["evaluate", model, d / "eval.csv", "--label-col", "label", "--id-col", "item", "--score", "knn"]
    code, out, err = run([*args, "--max-false-rejection", "0.05", "--confidence-level", "0.9", "--out", ev], capsys)
    assert code == 0, err
    doc = json.loads((ev / "threshold_guaranteed.json").read_text())
    assert doc["score"] == "knn" and doc["source"] == "guaranteed"
    assert doc["guarantee"]["alpha"] == 0.05 and doc["guarantee"]["delta"] == pytest.approx(0.1)
    assert doc["guarantee"]["n"] == 160 and doc["score_params"]["knn_k"] >= 1
    assert "with 90% confidence, from 160 held-out known rows" in out
    metrics = json.loads((ev / "metrics.json").read_text())
    assert set(metrics["none_scores"]) == {"max_prob", "energy", "knn", "mahalanobis", "fused"}
    assert metrics["none_scores"]["knn"]["auroc"] > 0.9  # well-separated blobs
    # the guarantee's own count: at most k - 1 of the n rows it was computed on are rejected
    preds = tmp_path / "p.csv"
    code, _, err = run(
        ["predict", model, tmp_path / "known.csv", "--id-col", "item", "--threshold"]
        + [ev / "threshold_guaranteed.json", "--out", preds],
        capsys,
    )
    assert code == 0, err
    assert "score knn" in err
    p = pd.read_csv(preds)
    assert (p["prediction"] == "none").sum() <= doc["guarantee"]["k"] - 1
    assert ((p["prediction"] == "none") == (p["confidence"] < doc["threshold"])).all()
    # another score than the file's is refused, nothing written
    code, _, err = run(
        ["predict", model, tmp_path / "known.csv", "--threshold", ev / "threshold_guaranteed.json", "--score"]
        + ["max_prob", "--out", tmp_path / "q.csv"],
        capsys,
    )
    assert code == 2 and "--score max_prob does not match" in err and not (tmp_path / "q.csv").exists()

    # known rows only: heuristics 1 and 2 are skipped with a note, heuristic 3 still works;
    # --none-examples refits the fused weight against these known rows
    code, out, err = run(
        ["evaluate", model, tmp_path / "known.csv", "--label-col", "label", "--id-col", "item", "--score", "fused"]
        + ["--max-false-rejection", "0.1", "--none-examples", tmp_path / "none.csv", "--out", tmp_path / "ev2"],
        capsys,
    )
    assert code == 0, err
    assert "note:" in err and (tmp_path / "ev2" / "threshold_guaranteed.json").exists()
    assert not (tmp_path / "ev2" / "threshold_ratio.json").exists()
    doc2 = json.loads((tmp_path / "ev2" / "threshold_guaranteed.json").read_text())
    assert doc2["score"] == "fused" and len(doc2["score_params"]["fused_z"]) == 2
    # the weight was fitted on half of the rows, the guarantee computed on the other half
    assert "the fused weight is fitted on half of DATA's rows" in err and doc2["guarantee"]["n"] == 80


def test_runs_commands(files, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("EMBAUG_HOME", str(tmp_path / "home"))
    d = files
    args = ["experiment", d / "eval.csv", "--label-col", "label", "--id-col", "item", "--methods", "control"]
    args += ["--baselines", "none", "--trials", "1", "--epochs", "2", "--unseen-classes", "1", "--removed-classes", "1"]
    code, _, err = run([*args, "--out", tmp_path / "x", "--save-run", "my first run"], capsys)
    assert code == 0, err
    code, out, _ = run(["runs", "list"], capsys)
    lines = out.strip().splitlines()
    assert lines[0].startswith("id\t") and len(lines) == 2
    run_id = lines[1].split("\t")[0]
    assert "my first run" in lines[1] and "complete" in lines[1]
    code, out, _ = run(["runs", "show", run_id], capsys)
    shown = json.loads(out)
    assert shown["id"] == run_id and shown["methods"] == ["control"] and "auroc" in shown["metrics"]["control"]
    from embaug_core.runs.store import RunStore

    assert RunStore().load(run_id).artifacts[("control", 0)].head is not None  # reopenable: heads saved
    code, _, err = run(["runs", "export", run_id, "--out", tmp_path / "run.zip"], capsys)
    assert code == 0 and (tmp_path / "run.zip").exists()
    code, _, err = run(["runs", "delete", run_id], capsys)
    assert code == 0 and run(["runs", "list"], capsys)[1].strip().count("\n") == 0
    code, _, err = run(["runs", "show", run_id], capsys)
    assert code == 2 and "no run" in err and "Traceback" not in err
    from embaug_core.experiment.config import ExperimentProgress

    running = RunStore().begin(name="busy")  # a training in progress (this process: alive) says how far it is
    RunStore().report(running.id, ExperimentProgress(done=1, total=4, message="trial 2/4", elapsed_s=9.0))
    line = run(["runs", "list"], capsys)[1].strip().splitlines()[1].split("\t")
    assert line[0] == running.id and line[2] == "running" and line[-1] == "25%" and line[3] == "–"
    # the machine owner sees every user's runs; --owner lists one user's
    ana = RunStore(user="ana@example.org").begin(name="ana's")
    code, out, err = run(["runs", "list", "--owner", "ana@example.org"], capsys)
    assert [line.split("\t")[0] for line in out.strip().splitlines()[1:]] == [ana.id] and "of ana@example.org" in err
    assert len(run(["runs", "list"], capsys)[1].strip().splitlines()) == 3


def test_train_method_auto_ranks_every_candidate_and_says_why(files, capsys):
    d = files
    args = ["train", d / "train.csv", "--label-col", "label", "--id-col", "item", "--method", "auto"]
    code, out, err = run([*args, "--alphas", "0.4,1.0", "--softnesses", "0.1", "--out", d / "best"], capsys)
    assert code == 0, err
    info = json.loads((d / "best" / "head.json").read_text())["metadata"]["training"]
    candidates = info["validation"]["candidates"]
    # control; 2 alphas x (E-Mixup, E-Stitchup): no softened methods by default; five seeds of the best head;
    # logistic regression at three values of C
    assert len(candidates) == 5 + 1 + 3
    nll = [c["val_nll_scaled"] for c in candidates]
    assert nll[0] <= min(nll) + 0.002  # the winner is first, by the stated criterion
    assert info["validation"]["criterion"] in out + err and "validation log loss" in err
    assert info["chosen"]["method"] == candidates[0]["method"]
    code, _, err = run([*args, "--auto-methods", "control,soft_control", "--out", d / "best2"], capsys)
    assert code == 0, err
    info = json.loads((d / "best2" / "head.json").read_text())["metadata"]["training"]
    methods = {c["method"] for c in info["validation"]["candidates"]}
    assert {m for m in methods if m != "logreg" and " x" not in m} == {"control", "soft_control"}
    code, _, err = run([*args, "--auto-methods", "control,stitch", "--out", d / "best3"], capsys)
    assert code == 2 and "--auto-methods: unknown method 'stitch'" in err and "Traceback" not in err


def test_train_an_ensemble_with_regmixup_and_outlier_exposure_from_the_command_line(files, capsys):
    d = files
    frame = __import__("pandas").read_csv(d / "eval.csv")
    frame[frame["label"].isin(["c4", "c5"])].drop(columns=["label"]).to_csv(d / "none.csv", index=False)
    code, _, err = run(
        ["train", d / "train.csv", "--label-col", "label", "--id-col", "item", "--method", "e_stitchup"]
        + ["--preset", "fast", "--epochs", "3", "--ensemble", "2", "--regmixup", "--outlier-exposure"]
        + ["--none-examples", d / "none.csv", "--out", d / "ens"],
        capsys,
    )
    assert code == 0, err
    meta = json.loads((d / "ens" / "head.json").read_text())
    assert meta["method"] == "e_stitchup x2"
    assert meta["config"]["ensemble"] == 2 and meta["config"]["regmixup"] and meta["config"]["outlier_exposure"]


def test_heuristic_4_and_the_live_check_end_to_end(files, capsys, tmp_path):
    """evaluate --max-error-rate writes threshold_risk.json (its guarantee, the calibration rows the live check
    needs); predict applies it and warns, exit status 0, on a batch with far more out-of-scope rows than the
    calibration rows, not on a sample of them; the errors name what to do."""
    model = tmp_path / "model"
    code, _, err = run(
        ["train", files / "train.csv", "--label-col", "label", "--id-col", "item", "--epochs", "6", "--out", model],
        capsys,
    )
    assert code == 0, err
    frame = blob_frame(n_classes=6, per_class=100, dim=16)  # the same classes, more rows: 400 known, 200 none
    frame.to_csv(tmp_path / "eval.csv", index=False)
    ev = tmp_path / "ev"
    base = ["evaluate", model, tmp_path / "eval.csv", "--label-col", "label", "--id-col", "item"]
    code, out, err = run([*base, "--max-error-rate", "0.1", "--confidence-level", "0.9", "--out", ev], capsys)
    assert code == 0, err
    doc = json.loads((ev / "threshold_risk.json").read_text())
    risk = doc["risk"]
    assert doc["source"] == "risk" and risk["max_error_rate"] == 0.1 and risk["delta"] == pytest.approx(0.1)
    assert risk["n_known"] == 400 and risk["n_none"] == 200 and risk["max_false_rejection"] is None
    assert risk["holds"] and 0 < risk["p_value"] <= 0.1 and "Learn then Test" in risk["method"]
    assert doc["calibration"]["n"] == 600 and len(doc["calibration"]["confidences"]) == 600
    metrics = json.loads((ev / "metrics.json").read_text())
    assert metrics["risk"]["threshold"] == doc["threshold"]
    assert "risk: Of the items answered, at most 10% are wrong, with 90% confidence" in out

    def predict(rows, name):
        frame.drop(columns=["label"]).iloc[rows].to_csv(tmp_path / f"{name}.csv", index=False)
        return run(
            ["predict", model, tmp_path / f"{name}.csv", "--id-col", "item", "--threshold"]
            + [ev / "threshold_risk.json", "--out", tmp_path / f"{name}_p.csv"],
            capsys,
        )

    rng = np.random.default_rng(0)
    code, _, err = predict(rng.choice(600, 300, replace=False), "same")
    assert code == 0 and "warning:" not in err
    p = pd.read_csv(tmp_path / "same_p.csv")
    assert ((p["prediction"] == "none") == (p["confidence"] < doc["threshold"])).all()
    shifted = np.r_[rng.choice(400, 50, replace=False), 400 + np.arange(200)]  # 80 % out of scope, not 33 %
    code, _, err = predict(shifted, "shifted")
    assert code == 0 and (tmp_path / "shifted_p.csv").exists()
    warning = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "the share refused is" in warning[0] and "may not hold for this batch" in warning[0]

    # a file without the calibration record (older embaug): a note, no check
    old = {k: v for k, v in doc.items() if k != "calibration"}
    (tmp_path / "old.json").write_text(json.dumps(old))
    code, _, err = run(
        ["predict", model, tmp_path / "shifted.csv", "--threshold", tmp_path / "old.json", "--out", tmp_path / "o.csv"],
        capsys,
    )
    assert code == 0 and "note: the threshold file keeps no calibration rows" in err and "warning:" not in err

    # the joint form; known rows only (no "none" row) and too few rows for the asked eps say what to do
    code, _, err = run([*base, "--max-error-rate", "0.1", "--max-false-rejection", "0.2", "--out", ev], capsys)
    assert code == 0, err
    assert json.loads((ev / "threshold_risk.json").read_text())["risk"]["max_false_rejection"] == 0.2
    assert (ev / "threshold_guaranteed.json").exists()
    frame[frame["label"].isin(["c0", "c1", "c2", "c3"])].to_csv(tmp_path / "known.csv", index=False)
    code, _, err = run(
        ["evaluate", model, tmp_path / "known.csv", "--label-col", "label", "--max-error-rate", "0.1"]
        + ["--out", tmp_path / "k"],
        capsys,
    )
    assert code == 2 and "--none-examples" in err and "not one of the model's classes" in err
    code, _, err = run([*base, "--max-error-rate", "0.001", "--out", tmp_path / "few"], capsys)
    assert code == 2 and "at least 7598 are needed" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(
        [*base, "--max-error-rate", "0.1", "--max-false-rejection", "0.001", "--out", tmp_path / "k2"], capsys
    )
    assert code == 2 and "400 known calibration rows are too few" in err and "at least 7598 are needed" in err
    code, _, err = run([*base, "--max-error-rate", "0.015", "--out", tmp_path / "none"], capsys)
    assert code == 2 and "No threshold guarantees" in err and "the smallest that could be is" in err
    assert "No threshold_risk.json was written" in err
    assert not (tmp_path / "none" / "threshold_risk.json").exists() and (tmp_path / "none" / "metrics.json").exists()
