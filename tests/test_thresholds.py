import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embaug_core.errors import EmbaugError
from embaug_core.thresholds import ThresholdSweep, intersection_threshold, ratio_threshold

# Five rows, worked by hand in the tests below.
#   conf    0.9   0.8   0.6   0.4   0.2
#   correct T     F     T     -     -
#   none    F     F     F     T     T
SWEEP = ThresholdSweep([0.9, 0.8, 0.6, 0.4, 0.2], [True, False, True, False, False], [False, False, False, True, True])


@pytest.mark.parametrize(
    "t, id_acc, none_acc, overall, id_counts, none_counts, mean_ratio",
    [
        # t=0.5 accepts rows 0,1,2: ID TP 2, FP 1 (row 1 wrong), FN 1; none TP 2, FP 0, FN 0
        (0.5, 2 / 3, 1.0, 4 / 5, (2, 1, 1), (2, 0, 0), (2 / 2 + 2 / 1) / 2),
        # t=0.3 also accepts the none row 3: ID FP 2; none TP 1, FN 1
        (0.3, 2 / 3, 0.5, 3 / 5, (2, 2, 1), (1, 0, 1), (2 / 3 + 1 / 1) / 2),
        # t=0.7 accepts rows 0,1: ID TP 1, FP 1, FN 2; none TP 2, FP 1 (row 2 rejected)
        (0.7, 1 / 3, 1.0, 3 / 5, (1, 1, 2), (2, 1, 0), (1 / 3 + 2 / 1) / 2),
        # t=0.95 rejects all: ID TP 0, FN 3; none TP 2, FP 3
        (0.95, 0.0, 1.0, 2 / 5, (0, 0, 3), (2, 3, 0), (0 + 2 / 3) / 2),
        # confidence == threshold is accepted
        (0.6, 2 / 3, 1.0, 4 / 5, (2, 1, 1), (2, 0, 0), 1.5),
    ],
)
def test_operating_points_hand_values(t, id_acc, none_acc, overall, id_counts, none_counts, mean_ratio):
    p = SWEEP.at(t)
    assert p.id_accuracy == pytest.approx(id_acc)
    assert p.none_accuracy == pytest.approx(none_acc)
    assert p.overall_accuracy == pytest.approx(overall)
    assert (p.id_tp, p.id_fp, p.id_fn) == id_counts
    assert (p.none_tp, p.none_fp, p.none_fn) == none_counts
    assert p.mean_ratio == pytest.approx(mean_ratio)


def test_intersection_hand_value():
    # overall - none on the 0.001 grid: +0.1 at t=0.400 (row 3 still accepted), -0.2 at t=0.401
    h = intersection_threshold(SWEEP.curve())
    assert h.exact
    assert h.threshold == pytest.approx(0.400 + 0.001 * 0.1 / 0.3)


def test_ratio_hand_value():
    # mean ratio is maximal (1.5) for t in (0.4, 0.6]: grid points 0.401 .. 0.600, middle 0.5005 -> index 500
    h = ratio_threshold(SWEEP.curve())
    assert h.threshold == pytest.approx(0.5)


def test_intersection_when_curves_never_cross():
    # curves that touch: overall - none is 2/3 up to t=0.9 and exactly 0 from t=0.901 on
    s = ThresholdSweep([1.0, 1.0, 0.9], [True, True, False], [False, False, True])
    h = intersection_threshold(s.curve())
    assert h.exact and h.threshold == pytest.approx(0.901)
    # a none row with confidence 1 can never be rejected (that would need t > 1): no crossing
    s2 = ThresholdSweep([1.0, 1.0, 1.0], [True, True, False], [False, False, True])
    h2 = intersection_threshold(s2.curve())
    assert not h2.exact
    assert "never cross" in h2.note


def test_heuristics_need_none_rows():
    s = ThresholdSweep([0.9, 0.4], [True, False], [False, False])
    with pytest.raises(EmbaugError, match="'none' category"):
        intersection_threshold(s.curve())
    with pytest.raises(EmbaugError, match="'none' category"):
        ratio_threshold(s.curve())


def test_threshold_out_of_range():
    with pytest.raises(EmbaugError, match=r"\[0, 1\]"):
        SWEEP.at(1.5)


def _naive(conf, correct, none, t):
    acc = conf >= t
    good = acc & correct
    n_none = none.sum()
    n_id = len(conf) - n_none
    return (
        good.sum() / n_id if n_id else np.nan,
        (~acc & none).sum() / n_none if n_none else np.nan,
        (good.sum() + (~acc & none).sum()) / len(conf),
    )


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.tuples(st.floats(0, 1), st.sampled_from(["right", "wrong", "none"])), min_size=1, max_size=40),
    ts=st.lists(st.floats(0, 1), min_size=1, max_size=10),
)
def test_vectorised_sweep_equals_a_naive_loop(rows, ts):
    conf = np.array([r[0] for r in rows])
    correct = np.array([r[1] == "right" for r in rows])
    none = np.array([r[1] == "none" for r in rows])
    curve = ThresholdSweep(conf, correct, none).curve(ts)
    for i, t in enumerate(ts):
        ida, nonea, overall = _naive(conf, correct, none, t)
        np.testing.assert_allclose([curve.id_accuracy[i], curve.none_accuracy[i], curve.overall_accuracy[i]],
                                   [ida, nonea, overall], equal_nan=True)
    # none accuracy can only grow with the threshold, ID accuracy only fall
    full = ThresholdSweep(conf, correct, none).curve()
    if none.any():
        assert np.all(np.diff(full.none_accuracy) >= 0)
    if (~none).any():
        assert np.all(np.diff(full.id_accuracy) <= 0)


def test_from_probs():
    probs = np.array([[0.9, 0.1], [0.2, 0.3], [0.6, 0.7]])
    s = ThresholdSweep.from_probs(probs, np.array([0, -1, 0]))
    p = s.at(0.5)
    # row 0 accepted and right; row 1 (none) rejected; row 2 accepted with the wrong class
    assert (p.id_tp, p.id_fp, p.none_tp) == (1, 1, 1)
