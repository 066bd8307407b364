import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from embaug_core.evaluation.metrics import (
    NONE,
    auroc_aupr,
    bin_confidences,
    brier_score,
    calibration_summary,
    confidence_accuracy_correlation,
    encode_labels,
    expected_calibration_error,
    maximum_calibration_error,
    negative_log_likelihood,
    top1,
)

# conf and correctness of six rows; with 4 equal-width bins (edges 0, .25, .5, .75, 1):
#   bin 0: 0.0, 0.05 -> n 2, conf .025, acc 0     bin 1: 0.25 -> n 1, conf .25, acc 1
#   bin 2: 0.5       -> n 1, conf .5,   acc 1     bin 3: 1.0, .95 -> n 2, conf .975, acc .5
CONF = np.array([0.0, 0.05, 0.25, 0.5, 1.0, 0.95])
CORRECT = np.array([False, False, True, True, True, False])


def test_bins_hand_values_and_edges():
    b = bin_confidences(CONF, CORRECT, n_bins=4)
    assert b.edges.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert b.counts.tolist() == [2, 1, 1, 2]  # 0.0 in the first bin, 1.0 in the last
    assert np.allclose(b.mean_confidence, [0.025, 0.25, 0.5, 0.975])
    assert np.allclose(b.accuracy, [0.0, 1.0, 1.0, 0.5])
    # ECE = (2*.025 + 1*.75 + 1*.5 + 2*.475) / 6 = 2.25 / 6
    assert expected_calibration_error(b) == pytest.approx(0.375)
    assert maximum_calibration_error(b) == pytest.approx(0.75)
    # Pearson of (.025,.25,.5,.975) and (0,1,1,.5), worked by hand: .14375 / sqrt(.498125 * .6875)
    assert confidence_accuracy_correlation(b) == pytest.approx(0.14375 / math.sqrt(0.498125 * 0.6875))


def test_defect_9_bin_edges_carry_no_float_noise():
    b = bin_confidences(CONF, CORRECT, n_bins=10)
    assert b.edges.tolist() == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    assert "0.30000000000000004" not in repr(b.to_dict())
    # a confidence of exactly 0.3 opens bin 3 (bins are left-closed)
    assert bin_confidences([0.3], [True], n_bins=10).counts[3] == 1


def test_empty_bins_are_skipped_not_counted():
    # with 8 bins the same rows land in bins 0, 2, 4, 7; bins 1, 3, 5, 6 are empty
    b = bin_confidences(CONF, CORRECT, n_bins=8)
    assert b.counts.tolist() == [2, 0, 1, 0, 1, 0, 0, 2]
    assert np.isnan(b.accuracy[[1, 3, 5, 6]]).all()
    assert expected_calibration_error(b) == pytest.approx(0.375)
    assert maximum_calibration_error(b) == pytest.approx(0.75)
    assert confidence_accuracy_correlation(b) == pytest.approx(0.14375 / math.sqrt(0.498125 * 0.6875))


def test_exact_zero_and_one_confidences():
    b = bin_confidences([0.0, 1.0, 1.0], [False, True, True], n_bins=10)
    assert b.counts[0] == 1 and b.counts[-1] == 2 and b.counts.sum() == 3
    assert expected_calibration_error(b) == 0.0
    q = bin_confidences([0.0, 1.0, 1.0], [False, True, True], n_bins=3, strategy="quantile")
    assert q.counts.sum() == 3 and q.edges[0] == 0.0 and q.edges[-1] == 1.0


def test_equal_mass_bins_hold_equal_counts():
    conf = np.linspace(0.005, 0.995, 100)
    b = bin_confidences(conf, conf > 0.5, n_bins=5, strategy="quantile")
    assert b.counts.tolist() == [20] * 5


def test_correlation_undefined_with_one_bin():
    b = bin_confidences([0.91, 0.92], [True, False], n_bins=10)
    assert math.isnan(confidence_accuracy_correlation(b))


def test_no_rows():
    b = bin_confidences([], [], n_bins=5)
    assert expected_calibration_error(b) == 0.0 and maximum_calibration_error(b) == 0.0


def test_bad_confidences_raise():
    from embaug_core.errors import EmbaugError

    with pytest.raises(EmbaugError, match=r"\[0, 1\]"):
        bin_confidences([1.2], [True])
    with pytest.raises(EmbaugError, match="strategy"):
        bin_confidences([0.5], [True], strategy="log")


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=60), st.integers(1, 20))
def test_binning_invariants(rows, n_bins):
    conf = np.array([r[0] for r in rows])
    correct = np.array([r[1] for r in rows])
    for strategy in ("uniform", "quantile"):
        b = bin_confidences(conf, correct, n_bins=n_bins, strategy=strategy)
        assert b.counts.sum() == len(rows)
        assert b.correct_sum.sum() == correct.sum()
        ece = expected_calibration_error(b)
        assert 0.0 <= ece <= maximum_calibration_error(b) + 1e-12 <= 1.0 + 1e-12
        ok = b.nonempty
        assert np.all(
            (b.mean_confidence[ok] >= b.edges[:-1][ok] - 1e-12) & (b.mean_confidence[ok] <= b.edges[1:][ok] + 1e-12)
        )


def test_top1_and_encode():
    pred, conf = top1([[0.1, 0.7, 0.2], [0.5, 0.4, 0.45]])
    assert pred.tolist() == [1, 0] and conf.tolist() == [0.7, 0.5]
    assert encode_labels(["b", "z", "a"], ["a", "b"]).tolist() == [1, NONE, 0]


def test_brier_and_nll_hand_values():
    probs = np.array([[0.8, 0.1], [0.3, 0.6]])
    y = np.array([0, NONE])  # the second row is "none": its target is all zeros
    # (0.2^2 + 0.1^2 + 0.3^2 + 0.6^2) / 2
    assert brier_score(probs, y) == pytest.approx((0.04 + 0.01 + 0.09 + 0.36) / 2)
    expected_nll = -(math.log(0.8) + math.log(0.9) + math.log(0.7) + math.log(0.4)) / 2
    assert negative_log_likelihood(probs, y) == pytest.approx(expected_nll)


def test_brier_matches_sklearn_per_class_sum():
    rng = np.random.default_rng(0)
    probs = rng.uniform(size=(50, 3))
    y = rng.integers(-1, 3, 50)
    per_class = sum(brier_score_loss((y == k).astype(int), probs[:, k]) for k in range(3))
    assert brier_score(probs, y) == pytest.approx(per_class)


def test_auroc_aupr_match_a_per_class_sklearn_computation():
    rng = np.random.default_rng(1)
    n, c = 300, 4
    y = rng.integers(-1, c, n)
    probs = rng.uniform(size=(n, c)) * 0.5
    probs[np.arange(n)[y >= 0], y[y >= 0]] += 0.4  # informative scores
    auroc, aupr = auroc_aupr(probs, y)
    conf = probs.max(1)
    cols = [(y == k, probs[:, k]) for k in range(c)] + [(y == NONE, 1 - conf)]
    weights = np.array([t.sum() for t, _ in cols], dtype=float)
    ref_roc = sum(w * roc_auc_score(t, s) for w, (t, s) in zip(weights, cols, strict=True)) / weights.sum()
    ref_pr = sum(w * average_precision_score(t, s) for w, (t, s) in zip(weights, cols, strict=True)) / weights.sum()
    assert auroc == pytest.approx(ref_roc)
    assert aupr == pytest.approx(ref_pr)
    assert 0.5 < auroc <= 1.0


def test_auroc_skips_classes_without_rows_and_perfect_scores_give_one():
    probs = np.array([[0.9, 0.1, 0.0], [0.1, 0.9, 0.0], [0.2, 0.1, 0.0]])
    y = np.array([0, 1, NONE])  # class 2 has no rows: left out, not an error
    auroc, aupr = auroc_aupr(probs, y)
    assert auroc == pytest.approx(1.0) and aupr == pytest.approx(1.0)


def test_calibration_summary_reads_everything_from_one_binning():
    rng = np.random.default_rng(2)
    probs = rng.uniform(size=(200, 5))
    y = rng.integers(-1, 5, 200)
    s = calibration_summary(probs, y, n_bins=10)
    assert s.ece == pytest.approx(expected_calibration_error(s.bins))
    assert s.correlation == pytest.approx(confidence_accuracy_correlation(s.bins)) or math.isnan(s.correlation)
    d = s.to_dict()
    assert d["reliability"]["counts"] == s.bins.counts.tolist()
    # "none" rows are never correct
    pred, conf = top1(probs)
    assert s.bins.correct_sum.sum() == ((pred == y) & (y != NONE)).sum()


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(4, 120),
    k=st.integers(1, 5),
    decimals=st.integers(1, 3),
    rate=st.floats(0.05, 0.95),
    seed=st.integers(0, 2**16),
)
def test_vectorised_auroc_and_average_precision_equal_scikit_learn_with_ties(n, k, decimals, rate, seed):
    from sklearn.metrics import average_precision_score, roc_auc_score

    from embaug_core.evaluation.metrics import _ovr_auroc_aupr

    rng = np.random.default_rng(seed)
    truth = (rng.random((n, k)) < rate).astype(float)
    truth[0], truth[1] = 1.0, 0.0  # both values in every column
    scores = np.round(rng.random((n, k)), decimals)  # coarse scores: many ties
    auroc, aupr = _ovr_auroc_aupr(truth, scores)
    for j in range(k):
        assert auroc[j] == pytest.approx(roc_auc_score(truth[:, j], scores[:, j]), abs=1e-12)
        assert aupr[j] == pytest.approx(average_precision_score(truth[:, j], scores[:, j]), abs=1e-12)
