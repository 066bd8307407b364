import json

import numpy as np
import pytest
from conftest import blobs

from embaug_core.data.table import from_dataframe
from embaug_core.errors import ConfigError, EmbaugError
from embaug_core.experiment.config import ExperimentConfig
from embaug_core.experiment.results import ExperimentResult
from embaug_core.experiment.run import run_experiment
from embaug_core.jsonio import jsonable, none_to_nan
from embaug_core.training.config import TrainConfig


@pytest.fixture(scope="module")
def dataset():
    import pandas as pd

    x, labels = blobs(n_classes=10, per_class=40, dim=12, spread=2.0, seed=4)
    frame = pd.DataFrame(x, columns=[f"e{i}" for i in range(12)])
    frame["label"] = labels
    return from_dataframe(frame, label_col="label")


def small(**changes) -> ExperimentConfig:
    """One trial of the protocol on the blobs: 30 % trains, 2 classes unseen, 2 removed for validation."""
    base = dict(n_trials=1, train_fraction=0.3, unseen_classes=2, n_removed_classes=2, train=TrainConfig(epochs=3))
    return ExperimentConfig(**{**base, **changes})


@pytest.fixture(scope="module")
def result(dataset):
    config = ExperimentConfig(
        methods=("control", "e_stitchup", "soft_control"),
        n_trials=2,
        train_fraction=0.3,
        unseen_classes=2,
        alphas=(0.4, 1.0),
        softnesses=(0.1,),
        n_removed_classes=2,
        train=TrainConfig(epochs=6),
        seed=7,
    )
    seen = []
    res = run_experiment(dataset, config, progress=seen.append)
    res.progress_seen = seen
    return res


def test_protocol_shape(result):
    # 2 trials x (control 1 + e_stitchup 2 + soft_control 1 grid points + 3 final trainings)
    assert result.progress_seen[-1].done == result.progress_seen[-1].total == 2 * (1 + 2 + 1 + 3)
    assert len(result.records) == 6
    for r in result.records:
        assert r.split.none_classes, "unseen classes must give 'none' rows"
        assert set(r.thresholds) == {"intersection", "ratio"}
        assert len(r.history) == 6
        assert 0.0 <= r.auroc <= 1.0
    st = [r for r in result.records if r.method == "e_stitchup"]
    assert all(len(r.selection) == 2 for r in st)
    # the chosen alpha is the best one on the validation split
    for r in st:
        best = max(r.selection, key=lambda s: s.score)
        assert r.alpha == best.alpha


def test_table1_is_relative_to_the_control_of_the_same_trial(result):
    t1 = result.table1().set_index("method")
    ctrl = {r.trial: r.auroc for r in result.by_method("control")}
    diffs = [r.auroc - ctrl[r.trial] for r in result.by_method("e_stitchup")]
    assert t1.loc["E-Stitchup", "auroc_delta_mean"] == pytest.approx(np.mean(diffs))
    assert t1.loc["E-Stitchup", "auroc_delta_std"] == pytest.approx(np.std(diffs, ddof=1))
    assert t1.loc["Control", "auroc_mean"] == pytest.approx(np.mean(list(ctrl.values())))
    assert np.isnan(t1.loc["Control", "auroc_delta_mean"])


def test_table3_accuracies_are_evaluation_values_at_validation_thresholds(result):
    t3 = result.table3()
    assert set(t3["heuristic"]) == {"intersection", "ratio"}
    row = t3[(t3["method"] == "Control") & (t3["heuristic"] == "ratio")].iloc[0]
    vals = [r.thresholds["ratio"] for r in result.by_method("control")]
    assert row["threshold_mean"] == pytest.approx(np.mean([v.threshold for v in vals]))
    assert row["none_accuracy_mean"] == pytest.approx(np.mean([v.evaluation.none_accuracy for v in vals]))


def test_results_save_and_reload(result, tmp_path):
    result.save(tmp_path)
    for name in ("results.json", "table1.csv", "table2.csv", "table3.csv", "tables.md"):
        assert (tmp_path / name).exists()
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["tables"]["table2"][0]["method"] == "Control"
    back = ExperimentResult.load(tmp_path / "results.json")
    assert back.table1().equals(result.table1())
    assert "**Table 1**" in (tmp_path / "tables.md").read_text()
    mean, std = back.mean_curve("e_stitchup", "none_accuracy")
    assert mean.shape == (101,) and mean[0] == 0.0


def test_records_are_typed_and_read_back_as_they_were_written(result):
    """Records hold the evaluation's own types; their JSON form reads back to the same JSON. Only the
    reliability bins' per-bin means may move in the last bit (kept as sums, read back as mean x count)."""
    from embaug_core.evaluation.metrics import CalibrationSummary
    from embaug_core.evaluation.thresholds import OperatingPoint
    from embaug_core.experiment.records import GridPoint, MethodTrial

    r = result.by_method("e_stitchup")[0]
    assert isinstance(r.calibration, CalibrationSummary) and isinstance(
        r.thresholds["ratio"].evaluation, OperatingPoint
    )
    assert all(isinstance(s, GridPoint) for s in r.selection)
    for rec in result.records:
        written = json.loads(json.dumps(jsonable(rec.to_dict())))
        again = json.loads(json.dumps(jsonable(MethodTrial.from_dict(written).to_dict())))
        for key in ("reliability", "reliability_equal_mass"):
            for series in ("mean_confidence", "accuracy"):
                a, b = (none_to_nan(d["calibration"][key].pop(series)) for d in (written, again))
                np.testing.assert_allclose(a, b, rtol=1e-14)
        assert again == written


def test_same_seed_same_numbers(dataset):
    config = ExperimentConfig(
        methods=("e_mixup",),
        n_trials=1,
        train_fraction=0.3,
        unseen_classes=2,
        alphas=(0.4,),
        n_removed_classes=2,
        train=TrainConfig(epochs=3),
        seed=1,
    )
    a, b = run_experiment(dataset, config), run_experiment(dataset, config)
    assert a.records[0].auroc == b.records[0].auroc
    assert a.records[0].calibration.to_dict() == b.records[0].calibration.to_dict()
    assert a.records[0].thresholds == b.records[0].thresholds


def test_config_validation():
    with pytest.raises(ConfigError, match="unknown method"):
        ExperimentConfig(methods=("nope",))
    with pytest.raises(ConfigError, match="alphas"):
        ExperimentConfig(alphas=(0.0,))
    assert ExperimentConfig().grid("soft_e_stitchup") == [(a, s) for a in (0.2, 0.4, 1.0) for s in (0.05, 0.1, 0.2)]
    assert len(ExperimentConfig().grid("control")) == 1


def test_baselines_and_extra_scores_in_one_run(dataset, tmp_path):
    config = ExperimentConfig(
        methods=("control", "sk_mixup"),
        baselines=("control_ts", "logreg", "logreg_ts"),
        n_trials=1,
        train_fraction=0.3,
        unseen_classes=2,
        alphas=(0.4,),
        n_removed_classes=2,
        logreg_Cs=(1.0,),
        train=TrainConfig(epochs=4),
        seed=3,
    )
    res = run_experiment(dataset, config, keep_artifacts=True)
    assert res.methods == ("control", "sk_mixup", "control_ts", "logreg", "logreg_ts")
    ts = res.by_method("control_ts")[0]
    ctrl = res.by_method("control")[0]
    assert ts.selection[-1].temperature > 0
    assert ts.none_scores["knn"] == ctrl.none_scores["knn"]  # k-NN does not depend on the head
    assert set(ctrl.none_scores) == {"max_prob", "energy", "knn", "mahalanobis", "fused"}
    assert set(ts.none_scores) == {"max_prob", "energy", "knn", "mahalanobis"}  # a peer has no score bank
    # heuristic 3, checked on the evaluation rows: computed on one half of the known rows
    g = ctrl.guarantee["max_prob"]
    n_known = int((res.artifacts[("control", 0)].y_eval >= 0).sum())
    assert g.guarantee.n == n_known // 2 and g.violated == (g.realised_false_rejection > g.guarantee.alpha)
    tg = res.table_guarantee()
    assert set(tg["score"]) >= {"max_prob", "knn", "fused"} and (tg["trials"] == 1).all()
    # the Threshold page's per-score evaluations: the sweep runs on that score's confidences
    art = res.artifacts[("control", 0)]
    val_knn, ev_knn = art.for_score("knn")
    np.testing.assert_array_equal(np.sort(ev_knn.sweep._sorted), np.sort(art.by_score["knn"][1]))
    assert art.for_score("knn")[1] is ev_knn and art.for_score("max_prob")[1] is art.evaluation
    assert ev_knn.auroc == art.evaluation.auroc  # the classification metrics stay on the probabilities
    assert (ts.alpha, ts.softness) == (ctrl.alpha, ctrl.softness)
    assert res.artifacts[("control_ts", 0)].head is None and res.artifacts[("control", 0)].head is not None
    tc = res.table_compare()
    assert list(tc["method"]) == ["Control", "SK-Mixup", "Control + TS", "LogReg", "LogReg + TS"]
    assert tc["none_auroc_knn"].notna().all() and (tc["train_seconds"] >= 0).all()
    res.save(tmp_path)
    assert "**Comparison**" in (tmp_path / "tables.md").read_text()
    assert "**Heuristic 3**" in (tmp_path / "tables.md").read_text() and (tmp_path / "guarantee.csv").exists()
    assert "**Selective classification**" in (tmp_path / "tables.md").read_text()
    sel = res.table_selective()
    assert set(sel[sel["method"] == "Control"]["score"]) == {"max_prob", "energy", "knn", "mahalanobis", "fused"}
    assert (sel["e_aurc_mean"] >= -1e-12).all() and (sel["aurc_mean"] >= sel["e_aurc_mean"]).all()
    assert sel["classwise_ece_mean"].notna().all()
    # Table 3 per score: max_prob's rows are Table 3's own
    t3s, t3 = res.table_score_thresholds(), res.table3()
    mine = t3s[(t3s["method"] == "Control") & (t3s["score"] == "max_prob")].set_index("heuristic")
    theirs = t3[t3["method"] == "Control"].set_index("heuristic")
    for h in mine.index:
        assert mine.loc[h, "id_accuracy_mean"] == pytest.approx(theirs.loc[h, "id_accuracy_mean"])
        assert mine.loc[h, "threshold_mean"] == pytest.approx(theirs.loc[h, "threshold_mean"])
    assert (tmp_path / "comparison.csv").exists()


def test_defect_3_temperature_is_fitted_on_the_head_that_uses_it(dataset):
    from embaug_core.evaluation.temperature import apply_temperature, fit_temperature
    from embaug_core.experiment.heads import select_heads
    from embaug_core.experiment.trial import Reporter, TrialData, to_trial_classes

    # "control" is not among the methods: the one rule is that control_ts brings its own
    # control validation head (no error in the library, no silent drop in the CLI)
    config = small(methods=("e_mixup",), baselines=("control_ts",), alphas=(0.4,), train=TrainConfig(epochs=3), seed=5)
    res = run_experiment(dataset, config, keep_artifacts=True)
    assert res.methods == ("e_mixup", "control_ts")
    # rebuild the control's validation head: T must be fitted on its validation logits, and
    # the evaluated probabilities must be that same head's logits / T (not another head's)
    data = TrialData.make(dataset, config, 0)
    control = select_heads(data, config, Reporter(None, 1, 0.0))["control"]
    temperature = fit_temperature(control.val_logits, data.y_val, kind="sigmoid")
    eval_logits = to_trial_classes(control.head.predict_logits(data.rows("eval")), data)
    ts = res.by_method("control_ts")[0]
    assert ts.selection[-1].temperature == pytest.approx(temperature)
    np.testing.assert_allclose(
        res.artifacts[("control_ts", 0)].probs, apply_temperature(eval_logits, temperature), rtol=1e-12
    )
    # "none" validation rows take part in the fit (all-zero target), so T minimises the
    # very NLL the calibration table reports on the validation rows
    nll = res.artifacts[("control_ts", 0)].validation.calibration.nll
    from embaug_core.evaluation.metrics import negative_log_likelihood

    for other in (temperature * 0.8, temperature * 1.25):
        assert nll <= negative_log_likelihood(apply_temperature(control.val_logits, other), data.y_val) + 1e-12


def test_defect_6_logreg_c_is_chosen_by_the_selection_metric(dataset):
    config = small(
        methods=("control",),
        baselines=("logreg",),
        logreg_Cs=(0.001, 1.0),
        selection_metric="aupr",
        train=TrainConfig(epochs=2),
        seed=3,
    )
    res = run_experiment(dataset, config)
    sel = res.by_method("logreg")[0].selection
    from embaug_core.evaluation.metrics import softmax
    from embaug_core.evaluation.summary import evaluate
    from embaug_core.experiment.trial import TrialData
    from embaug_core.training.logreg import LogisticRegressionBaseline

    data = TrialData.make(dataset, config, 0)
    for s in sel:
        m = LogisticRegressionBaseline(C=s.C).fit(data.rows("vtrain"), data.y_vtrain, len(data.vsplit.train_classes))
        ev = evaluate(softmax(m.predict_logits(data.rows("val"))), data.y_val)
        assert s.score == pytest.approx(ev.aupr) and s.score != pytest.approx(ev.auroc)


def test_stacked_and_one_by_one_training_agree(dataset):
    base = dict(
        methods=("control", "e_stitchup", "soft_e_mixup"),
        n_trials=1,
        train_fraction=0.3,
        unseen_classes=2,
        alphas=(0.4, 1.0),
        softnesses=(0.1,),
        n_removed_classes=2,
        train=TrainConfig(epochs=4),
        seed=2,
    )
    stacked = run_experiment(dataset, ExperimentConfig(**base, stack=True))
    single = run_experiment(dataset, ExperimentConfig(**base, stack=False))
    for a, b in zip(stacked.records, single.records, strict=True):
        assert (a.method, a.alpha, a.softness) == (b.method, b.alpha, b.softness)
        assert a.auroc == pytest.approx(b.auroc, abs=1e-4)
        assert a.calibration.ece == pytest.approx(b.calibration.ece, abs=1e-4)
        assert [s.score for s in a.selection] == pytest.approx([s.score for s in b.selection], abs=1e-4)
        assert len(a.history) == len(b.history) == 4
        assert a.history[-1].train_loss == pytest.approx(b.history[-1].train_loss, rel=1e-3)


def test_defect_2_one_probability_dtype_end_to_end(dataset):
    from embaug_core.evaluation.metrics import encode_labels
    from embaug_core.evaluation.summary import evaluate
    from embaug_core.labelling import labelling_queue

    config = small(methods=("control",), train=TrainConfig(epochs=3), seed=9)
    art = run_experiment(dataset, config, keep_artifacts=True).artifacts[("control", 0)]
    probs = art.head.predict_proba(dataset.embeddings[art.eval_idx])  # the library / CLI / page path
    assert probs.dtype == np.float64 and art.probs.dtype == np.float64
    np.testing.assert_array_equal(probs, art.probs)
    y = encode_labels(dataset.labels[art.eval_idx], art.head.class_names)
    again = evaluate(probs, y)
    assert {k: h.threshold for k, h in again.heuristics.items()} == {
        k: h.threshold for k, h in art.evaluation.heuristics.items()
    }
    queue = labelling_queue(dataset, art.head, threshold=0.5, rows=art.eval_idx)
    assert queue["confidence"].dtype == np.float64
    by_id = dict(zip(queue["id"], queue["confidence"], strict=True))
    assert [by_id[i] for i in dataset.ids[art.eval_idx]] == list(probs.max(1))


def test_progress_counts_heads_trained_together(result):
    # 2 trials x (4 validation heads + 3 final heads): the validation heads run together, so
    # their last epoch means 4 trainings done, not 1 (the first ETA read 13x too long before)
    seen = result.progress_seen
    last_epoch = next(p for p in seen if p.epochs and p.epoch == p.epochs)
    assert last_epoch.running == 4
    assert last_epoch.fraction * last_epoch.total == pytest.approx(4)
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert np.isnan(seen[0].eta_s)  # no estimate before anything was measured


def test_out_of_scope_examples_fit_the_fused_weight(dataset):
    config = ExperimentConfig(
        methods=("control",),
        n_trials=1,
        train_fraction=0.6,
        unseen_classes=2,
        n_removed_classes=2,
        train=TrainConfig(epochs=3),
        seed=1,
    )
    far = np.random.default_rng(0).normal(8.0, 1.0, (40, dataset.dim))  # far from every blob
    res = run_experiment(dataset, config, keep_artifacts=True, none_examples=far)
    scores = res.artifacts[("control", 0)].head.scores
    assert scores.fused_weight_source == "none examples"
    plain = run_experiment(dataset, config, keep_artifacts=True)
    assert plain.artifacts[("control", 0)].head.scores.fused_weight_source == "removed classes"
    with pytest.raises(ConfigError, match="dimensions"):
        run_experiment(dataset, config, none_examples=far[:, :5])


def test_auto_recipe_stops_each_final_head_at_its_validation_epoch_and_scales_it_by_t(dataset):
    from embaug_core.training.recipe import AutoRecipe

    config = small(
        methods=("e_stitchup", "auto"),
        auto_methods=("control", "e_stitchup"),
        alphas=(0.4,),
        softnesses=(0.1,),
        train=TrainConfig.preset("auto"),
    )
    result = run_experiment(dataset, config, keep_artifacts=True)
    records = {r.method: r for r in result.records}
    ranked = [s for s in records["auto"].selection if getattr(s, "method", None)]
    from embaug_core.training.selection import rank

    heads = [s for s in ranked if s.method in ("control", "e_stitchup")]
    best = heads[rank([(s.method, s.checkpoint, s.score) for s in heads])[0]].method  # among the heads alone
    # every candidate, ranked: the heads, five seeds of the best head, logistic regression at every C
    assert {s.method for s in ranked} == {"control", "e_stitchup", f"{best} x5", "logreg"}
    assert sorted(s.C for s in ranked if s.method == "logreg") == [0.1, 1.0, 10.0]
    probes = records["auto"].selection[-1].probes
    assert len(probes) == len(AutoRecipe().lr_factors)  # the rate was chosen by probes
    chosen = min(probes, key=lambda p: p.checkpoint.val_nll_scaled)
    assert records["auto"].selection[-1].lr_max == pytest.approx(chosen.lr_max)
    for name in ("e_stitchup", "auto"):
        cp = next(s for s in records[name].selection if getattr(s, "checkpoint", None) and s.alpha == 0.4).checkpoint
        head = result.artifacts[(name, 0)].head
        if name == "e_stitchup":
            assert len(records[name].history) == cp.best_epoch == head.config.stop_epoch  # stopped there
        assert head.config.recipe == "fixed" and head.config.lr_schedule == "one_cycle"  # resolved settings
    # the same splits and seeds give the same heads: the recipe is deterministic
    again = run_experiment(dataset, config, keep_artifacts=True)
    for name in ("e_stitchup", "auto"):
        a, b = result.artifacts[(name, 0)], again.artifacts[(name, 0)]
        np.testing.assert_array_equal(a.probs, b.probs)


def test_results_written_before_later_fields_still_read_and_damaged_ones_say_so():
    """Runs saved before class-wise ECE, the batch guarantee and the top-label NLL existed reopen;
    a results file with a record cut short is an EmbaugError, not a KeyError."""
    from pathlib import Path

    path = Path(__file__).resolve().parent / "golden" / "experiment_results.json"
    old = json.loads(path.read_text())
    for record in old["records"]:
        del record["calibration"]["classwise_ece"]
        for g in record["guarantee"].values():
            del g["future_rows"]
        for s in record["selection"]:
            s.get("checkpoint", {}).pop("val_top_nll", None)
    back = ExperimentResult.from_dict(old)
    assert np.isnan(back.records[0].calibration.classwise_ece) and back.table2().shape[0] == len(back.methods)
    del old["records"][0]["calibration"]
    with pytest.raises(EmbaugError, match="cannot read: missing or bad 'calibration'"):
        ExperimentResult.from_dict(old)


def test_defect_28_5_the_eta_rests_on_measured_epochs_of_the_current_step():
    """The first ETA read 2,180 s for a training of 260 s: it extrapolated the whole elapsed time (start-up
    and the learning-rate probes included) from the share of trainings done. Now no number is shown until two
    epochs of the current step are measured, and then only that step's pace counts; the probes have their
    own estimate."""
    from embaug_core.experiment.config import ExperimentProgress

    # 60 s went into start-up and probes; this step trains 4 heads together, 5 of 50 epochs in 10 s
    p = ExperimentProgress(
        done=0, total=7, message="validation heads", elapsed_s=70.0, epoch=5, epochs=50, running=4, stage_elapsed_s=10.0
    )
    # this step: 2 s an epoch x 45 left; then 3 more trainings x 50 epochs at 2 s / 4 heads an epoch
    assert p.eta_s == pytest.approx(2.0 * 45 + 3 * 50 * 2.0 / 4)
    assert np.isnan(ExperimentProgress(0, 7, "validation heads", 70.0, 1, 50, 4, 1.0).eta_s)  # one epoch: start-up
    assert np.isnan(ExperimentProgress(2, 7, "between steps", 90.0).eta_s)  # no epochs of this step yet
    probing = ExperimentProgress(0, 7, "probe 1/3", 12.0, epoch=4, epochs=20, stage_elapsed_s=8.0, probe=1, probes=3)
    assert probing.eta_s == pytest.approx(2.0 * 16 + 2 * 20 * 2.0) and probing.eta_scope == "the learning-rate probes"


def test_defect_28_5_an_experiment_reports_each_steps_own_clock_and_the_probes(dataset):
    seen = []
    config = small(methods=("e_stitchup",), train=TrainConfig.preset("auto"), alphas=(0.4,))
    run_experiment(dataset, config, progress=seen.append)
    probes = [p for p in seen if p.probes]
    assert probes and {(p.probe, p.probes) for p in probes} == {(1, 1)}  # one stacked run
    assert all("3 probes together" in p.message for p in probes)
    steps = [p for p in seen if p.epochs and not p.probes]
    assert steps and all(p.stage_elapsed_s <= p.elapsed_s for p in steps)
    first = next(p for p in steps if p.epoch >= 2)
    assert np.isfinite(first.eta_s) and first.stage_elapsed_s < first.elapsed_s  # the probes' time not counted


@pytest.mark.parametrize("recipe", ["fixed", "auto"])
def test_the_auto_methods_peers_weigh_none_rows_as_its_grid_heads_do(dataset, monkeypatch, recipe):
    """The ensemble and LogReg are ranked beside the grid heads by the same NLL: with the fixed recipe
    the grid heads' NLLs are unweighted (heads._checkpoint), so the peers' are too; with the auto recipe
    both weigh the held-out "none" rows by DEFAULT_RECIPE.none_share."""
    from embaug_core.experiment import heads
    from embaug_core.training.recipe import DEFAULT_RECIPE

    seen = []
    real = heads.peers_on_split

    def spy(*args, recipe, **kwargs):
        seen.append(recipe.none_share)
        return real(*args, recipe=recipe, **kwargs)

    monkeypatch.setattr(heads, "peers_on_split", spy)
    train = TrainConfig.preset("auto") if recipe == "auto" else TrainConfig(epochs=3)
    config = small(methods=("auto",), auto_methods=("e_stitchup",), alphas=(0.4,), train=train)
    run_experiment(dataset, config)
    assert seen == [DEFAULT_RECIPE.none_share if recipe == "auto" else None]


def test_the_per_epoch_accuracies_are_on_a_stratified_sample_of_the_evaluation_rows_when_there_are_many(
    dataset, monkeypatch
):
    """The final heads' per-epoch accuracies (Fig. 5) are on at most CURVE_ROWS evaluation rows, stratified by
    class: the last epoch's accuracies equal those of the final head's own probabilities on exactly those rows
    (a fixed preset: no temperature, the last epoch is the head). The record says how many rows, through a
    save and a load, and the report's Fig. 5 title says it; Control + TS, whose history is its validation
    head's (no evaluation rows), and the trial's other records say nothing. With fewer evaluation rows than
    the cap the history is on all of them and results.json has no such key (as before the cap)."""
    from embaug_core.evaluation.metrics import NONE
    from embaug_core.evaluation.thresholds import accuracies_at
    from embaug_core.experiment import trial
    from embaug_core.experiment.report import build_report

    monkeypatch.setattr(trial, "CURVE_ROWS", 60)
    config = small(methods=("e_stitchup",), alphas=(0.4,), baselines=("control_ts", "logreg"), seed=5)
    res = run_experiment(dataset, config, keep_artifacts=True)
    record, art = res.by_method("e_stitchup")[0], res.artifacts[("e_stitchup", 0)]
    assert record.split.n_eval > 60 and record.history_rows == 60
    assert res.by_method("control_ts")[0].history and res.by_method("control_ts")[0].history_rows is None
    assert res.by_method("logreg")[0].history_rows is None
    assert f"(60 of the {record.split.n_eval:,} evaluation rows, stratified)" in build_report(res)
    keep = trial.stratified_subsample(art.y_eval, 60, config.seed + record.trial)
    conf, pred, y = art.probs[keep].max(1), art.probs[keep].argmax(1), art.y_eval[keep]
    # every class of the evaluation rows keeps its share, "none" included
    assert set(np.unique(y)) == set(np.unique(art.y_eval)) and (y == NONE).any()
    expected = accuracies_at(conf, (pred == y) & (y != NONE), y == NONE, config.train.reference_threshold)
    last = record.history[-1]
    got = (last.val_overall_accuracy, last.val_id_accuracy, last.val_none_accuracy)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert "60 of the" in record.history_note()
    again = type(record).from_dict(json.loads(json.dumps(jsonable(record.to_dict()))))
    assert again.history_rows == 60

    monkeypatch.setattr(trial, "CURVE_ROWS", 10_000)
    whole = run_experiment(dataset, config).records[0]
    assert whole.history_rows is None and "history_rows" not in whole.to_dict() and whole.history_note() == ""


def test_a_cross_fitted_ensemble_in_an_experiment_is_recorded_and_explained_with_its_own_temperature(
    dataset, monkeypatch
):
    """With ``AutoRecipe.cross_fit`` the auto method's winning ensemble trains as fold models: its record keeps
    the validation ranking, adds the cross-fitted temperature (a TemperatureFit row, through a save and a
    load), and "Why this head" names that temperature instead of saying it was carried over. The ensemble is
    made to win; what becomes of a winner is under test, not the ranking."""
    from dataclasses import replace

    from embaug_core.experiment import heads
    from embaug_core.experiment.explain import auto_choice
    from embaug_core.experiment.records import TemperatureFit
    from embaug_core.experiment.results import ExperimentResult
    from embaug_core.training import recipe as recipe_module

    monkeypatch.setattr(
        heads, "rank", lambda choices, recipe=None: sorted(range(len(choices)), key=lambda i: " x" not in choices[i][0])
    )
    config = small(methods=("auto",), auto_methods=("e_stitchup",), alphas=(0.4,), train=TrainConfig.preset("auto"))
    runs = {}
    for cross in (False, True):
        monkeypatch.setattr(recipe_module, "DEFAULT_RECIPE", replace(recipe_module.DEFAULT_RECIPE, cross_fit=cross))
        runs[cross] = run_experiment(dataset, config)
    plain, crossed = (runs[c].by_method("auto")[0] for c in (False, True))
    fits = [r for r in crossed.selection if isinstance(r, TemperatureFit)]
    assert not [r for r in plain.selection if isinstance(r, TemperatureFit)]
    assert len(fits) == 1 and "cross-fitted" in fits[0].fitted_on and fits[0].temperature > 0
    # the same validation split, the same ranking (as dicts: the LogReg rows' NaN alphas are unequal to themselves)
    assert [r.to_dict() for r in crossed.selection[:-1]] == [r.to_dict() for r in plain.selection]
    assert crossed.auroc != plain.auroc  # other final models
    loaded = ExperimentResult.from_dict(runs[True].to_dict())
    assert [r.to_dict() for r in loaded.by_method("auto")[0].selection] == [r.to_dict() for r in crossed.selection]
    text, _ = auto_choice(loaded, 0)
    assert f"a temperature of {fits[0].temperature:.2f}" in text and "cross-fitting" in text
    assert "cross-fitting" not in auto_choice(runs[False], 0)[0]


def test_a_blend_in_an_experiment_is_ranked_recorded_retrained_and_explained(dataset, monkeypatch):
    """With ``AutoRecipe.blend`` the auto method's record lists the blend with its C, through a save and a load,
    and when it wins (made to: what becomes of a winner is under test, not the ranking) "Why this head" names it
    and says its logistic regression was fitted again. Progress counts the extra candidate. A blend is not a
    setting of an experiment's own heads: refused by name."""
    from dataclasses import replace

    from embaug_core.experiment import heads
    from embaug_core.experiment.explain import auto_choice
    from embaug_core.training import recipe as recipe_module

    with pytest.raises(ConfigError, match="blend_C is not a setting of an experiment's heads"):
        small(train=TrainConfig(epochs=3, blend_C=1.0))
    config = small(methods=("auto",), auto_methods=("e_stitchup",), alphas=(0.4,), train=TrainConfig.preset("auto"))
    without = config.trainings_per_trial()
    monkeypatch.setattr(recipe_module, "DEFAULT_RECIPE", replace(recipe_module.DEFAULT_RECIPE, blend=True))
    monkeypatch.setattr(
        heads,
        "rank",
        lambda choices, recipe=None: sorted(range(len(choices)), key=lambda i: "+ logreg" not in choices[i][0]),
    )
    assert config.trainings_per_trial() == without + 1
    result = run_experiment(dataset, config)
    record = result.by_method("auto")[0]
    top = record.selection[0]
    assert top.method == "e_stitchup x5 + logreg" and top.C in config.logreg_Cs
    loaded = ExperimentResult.from_dict(json.loads(json.dumps(jsonable(result.to_dict()))))
    assert [r.to_dict() for r in loaded.by_method("auto")[0].selection] == [r.to_dict() for r in record.selection]
    text, frame = auto_choice(loaded, 0)
    assert frame.iloc[0]["method"] == f"E-Stitchup, 5 seeds averaged, averaged with LogReg (C {top.C:g})"
    assert "logistic regression fitted again with the same C" in text
