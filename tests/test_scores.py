"""The none-score family: hand-checked values, oracles, the percentile scale and saving."""

from dataclasses import replace

import numpy as np
import pytest
from conftest import auto_precision
from scipy.spatial.distance import mahalanobis

from embaug_core.evaluation.distances import knn_distance
from embaug_core.evaluation.metrics import sigmoid
from embaug_core.evaluation.score_validation import ScoreValidation
from embaug_core.evaluation.scores import SCORE_NAMES, ScoreBank, ScoreConfig


def _blobs(rng, n_per, centers, dim=8, spread=0.5):
    x = np.concatenate([c + spread * rng.standard_normal((n_per, dim)) for c in centers])
    y = np.repeat(np.arange(len(centers)), n_per)
    return x, y


def _logits(x, centers):  # a stand-in head: closer to a centre = larger logit
    d = ((x[:, None, :] - np.asarray(centers)[None]) ** 2).sum(-1)
    return 4.0 - d


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    centers = [np.eye(8)[i] * 4 for i in range(3)]
    x, y = _blobs(rng, 100, centers)
    return ScoreBank.fit(x, y, _logits(x, centers), config=ScoreConfig(knn_k=2)), x, y, centers, rng


def test_knn_distance_by_hand():
    bank = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    q = np.array([[2.0, 0.0]])  # cosines to the bank: 1, 0, 1/sqrt(2)
    assert knn_distance(bank, q, 1)[0] == pytest.approx(0.0)
    assert knn_distance(bank, q, 2)[0] == pytest.approx(1 - 1 / np.sqrt(2))
    assert knn_distance(bank, q, 3)[0] == pytest.approx(1.0)
    # leave-one-out: a bank row's own entry does not count
    assert knn_distance(bank, bank[:1], 1, skip_self=True)[0] == pytest.approx(1 - 1 / np.sqrt(2))


def test_mahalanobis_against_scipy(fitted):
    sb, x, y, centers, rng = fitted
    q = rng.standard_normal((5, 8)) * 3
    within = [min(mahalanobis(r, m, sb.precision) ** 2 for m in sb.class_means) for r in q]
    background = [mahalanobis(r, sb.background_mean, sb.background_precision) ** 2 for r in q]
    np.testing.assert_allclose(sb.none_score("mahalanobis", q, None), np.subtract(within, background), rtol=1e-8)


def test_max_prob_and_energy_by_hand():
    z = np.array([[0.0, np.log(3.0)]])  # sigmoid: 0.5, 0.75; softplus: log 2, log 4
    sb = ScoreBank.__new__(ScoreBank)
    assert sb._raw("max_prob", None, z)[0] == pytest.approx(0.25)
    assert sb._raw("energy", None, z)[0] == pytest.approx(-np.log(8.0))


def test_every_score_is_higher_far_from_the_training_data(fitted):
    sb, x, y, centers, rng = fitted
    near = centers[0] + 0.3 * rng.standard_normal((50, 8))
    far = -4 * np.eye(8)[5] + 0.3 * rng.standard_normal((50, 8))
    for name in SCORE_NAMES:
        s_near = sb.none_score(name, near, _logits(near, centers))
        s_far = sb.none_score(name, far, _logits(far, centers))
        assert np.median(s_far) > np.median(s_near), name
        c_near = sb.confidence(name, near, _logits(near, centers))
        c_far = sb.confidence(name, far, _logits(far, centers))
        assert ((0 <= c_near) & (c_near <= 1)).all() and ((0 <= c_far) & (c_far <= 1)).all()
        assert np.median(c_far) < np.median(c_near), name


def test_the_percentile_scale_is_strictly_monotone_and_calibrated_on_fresh_rows(fitted):
    sb, x, y, centers, rng = fitted
    for name in ("energy", "knn", "mahalanobis", "fused"):
        q = np.sort(sb._reference_raw(name))
        span = q[-1] - q[0]
        s = np.r_[np.linspace(q[0] - 5 * span, q[-1], 1000), q[-1] + span * np.geomspace(1e-3, 1e6, 1000)]
        c = sb.to_confidence(name, s)
        assert (np.diff(c) < 0).all(), name  # strictly decreasing, both tails included
        assert c[-1] > 0  # the farthest rows still rank among themselves
    fresh, _ = _blobs(rng, 2000, centers)
    c = sb.confidence("mahalanobis", fresh, _logits(fresh, centers))
    # the share of fresh known rows below the 0.1 percentile is about 0.1 (Mahalanobis barely overfits)
    assert np.mean(c < 0.1) == pytest.approx(0.1, abs=0.04)


def test_max_prob_confidence_is_the_top_probability(fitted):
    sb, x, y, centers, rng = fitted
    z = _logits(x[:10], centers)
    np.testing.assert_allclose(sb.confidence("max_prob", x[:10], z), sigmoid(z).max(1))


def test_validation_chooses_k_and_the_weight():
    rng = np.random.default_rng(1)
    centers = [np.eye(8)[i] * 4 for i in range(4)]
    x, y = _blobs(rng, 60, centers)
    vx, vy = _blobs(rng, 30, centers)
    far = -4 * np.eye(8)[6] + rng.standard_normal((40, 8))
    val = ScoreValidation(
        bank_x=x,
        known_x=vx,
        known_max_prob=1 - sigmoid(_logits(vx, centers)).max(1),
        none_x=far,
        none_max_prob=1 - sigmoid(_logits(far, centers)).max(1),
    )
    sb = ScoreBank.fit(x, y, _logits(x, centers), validation=val)
    assert sb.knn_k_source == "validation" and sb.fused_weight_source == "removed classes"
    assert 0 <= sb.fused_weight <= 1 and sb.z_source == "held-out known rows"
    # too few "none" rows: the stated defaults
    few = ScoreValidation(x, vx, val.known_max_prob, far[:5], val.none_max_prob[:5])
    sb2 = ScoreBank.fit(x, y, _logits(x, centers), validation=few, config=ScoreConfig(default_fused_weight=0.5))
    assert (sb2.knn_k, sb2.knn_k_source, sb2.fused_weight, sb2.fused_weight_source) == (1, "default", 0.5, "default")


def test_the_bank_is_capped_and_the_scores_survive_saving(fitted):
    sb, x, y, centers, rng = fitted
    capped = ScoreBank.fit(x, y, _logits(x, centers), config=ScoreConfig(knn_bank_cap=50))
    assert capped.bank.shape == (50, 8) and len(capped.ref_idx) == 50
    # another k or weight (what a threshold file records) gives that score, percentile scale included
    k3 = sb.with_params(knn_k=3)
    np.testing.assert_allclose(k3.none_score("knn", x[:5], None), knn_distance(x, x[:5], 3), atol=1e-6)
    assert k3.knn_k_source == "given" and sb.knn_k == 2
    again = ScoreBank.from_saved(sb.arrays(), sb.meta())
    q = rng.standard_normal((20, 8)) * 2
    for name in SCORE_NAMES:
        np.testing.assert_array_equal(
            again.confidence(name, q, _logits(q, centers)), sb.confidence(name, q, _logits(q, centers))
        )


def test_defect_3_a_head_scores_new_known_rows_mid_scale_not_near_0():
    """Issue 28, point 3: the percentile scale was taken from the head's own training rows, on which it is
    far more confident than on any new row, so every new known row's energy and fused percentile was near 0
    (all three Threshold-page heuristics read 0.000). With the auto recipe the scale now comes from the
    validation split's held-out known rows: new known rows land mid-scale, "none" rows lower."""
    from conftest import blobs

    from embaug_core.evaluation.metrics import encode_labels
    from embaug_core.training.config import TrainConfig
    from embaug_core.training.trained_head import TrainedHead

    x, labels = blobs(n_classes=16, per_class=40, dim=64, spread=0.5, seed=3)  # few rows, many dimensions
    known = ~np.isin(labels, ["c14", "c15"])
    train = np.zeros(len(x), dtype=bool)
    train[np.flatnonzero(known)[::2]] = True
    head = TrainedHead.train(x[train], labels[train], TrainConfig.preset(method="e_stitchup", seed=0))
    assert head.scores.reference_source == "held-out known rows"
    y = encode_labels(labels[~train], head.class_names)
    for name in ("energy", "knn", "mahalanobis", "fused"):
        c = head.confidence(x[~train], name)
        assert 0.3 <= np.median(c[y >= 0]) <= 0.75, name  # before: energy 0.03
        assert np.median(c[y < 0]) < np.median(c[y >= 0]), name


@pytest.mark.xfail(
    auto_precision() == "float32",
    reason="known defect (docs/limits.md, percentile scores): where the auto recipe trains in float32 "
    "(a CPU without AVX512-BF16) the evaluation rows' energy percentile median is 0.717 (measured "
    "2026-12-07 on an AVX2 CPU, with and without none_share): the final head, trained on all rows, is more "
    "confident than the validation head whose held-out rows are the percentile's reference",
    strict=False,
)
def test_defect_3_on_the_bundled_sample_every_percentile_median_of_held_out_known_rows_is_mid_scale():
    """Issue 28's acceptance: the dashboard's default protocol on the bundled sample (10 % of the rows train,
    10 intents unseen, the auto recipe); every percentile score of the evaluation rows' known rows, and of
    the validation rows where heuristics 1 and 2 are chosen, has its median in [0.3, 0.7]."""
    from pathlib import Path

    from embaug_core import ExperimentConfig, TrainConfig, load_embeddings, run_experiment

    sample = Path(__file__).resolve().parent.parent / "sample_data" / "clinc150_minilm.npz"
    ds = load_embeddings(sample, label_col="intent", id_col="id")
    config = ExperimentConfig(methods=("control",), n_trials=1, unseen_classes=10, train=TrainConfig.preset("auto"))
    art = run_experiment(ds, config, keep_artifacts=True).artifacts[("control", 0)]
    for name in ("energy", "knn", "mahalanobis", "fused"):
        val_conf, eval_conf = art.by_score[name]
        assert 0.3 <= np.median(eval_conf[art.y_eval >= 0]) <= 0.7, name
        assert 0.3 <= np.median(val_conf[art.y_val >= 0]) <= 0.7, name


def test_the_fused_weight_follows_the_held_out_classes_and_the_none_examples_break_ties():
    """best_fused_weight against a brute-force reference with scikit-learn's AUROC: with rows of held-out
    classes ("near") the weight maximises their AUROC against known rows (ties within 0.001 go to the none
    examples' AUROC); without them, the none examples' AUROC alone. Near rows shifted on the max-prob half and
    none rows shifted on the distance half pull in opposite directions, so the two rules differ."""
    from sklearn.metrics import roc_auc_score

    from embaug_core.evaluation.scores import NEAR_AUROC_TIE, WEIGHT_GRID, best_fused_weight

    rng = np.random.default_rng(0)
    known = (rng.normal(size=400), rng.normal(size=400))
    near = (rng.normal(1.0, 1.0, 200), rng.normal(0.3, 1.0, 200))
    none = (rng.normal(0.2, 1.0, 300), rng.normal(2.0, 1.0, 300))

    def auc(other, w):
        k, o = (1 - w) * known[0] + w * known[1], (1 - w) * other[0] + w * other[1]
        return roc_auc_score(np.r_[np.zeros(len(k)), np.ones(len(o))], np.r_[k, o])

    near_auc = np.array([auc(near, w) for w in WEIGHT_GRID])
    tied = WEIGHT_GRID[near_auc >= near_auc.max() - NEAR_AUROC_TIE]
    expected = tied[int(np.argmax([auc(none, w) for w in tied]))]
    assert best_fused_weight(known, none, near) == pytest.approx(expected)
    unconstrained = WEIGHT_GRID[int(np.argmax([auc(none, w) for w in WEIGHT_GRID]))]
    assert best_fused_weight(known, none) == pytest.approx(unconstrained)
    assert expected < 0.5 < unconstrained  # the held-out classes keep the weight off the distance


def test_with_none_examples_the_removed_classes_choose_the_weight_unless_they_are_too_few():
    """ScoreValidation.with_none_examples keeps the removed classes' rows as the "near" rows that choose the
    fused weight (best_fused_weight with them); with fewer than min_none_rows of them, the none examples alone.
    The near rows sit among the known ones but are unsure (max-prob tells them apart, the distance cannot);
    the none examples are far but look sure (only the distance tells them apart): the two choices differ."""
    from embaug_core.evaluation.scores import best_fused_weight

    rng = np.random.default_rng(2)
    centers = [np.eye(8)[i] * 4 for i in range(4)]
    x, y = _blobs(rng, 60, centers)
    vx, _ = _blobs(rng, 30, centers)
    known_mp = 1 - sigmoid(_logits(vx, centers)).max(1)
    near, _ = _blobs(rng, 10, centers)  # 40 rows among the known ones ...
    near_mp = np.full(len(near), known_mp.max() + 0.1)  # ... that the head is unsure about
    far = -4 * np.eye(8)[6] + rng.standard_normal((40, 8))
    far_mp = rng.choice(known_mp, len(far))  # far away, but as sure as known rows:
    far_logits = np.full((len(far), len(centers)), -40.0)
    far_logits[:, 0] = np.log((1 - far_mp) / far_mp)  # a top probability of 1 - far_mp

    removed = ScoreValidation(x, vx, known_mp, near, near_mp)
    chosen = {}
    for n in (len(near), 5):
        check = replace(removed, none_x=near[:n], none_max_prob=near_mp[:n]).with_none_examples(far, far_logits)
        assert check.none_source == "none examples" and len(check.near_x) == n
        sb = ScoreBank.fit(x, y, _logits(x, centers), validation=check)
        (m0, s0), (m1, s1) = sb.fused_z  # the z scale choose() set: the same choice by hand on it

        def pair(rows, mp, sb=sb, m0=m0, s0=s0, m1=m1, s1=s1):
            return (mp - m0) / s0, (knn_distance(x, rows, sb.knn_k) - m1) / s1

        near_pair = pair(near[:n], near_mp[:n]) if n >= sb.config.min_none_rows else None
        assert sb.fused_weight == pytest.approx(best_fused_weight(pair(vx, known_mp), pair(far, far_mp), near_pair))
        chosen[n] = sb.fused_weight
    assert chosen[len(near)] < chosen[5]  # the near rows keep the weight on max-prob; too few do not
