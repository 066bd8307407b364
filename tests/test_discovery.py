"""Grouping the "none" pool (embaug_core.discovery): the silhouette against scikit-learn's, groups of a
synthetic pool recovered exactly, determinism, the too-small fallback, keywords and the one-action
accuracy by hand, the "looks like" flag, the pool of a head, the groups CSV round trip and the CLI."""

import numpy as np
import pandas as pd
import pytest
from conftest import blob_frame
from sklearn.metrics import adjusted_rand_score, silhouette_score

from embaug_core.cli import main
from embaug_core.data.table import from_dataframe
from embaug_core.discovery import (
    MIN_POOL_ROWS,
    UNGROUPED,
    cosine_silhouette,
    discover,
    discover_groups,
    group_embeddings,
    group_keywords,
    grouping_scores,
    none_pool,
)
from embaug_core.discovery.quality import GroupingScores, one_action_accuracy
from embaug_core.errors import DataError
from embaug_core.experiment.records import MethodTrial
from embaug_core.labelling import read_group_labels, read_queue_labels
from embaug_core.training.config import TrainConfig
from embaug_core.training.trained_head import TrainedHead


def directions(sizes, dim=32, noise=0.05, seed=0):
    """Rows around len(sizes) random unit directions: (x (n, dim), true group (n,))."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(sizes), dim))
    truth = np.repeat(np.arange(len(sizes)), sizes)
    x = (
        centres[truth] / np.linalg.norm(centres[truth], axis=1, keepdims=True)
        + rng.normal(size=(len(truth), dim)) * noise
    )
    return x * rng.uniform(0.5, 3.0, size=(len(truth), 1)), truth  # lengths vary: only directions matter


def test_cosine_silhouette_equals_scikit_learns():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(60, 5))
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    labels = rng.integers(0, 4, size=60)
    labels[7] = 9  # a group of one row scores 0, as in scikit-learn
    assert cosine_silhouette(z, labels) == pytest.approx(silhouette_score(z, labels, metric="cosine"), abs=1e-12)
    with pytest.raises(ValueError):
        cosine_silhouette(z, np.zeros(60))


def test_a_chosen_cut_is_placed_and_one_not_on_the_curve_is_refused():
    from embaug_core.discovery.grouping import cut_curve, place, unit_rows

    z = unit_rows(directions([50, 40, 30, 25, 20, 15])[0])
    curve = cut_curve(z, seed=0, min_mean_size=5)
    assert [k for k, _ in curve.curve] == list(range(2, len(z) // 5 + 1))  # every cut of the tree, scored
    three = place(z, curve, 3, seed=0)  # another cut than the best (6): three groups, as asked
    assert three.n_groups == 3 and three.silhouette == dict(curve.curve)[3]
    assert place(z, curve, None).n_groups == 1  # no cut: one group
    with pytest.raises(ValueError, match="no cut of this curve has 999 groups"):
        place(z, curve, 999)


def test_synthetic_groups_are_recovered_exactly_largest_first():
    x, truth = directions([50, 40, 30, 25, 20, 15])
    g = group_embeddings(x, seed=0, min_mean_size=5)
    assert g.n_groups == 6 and g.ungrouped == 0
    assert adjusted_rand_score(truth, g.labels) == 1.0
    assert np.bincount(g.labels).tolist() == [50, 40, 30, 25, 20, 15]  # numbered largest first
    assert np.allclose(np.linalg.norm(g.centres, axis=1), 1.0)
    assert max(g.curve, key=lambda c: c[1])[0] == 6 and g.silhouette == pytest.approx(max(s for _, s in g.curve))
    assert (g.similarity > 0.9).all()


def test_the_grouping_is_deterministic_for_a_seed_with_a_sample():
    x, _ = directions([80, 60, 60, 40, 30], noise=0.4, seed=3)
    first = group_embeddings(x, seed=5, sample_rows=100, min_mean_size=5)
    again = group_embeddings(x, seed=5, sample_rows=100, min_mean_size=5)
    assert np.array_equal(first.labels, again.labels) and np.array_equal(first.centres, again.centres)
    texts = [f"row {i}" for i in range(len(x))]
    a = discover_groups(x, np.arange(len(x)).astype(str), texts=texts, seed=5)
    b = discover_groups(x, np.arange(len(x)).astype(str), texts=texts, seed=5)
    pd.testing.assert_frame_equal(a.rows, b.rows)
    assert a.groups == b.groups


def test_small_groups_are_dissolved_into_ungrouped_rows():
    x, truth = directions([40, 40, 3], seed=2)
    g = group_embeddings(x, seed=0, min_group_size=5, min_mean_size=5)
    assert g.n_groups == 2 and g.ungrouped == 3
    assert (g.labels[truth == 2] == -1).all()
    found = discover_groups(x, np.arange(len(x)).astype(str), seed=0, min_group_size=5)
    assert found.n_ungrouped == 3 and (found.rows["group"][truth == 2] == UNGROUPED).all()
    assert {gr.size for gr in found.groups} == {40}


def test_a_pool_too_small_to_group_falls_back_to_the_list():
    x, _ = directions([MIN_POOL_ROWS - 1])
    with pytest.raises(DataError, match="too few to group"):
        group_embeddings(x)
    found = discover_groups(x, [f"r{i}" for i in range(len(x))], texts=["t"] * len(x))
    assert found.groups == () and found.fallback == f"{MIN_POOL_ROWS - 1} rows are too few to group (at least 20)."
    assert (found.rows["group"] == UNGROUPED).all() and list(found.rows["text"]) == ["t"] * len(x)
    assert found.fallback in found.to_markdown()


def test_keywords_by_class_based_tf_idf_by_hand():
    texts = ["card lost card", "lost my card", "weather today", "weather rain today", "the rain"]
    labels = np.array([0, 0, 1, 1, -1])
    # group 0's document "card lost card lost my card": card (3), lost (2); group 1: weather (2), today (2),
    # rain (1). No term is in both groups, so every idf is equal and the sublinear counts order them
    kw = group_keywords(texts, labels, top=3)
    assert kw[0] == ("card", "lost") and kw[1][:2] == ("today", "weather") and kw[1][2] == "rain"
    assert -1 not in kw
    assert group_keywords(["the", "and"], np.array([0, 1])) == {0: (), 1: ()}  # only stop words


def test_one_action_accuracy_and_scores_by_hand():
    truth = ["a", "a", "a", "b", "b", "c"]
    groups = [1, 1, 2, 2, 2, 0]  # group 1 -> a (2 right), group 2 -> b (2 right), row 6 ungrouped: wrong
    assert one_action_accuracy(truth, groups, ungrouped=0) == pytest.approx(4 / 6)
    s = grouping_scores(truth, groups)
    assert (s.groups, s.classes, s.rows) == (2, 3, 6) and s.ungrouped == pytest.approx(1 / 6)
    assert s.ari == pytest.approx(adjusted_rand_score(truth, groups))
    assert GroupingScores.from_dict(s.to_dict()) == s


def test_a_known_row_in_the_pool_is_flagged_and_groups_name_their_nearest_class():
    x, truth = directions([30, 30, 30], noise=0.02, seed=4)
    rng = np.random.default_rng(9)
    k0, k1 = rng.normal(size=(2, x.shape[1]))
    k1 = x[truth == 1].mean(0) + 0.3 * k1 / np.linalg.norm(k1) * np.linalg.norm(x[truth == 1].mean(0))
    x = np.vstack([x, k0 + rng.normal(size=x.shape[1]) * 0.01])  # row 90: a row of known class k0 in the pool
    top = np.array(["k1"] * 90 + ["k0"])
    ids = np.arange(91).astype(str)
    found = discover_groups(x, ids, class_means=np.stack([k0, k1]), class_names=["k0", "k1"], top_class=top)
    assert found.rows["looks_like"].tolist() == [""] * 90 + ["k0"]  # the others are nearer their own centre
    assert found.rows["nearest_class"][90] == "k0"
    near = [g for g in found.groups if g.nearest_class == "k1"]
    assert max(g.nearest_class_similarity for g in near) > 0.9  # group of truth 1 sits beside class k1
    wrong_top = discover_groups(x, ids, class_means=np.stack([k0, k1]), class_names=["k0", "k1"], top_class=["k1"] * 91)
    assert (wrong_top.rows["looks_like"] == "").all()  # the head's top class must agree


def test_none_pool_is_the_rows_routed_to_none_or_the_least_confident():
    conf = np.array([0.9, 0.2, 0.5, 0.49, 0.1])
    assert none_pool(conf, threshold=0.5).tolist() == [4, 1, 3]  # 0.5 itself is accepted
    assert none_pool(conf, least_confident=2).tolist() == [4, 1]
    with pytest.raises(DataError):
        none_pool(conf)


@pytest.fixture(scope="module")
def head_and_data():
    frame = blob_frame(n_classes=6, per_class=40, dim=16)
    ds = from_dataframe(frame, label_col="label", id_col="item")
    known = np.isin(ds.labels, ["c0", "c1", "c2", "c3"])
    head = TrainedHead.train(ds.embeddings[known], ds.labels[known], TrainConfig(epochs=30))
    return head, ds, known


def test_discover_groups_what_the_head_refuses(head_and_data):
    head, ds, known = head_and_data
    conf = head.confidence(ds.embeddings, "max_prob")
    threshold = float(np.quantile(conf[~known], 0.9))
    found, pool = discover(head, ds, threshold=threshold)
    assert set(pool) == set(np.flatnonzero(conf < threshold))
    assert list(found.rows["id"]) == list(ds.ids[pool]) and "text" in found.rows.columns
    unseen = ~known[pool]
    assert unseen.sum() == 72  # 90 % of the two unseen blobs' rows
    assert grouping_scores(ds.labels[pool][unseen], found.rows["group"].to_numpy()[unseen]).one_action_accuracy > 0.95
    assert all(g.nearest_class in head.class_names and g.texts for g in found.groups)
    n, _ = discover(head, ds, least_confident=25)
    assert len(n.rows) == 25
    with pytest.raises(DataError, match="--text-col 'nope': no such column"):
        discover(head, ds, threshold=0.5, text_col="nope")


def test_the_groups_csv_round_trip(head_and_data):
    head, ds, _ = head_and_data
    found, _ = discover(head, ds, least_confident=100)
    names = {found.groups[0].group: "brand_new", found.groups[1].group: "still none"}
    frame = found.label_frame(names)
    assert list(frame.columns) == ["id", "group", "new_label"]
    back = read_group_labels(frame.to_csv(index=False), ds)
    first = found.rows["id"][found.rows["group"] == found.groups[0].group]
    assert back == dict.fromkeys(first, "brand_new")  # "still none" leaves its group in the pool
    only_none = found.label_frame({found.groups[0].group: "none"}).to_csv(index=False)
    with pytest.raises(DataError, match="no row has a class"):
        read_group_labels(only_none, ds)
    with pytest.raises(DataError, match="no 'new_label' column"):
        read_group_labels("id,group\nrow1,1\n", ds)


def test_an_experiment_record_keeps_its_grouping_scores_and_old_results_still_load():
    import json

    from conftest import ROOT

    saved = json.loads((ROOT / "tests" / "golden" / "experiment_results.json").read_text())["records"][0]
    record = MethodTrial.from_dict(saved)
    assert isinstance(record.discovery, GroupingScores) and record.discovery.rows == saved["discovery"]["rows"]
    again = MethodTrial.from_dict(json.loads(json.dumps(record.to_dict())))
    assert again.discovery == record.discovery
    old = {k: v for k, v in saved.items() if k != "discovery"}  # results written before issue 27
    assert MethodTrial.from_dict(old).discovery is None
    assert MethodTrial.from_dict({**saved, "discovery": None}).to_dict()["discovery"] is None


def test_rows_all_alike_are_one_group_and_no_big_enough_group_leaves_every_row_ungrouped():
    x = np.tile(np.arange(1.0, 9.0), (30, 1)) * np.linspace(1, 2, 30)[:, None]  # one direction, 30 lengths
    g = group_embeddings(x)
    assert g.n_groups == 1 and g.ungrouped == 0 and np.allclose(g.similarity, 1.0)
    found = discover_groups(x, np.arange(30).astype(str))
    assert [gr.size for gr in found.groups] == [30] and found.fallback is None
    scattered, _ = directions([1] * 25, seed=6)  # 25 unrelated directions; no group can have 26 rows
    none = discover_groups(scattered, np.arange(25).astype(str), min_group_size=26)
    assert none.groups == () and (none.rows["group"] == UNGROUPED).all()
    assert none.fallback == "no group of at least 26 rows was found."
    bad = x.copy()
    bad[3, 2] = np.nan
    with pytest.raises(DataError, match="NaN or infinite"):
        discover_groups(bad, np.arange(30).astype(str))


def test_a_head_without_none_scores_still_groups_without_known_classes(head_and_data):
    import copy

    head, ds, _ = head_and_data
    bare = copy.copy(head)
    bare.scores = None
    found, _ = discover(bare, ds, least_confident=60)
    assert found.groups and (found.rows["nearest_class"] == "").all() and (found.rows["looks_like"] == "").all()
    assert all(g.nearest_class is None for g in found.groups)


def test_a_name_on_one_row_of_a_group_names_the_group_and_two_names_are_refused(head_and_data):
    _, ds, _ = head_and_data
    csv = "id,group,new_label\nrow0,1,\nrow1,1,intent_a\nrow2,1,still none\nrow3,2,\nrow4,0,own\nrow5,0,\n"
    assert read_group_labels(csv, ds) == {"row0": "intent_a", "row1": "intent_a", "row4": "own"}
    with pytest.raises(DataError, match="group 1 has 2 names"):
        read_group_labels("id,group,new_label\nrow0,1,a\nrow1,1,b\n", ds)
    with pytest.raises(DataError, match="no 'group' column"):
        read_group_labels("id,new_label\nrow0,a\n", ds)
    with pytest.raises(DataError, match="upload it in the Groups view"):
        read_queue_labels(csv, ds)


def test_discover_command(head_and_data, tmp_path, capsys):
    head, ds, known = head_and_data
    threshold = f"{np.quantile(head.confidence(ds.embeddings, 'max_prob')[~known], 0.9):.6f}"
    head.save(tmp_path / "model")
    frame = blob_frame(n_classes=6, per_class=40, dim=16)
    frame.drop(columns=["label"]).to_csv(tmp_path / "new.csv", index=False)
    args = ["discover", tmp_path / "model", tmp_path / "new.csv", "--id-col", "item", "--threshold", threshold]
    assert main([str(a) for a in [*args, "--out", tmp_path / "out"]]) == 0
    err = capsys.readouterr().err
    assert "groups," in err and "wrote" in err
    csv = pd.read_csv(tmp_path / "out" / "groups.csv")
    assert list(csv.columns) == ["id", "group", "distance", "nearest_class", "looks_like", "new_label"]
    filled = csv.astype({"new_label": object})
    filled.loc[filled.index[filled["group"] == 1][:1], "new_label"] = "brand_new"  # one row names its group
    labels = read_group_labels(filled.to_csv(index=False), ds)
    assert set(labels) == set(csv["id"][csv["group"] == 1]) and set(labels.values()) == {"brand_new"}
    md = (tmp_path / "out" / "groups.md").read_text()
    assert "| group | rows | tightness |" in md and "## Group 1" in md
    library, _ = discover(head, ds, threshold=float(threshold))
    assert csv["group"].tolist() == library.rows["group"].tolist()  # the same groups as the library's
    code = main([str(a) for a in [*args, "--text-col", "nope", "--out", tmp_path / "bad"]])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "--text-col 'nope'" in err
    code = main([str(a) for a in [*args[:5], "--least-confident", "0", "--out", tmp_path / "bad"]])
    assert code == 2 and "--least-confident" in capsys.readouterr().err
    code = main([str(a) for a in [*args, "--seed", "-1", "--out", tmp_path / "bad"]])
    assert code == 2 and "--seed must be 0 or more" in capsys.readouterr().err
