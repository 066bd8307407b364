"""Risk–coverage, AURC / E-AURC and class-wise ECE: hand-computed values and brute-force oracles."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embaug_core.evaluation.metrics import classwise_ece
from embaug_core.evaluation.selective import risk_coverage


def test_aurc_by_hand():
    rc = risk_coverage([0.9, 0.8, 0.7, 0.6], [True, False, True, False])
    np.testing.assert_allclose(rc.risk, [0, 1 / 2, 1 / 3, 1 / 2])
    assert rc.aurc == pytest.approx((0 + 1 / 2 + 1 / 3 + 1 / 2) / 4)
    # the best ranking of 2 right answers: risks 0, 0, 1/3, 1/2
    assert rc.optimal_aurc == pytest.approx((1 / 3 + 1 / 2) / 4)
    assert rc.e_aurc == pytest.approx(0.125)
    np.testing.assert_allclose(rc.coverage, [0.25, 0.5, 0.75, 1.0])


def test_ties_are_the_expectation_over_orders():
    rc = risk_coverage([0.9, 0.9], [True, False])
    np.testing.assert_allclose(rc.risk, [0.5, 0.5])  # k=1: the right or the wrong one, equally likely


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.2, 0.5, 0.9]), st.booleans()), min_size=1, max_size=6))
def test_aurc_equals_the_mean_over_every_tie_breaking_order(rows):
    """Oracle: the plain sorted-order AURC (as in torch-uncertainty), averaged over all orders
    that sort the confidences descending."""
    conf = np.array([c for c, _ in rows])
    right = np.array([r for _, r in rows])
    values = []
    for perm in itertools.permutations(range(len(rows))):
        p = np.array(perm)
        if np.all(np.diff(conf[p]) <= 0):
            wrong = np.cumsum(~right[p])
            values.append(np.mean(wrong / np.arange(1, len(p) + 1)))
    assert risk_coverage(conf, right).aurc == pytest.approx(np.mean(values))


def test_classwise_ece_by_hand():
    # two classes, 10 bins; rows: (p0, p1, y)
    probs = np.array([[0.95, 0.05], [0.95, 0.05], [0.15, 0.85], [0.15, 0.85]])
    y = np.array([0, -1, 1, 1])  # the second row is "none": a negative for both classes
    # class 0: bin [0.9, 1]: conf 0.95, acc 1/2 -> 2/4 * 0.45; bin [0.1, 0.2): conf 0.15, acc 0 -> 2/4 * 0.15
    # class 1: bin [0.0, 0.1): conf 0.05, acc 0 -> 2/4 * 0.05; bin [0.8, 0.9): conf 0.85, acc 1 -> 2/4 * 0.15
    expected = ((0.45 + 0.15) / 2 + (0.05 + 0.15) / 2) / 2
    assert classwise_ece(probs, y) == pytest.approx(expected)


def test_classwise_ece_is_small_for_calibrated_probabilities():
    rng = np.random.default_rng(0)
    p = rng.random((20000, 1))
    y = np.where(rng.random(20000) < p[:, 0], 0, -1)  # class 0 with exactly its probability
    assert classwise_ece(p, y) < 0.02
    assert classwise_ece(np.clip(p + 0.3, 0, 1), y) > 0.2  # and large when it is off


def test_ece_agrees_with_torchmetrics():
    """Oracle: torchmetrics' top-label (multiclass) and binary calibration errors, 10 equal-width bins."""
    from embaug_core._compat import ensure_torchvision

    ensure_torchvision()  # torchmetrics imports torchvision, whose PyPI build lacks CPU ops here
    import torch
    from torchmetrics.functional.classification import binary_calibration_error, multiclass_calibration_error

    from embaug_core.evaluation.metrics import calibration_summary

    rng = np.random.default_rng(0)
    p = rng.random((3000, 5)) ** 3  # sigmoid-like outputs, not summing to one
    y = rng.integers(0, 5, 3000)
    ours = calibration_summary(p, y, n_bins=10).ece
    theirs = multiclass_calibration_error(torch.tensor(p), torch.tensor(y), num_classes=5, n_bins=10, norm="l1")
    assert ours == pytest.approx(float(theirs), abs=1e-6)
    per_class = [
        float(binary_calibration_error(torch.tensor(p[:, c]), torch.tensor((y == c).astype(np.int64)), n_bins=10))
        for c in range(5)
    ]
    assert classwise_ece(p, y) == pytest.approx(np.mean(per_class), abs=1e-6)
