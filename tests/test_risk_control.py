"""Heuristic 4 (a guaranteed error rate among answered items) and the live check of a batch.

The oracle for the chosen threshold is a brute-force computation written out here: for every threshold of
the grid, the binary Hoeffding–Bentkus p-value of the error among the rows it answers (scipy's binomial CDF),
Holm's procedure by hand, and the threshold answering the most rows among those it keeps. MAPIE is the
engine of the library; this checks that it is driven right (the coded labels, the risks, the grid)."""

import json
import math

import numpy as np
import pytest
from scipy.stats import binom

from embaug_core.errors import ConfigError, EmbaugError
from embaug_core.evaluation.live_check import MIN_BATCH_ROWS, CalibrationRecord, check_batch
from embaug_core.evaluation.risk_control import (
    GRID,
    RiskControlledThreshold,
    min_rows,
    risk_controlled_threshold,
    split_risk_check,
)


def population(n, rng, none_share=0.2):
    """Synthetic calibration rows: known rows confident and mostly right, "none" rows less confident."""
    known = rng.random(n) >= none_share
    conf = np.where(known, rng.beta(8, 1.2, n), rng.beta(1.5, 4, n))
    correct = known & (rng.random(n) < conf**0.25)
    return conf, correct, known


def hb_p_value(errors: int, n: int, eps: float) -> float:
    """Binary Hoeffding–Bentkus p-value of ``errors`` wrong among ``n`` (1 when n = 0), by hand."""
    if n == 0:
        return 1.0
    r = errors / n
    rr = min(r, eps)
    h1 = (rr * math.log(rr / eps) if rr > 0 else 0.0) + (1 - rr) * math.log((1 - rr) / (1 - eps))
    return min(math.exp(-n * h1), float(binom.cdf(math.ceil(n * r), n, eps)))


def brute_force(conf, correct, known, eps, delta, alpha=None):
    """The threshold Learn-then-Test with Holm's procedure picks, and its coverage, computed by hand."""
    p = []
    for t in GRID:
        answered = conf >= t
        p_t = hb_p_value(int((answered & ~correct).sum()), int(answered.sum()), eps)
        if alpha is not None:
            p_t = max(p_t, hb_p_value(int((~answered & known).sum()), int(known.sum()), alpha))
        p.append(p_t)
    order = np.argsort(p, kind="stable")
    m, valid = len(GRID), []
    for i, j in enumerate(order):  # Holm: the i-th smallest p-value against delta / (m - i), stop at the first failure
        if p[j] > delta / (m - i):
            break
        valid.append(j)
    if not valid:
        return None, 0.0, float("nan")
    coverage = {j: float((conf >= GRID[j]).mean()) for j in valid}
    best = max(valid, key=lambda j: coverage[j])
    rank = list(order).index(best)  # Holm-adjusted p-value: max over the steps up to its own of (m - i) p_(i)
    adjusted = max(min(1.0, (m - i) * p[order[i]]) for i in range(rank + 1))
    return float(GRID[best]), coverage[best], adjusted


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("alpha", [None, 0.1])
def test_the_chosen_threshold_equals_the_brute_force_computation(seed, alpha):
    conf, correct, known = population(1500, np.random.default_rng(seed))
    r = risk_controlled_threshold(conf, correct, known, 0.1, 0.1, max_false_rejection=alpha)
    t, coverage, adjusted = brute_force(conf, correct, known, 0.1, 0.1, alpha)
    assert t is not None and r.holds
    assert r.coverage == pytest.approx(coverage)  # the same rows answered (equal thresholds, or tied ones)
    assert r.error_rate <= 0.1 and r.n_known == int(known.sum()) and r.n_none == int((~known).sum())
    assert r.p_value == pytest.approx(adjusted, rel=1e-9) and r.p_value <= 0.1
    if alpha is not None:
        assert r.false_rejection <= 0.1


def test_nothing_holds_says_so_with_the_smallest_error_rate_that_could():
    conf, correct, known = population(1000, np.random.default_rng(3))
    r = risk_controlled_threshold(conf, correct, known, 0.01, 0.1)
    assert not r.holds and r.coverage == 0.0 and math.isnan(r.p_value)
    best = r.smallest_error_rate
    assert 0.01 < best < 1
    assert risk_controlled_threshold(conf, correct, known, best, 0.1).holds
    assert not risk_controlled_threshold(conf, correct, known, best - 0.001, 0.1).holds
    assert "No threshold guarantees at most 1% wrong answers" in r.sentence()
    assert f"the smallest that could be is {best * 100:.4g}%" in r.sentence()


def test_calibration_without_none_rows_names_the_three_ways_to_supply_them():
    conf, correct, known = population(500, np.random.default_rng(0), none_share=0.0)
    with pytest.raises(EmbaugError) as e:
        risk_controlled_threshold(conf, correct, known, 0.1, 0.1)
    msg = str(e.value)
    assert (
        "not one of the head's classes" in msg and "known to be out of scope" in msg and "held out of training" in msg
    )


def test_the_joint_form_needs_enough_known_rows_and_gives_the_smallest_eps_with_alpha():
    conf, correct, known = population(1200, np.random.default_rng(4))
    # (1 - 0.001)^n <= 0.1 / 200 needs 7,598 known rows
    with pytest.raises(EmbaugError, match=r"known calibration rows are too few .* at least 7598 are needed"):
        risk_controlled_threshold(conf, correct, known, 0.1, 0.1, max_false_rejection=0.001)
    r = risk_controlled_threshold(conf, correct, known, 0.1, 0.1, max_false_rejection=0.01)
    assert not r.holds and 0.1 < r.smallest_error_rate < 1  # eps is what binds here: a larger one holds jointly
    assert risk_controlled_threshold(conf, correct, known, r.smallest_error_rate, 0.1, max_false_rejection=0.01).holds


def test_too_few_rows_say_how_many_are_needed():
    need = min_rows(0.05, 0.05)
    # (1 - eps)^n <= delta / len(GRID) by hand
    assert need == math.ceil(math.log(0.05 / len(GRID)) / math.log(0.95))
    conf, correct, known = population(need - 1, np.random.default_rng(0))
    with pytest.raises(EmbaugError, match=f"at least {need} are needed"):
        risk_controlled_threshold(conf, correct, known, 0.05, 0.05)
    with pytest.raises(ConfigError, match="maximum error rate"):
        risk_controlled_threshold(conf, correct, known, 1.5, 0.05)


def test_simulation_the_error_among_answered_stays_under_eps_in_1_minus_delta_of_draws():
    """1,000 random calibration sets of 600 rows (500 for the threshold alone, 500 for the joint (eps, alpha)
    form); the future items are 200,000 other rows of the same population. The realised error among answered
    exceeds eps (or, in the joint form, the false rejection exceeds alpha) in at most delta of the draws. A rule
    without the guarantee (the lowest threshold whose calibration error is <= eps) fails far more often: the
    check can fail."""
    rng = np.random.default_rng(0)
    eps, delta, alpha = 0.1, 0.1, 0.1
    conf, correct, known = population(200_000, rng)
    order = np.argsort(-conf)
    c_desc = conf[order]
    wrong_cum = np.cumsum(~correct[order])  # wrong answers among the k most confident
    known_cum = np.cumsum(known[order])

    def realised(t):  # (error among answered, false rejection) of the future rows at threshold t
        k = int(np.searchsorted(-c_desc, -t, side="right"))  # rows with conf >= t
        err = wrong_cum[k - 1] / k if k else 0.0
        return err, 1.0 - (known_cum[k - 1] if k else 0) / known_cum[-1]

    fails = {"alone": 0, "joint": 0, "naive": 0}
    for draw in range(1000):
        cc, cok, ck = population(600, rng)
        form = "alone" if draw % 2 == 0 else "joint"
        r = risk_controlled_threshold(cc, cok, ck, eps, delta, max_false_rejection=alpha if form == "joint" else None)
        err, fr = realised(r.threshold) if r.holds else (0.0, 1.0)
        fails[form] += (err > eps) or (form == "joint" and r.holds and fr > alpha)
        naive = min(t for t in GRID if ((cc >= t) & ~cok).sum() <= eps * max((cc >= t).sum(), 1))
        fails["naive"] += realised(naive)[0] > eps
    assert fails["alone"] <= delta * 500 and fails["joint"] <= delta * 500, fails
    assert fails["naive"] > delta * 1000, fails


def test_split_check_and_the_record_round_trip():
    conf, correct, known = population(2000, np.random.default_rng(5))
    r, realised, coverage = split_risk_check(conf, correct, known, 0.1, 0.1, seed=1)
    assert r.holds and r.n_known + r.n_none == 1000 and 0 < coverage < 1 and realised <= 0.15
    back = RiskControlledThreshold.from_dict(json.loads(json.dumps(r.to_dict())), threshold=r.threshold)
    assert back.to_dict() == pytest.approx(r.to_dict(), nan_ok=True) and back.sentence() == r.sentence()
    assert "Of the items answered, at most 10% are wrong, with 90% confidence" in r.sentence()


# ------------------------------------------------------------------ the live check


def record_and_threshold(rng, none_share=0.2):
    conf, _, _ = population(1000, rng, none_share)
    t = float(np.quantile(conf, 0.2))
    return CalibrationRecord.of(conf, t, "synthetic calibration rows"), t


def test_the_live_check_warns_on_three_times_the_out_of_scope_share():
    rng = np.random.default_rng(0)
    record, t = record_and_threshold(rng, none_share=0.1)
    warned = 0
    for _ in range(50):
        batch, _, _ = population(300, rng, none_share=0.3)
        check = check_batch(record, batch, t)
        warned += check.shifted
    assert warned >= 48
    w = check_batch(record, population(300, rng, none_share=0.3)[0], t).warning()
    assert w.startswith("warning: this batch does not look like the threshold's calibration rows")
    assert "against" in w and "at calibration" in w and "may not hold for this batch" in w and "\n" not in w


def test_the_live_check_does_not_warn_on_exchangeable_batches():
    rng = np.random.default_rng(1)
    record, t = record_and_threshold(rng)
    warned = sum(check_batch(record, population(400, rng)[0], t).shifted for _ in range(200))
    assert warned <= 4  # >= 98 % of 200 draws pass


def test_the_live_check_needs_a_batch_of_200_rows_and_round_trips():
    rng = np.random.default_rng(2)
    record, t = record_and_threshold(rng)
    small = check_batch(record, population(MIN_BATCH_ROWS - 1, rng, none_share=0.9)[0], t)
    assert not small.tested and not small.shifted and small.warning() is None
    back = CalibrationRecord.from_dict(json.loads(json.dumps(record.to_dict())))
    assert back.n == record.n and back.refused == record.refused
    np.testing.assert_allclose(back.confidences, record.confidences, atol=1e-6)
