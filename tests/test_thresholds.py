import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from embaug_core.errors import EmbaugError
from embaug_core.evaluation.thresholds import (
    DEFAULT_GRID,
    ThresholdSweep,
    accuracies_at,
    intersection_threshold,
    is_accepted,
    ratio_threshold,
    route,
)

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


def test_pieces_hand_values():
    left, right = SWEEP.pieces()
    np.testing.assert_array_equal(right, [0.2, 0.4, 0.6, 0.8, 0.9, 1.0])
    np.testing.assert_array_equal(left, [0.0, 0.2, 0.4, 0.6, 0.8, 0.9])


def test_intersection_hand_value():
    # overall - none: +0.4 on [0, 0.2], +0.1 on (0.2, 0.4], -0.2 on (0.4, 0.6]: middle of (0.4, 0.6]
    h = intersection_threshold(SWEEP)
    assert h.exact
    assert h.threshold == pytest.approx(0.5)


def test_ratio_hand_value():
    # mean ratio is maximal (1.5) exactly on (0.4, 0.6]; its middle is 0.5
    h = ratio_threshold(SWEEP)
    assert h.threshold == pytest.approx(0.5)


def test_intersection_when_curves_never_cross():
    # curves that touch: overall - none is 2/3 on [0, 0.9] and exactly 0 on (0.9, 1]
    s = ThresholdSweep([1.0, 1.0, 0.9], [True, True, False], [False, False, True])
    h = intersection_threshold(s)
    assert h.exact and h.threshold == pytest.approx(0.95)
    # a none row with confidence 1 can never be rejected (that would need t > 1): no crossing
    s2 = ThresholdSweep([1.0, 1.0, 1.0], [True, True, False], [False, False, True])
    h2 = intersection_threshold(s2)
    assert not h2.exact
    assert "never cross" in h2.note


def test_defect_1_heuristics_searched_only_on_a_grid():
    # An over-confident head: right ID answers at 0.9999, "none" rows and a wrong answer at
    # 0.9993-0.9995. The best ratio needs a threshold in (0.9995, 0.9999]; no point of the
    # 0.001 grid lies there, and the old grid search returned 0.499.
    conf = [0.9999] * 8 + [0.9995] * 4 + [0.9993]
    correct = [True] * 8 + [False] * 5
    none = [False] * 8 + [True] * 4 + [False]
    s = ThresholdSweep(conf, correct, none)
    h = ratio_threshold(s)
    assert 0.9995 < h.threshold <= 0.9999
    assert h.threshold == pytest.approx(0.9997)
    best = s.at(h.threshold).mean_ratio
    assert best == pytest.approx(8 / 1 * 0.5 + 4 / 1 * 0.5)  # ID: TP 8, FN 0, FP 0 -> 8/1; none: TP 4, FP 1 -> 4/1
    assert best > s.curve(DEFAULT_GRID).mean_ratio.max()
    # the intersection is found in the same interval
    assert 0.9995 < intersection_threshold(s).threshold <= 0.9999


def test_defect_9_grid_is_exact_decimals():
    assert DEFAULT_GRID[300] == 0.3 and DEFAULT_GRID[1] == 0.001 and DEFAULT_GRID[-1] == 1.0


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(st.floats(0, 1), st.sampled_from(["right", "wrong", "none"])), min_size=2, max_size=30))
@example(rows=[(0.0, "none"), (5e-324, "right")])  # an interval too narrow to have a middle
def test_ratio_heuristic_is_the_exact_maximum(rows):
    conf = np.array([r[0] for r in rows])
    correct = np.array([r[1] == "right" for r in rows])
    none = np.array([r[1] == "none" for r in rows])
    if none.all() or not none.any():
        return
    s = ThresholdSweep(conf, correct, none)
    h = ratio_threshold(s)
    dense = np.unique(np.concatenate([conf, np.nextafter(conf, 2), [0.0, 1.0], DEFAULT_GRID]))
    dense = dense[dense <= 1.0]
    assert s.at(h.threshold).mean_ratio == pytest.approx(s.curve(dense).mean_ratio.max())


def test_heuristics_need_none_rows():
    s = ThresholdSweep([0.9, 0.4], [True, False], [False, False])
    with pytest.raises(EmbaugError, match="'none' category"):
        intersection_threshold(s)
    with pytest.raises(EmbaugError, match="'none' category"):
        ratio_threshold(s)


def test_route_answers_top_class_or_none():
    probs = np.array([[0.9, 0.1], [0.2, 0.3], [0.6, 0.6]])
    np.testing.assert_array_equal(route(probs, 0.3, ["a", "b"]), ["a", "b", "a"])  # conf == t is accepted
    np.testing.assert_array_equal(route(probs, 0.6, ["a", "b"]), ["a", "none", "a"])
    np.testing.assert_array_equal(route(probs, 0.95, ["a", "b"], none_answer="?"), ["?", "?", "?"])
    with pytest.raises(EmbaugError, match=r"\[0, 1\]"):
        route(probs, 1.5, ["a", "b"])


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.tuples(st.floats(0, 1), st.sampled_from(["right", "wrong", "none"])), min_size=1, max_size=30),
    t=st.floats(0, 1),
)
def test_sweep_counts_agree_with_the_accept_rule(rows, t):
    conf = np.array([r[0] for r in rows])
    correct = np.array([r[1] == "right" for r in rows])
    none = np.array([r[1] == "none" for r in rows])
    p = ThresholdSweep(conf, correct, none).at(t)
    accepted = is_accepted(conf, t)
    assert p.accepted == accepted.sum()
    assert p.id_tp == (accepted & correct).sum() and p.none_tp == (~accepted & none).sum()
    # the one-threshold form used every epoch of training gives the same accuracies
    np.testing.assert_allclose(
        accuracies_at(conf, correct, none, t), [p.overall_accuracy, p.id_accuracy, p.none_accuracy], equal_nan=True
    )


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
        np.testing.assert_allclose(
            [curve.id_accuracy[i], curve.none_accuracy[i], curve.overall_accuracy[i]],
            [ida, nonea, overall],
            equal_nan=True,
        )
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
