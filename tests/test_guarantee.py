"""Heuristic 3: hand-checked order statistics and a simulation of the guarantee itself."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embaug_core.errors import ConfigError
from embaug_core.evaluation.guarantee import guaranteed_threshold, min_rows


def test_the_smallest_sample_that_carries_a_guarantee():
    # j = 1 holds iff 1 - (1 - alpha)^n >= 1 - delta: 0.95^45 = 0.0994 <= 0.1, 0.95^44 = 0.1046 > 0.1
    assert min_rows(0.05, 0.1) == 45
    c = np.linspace(0.5, 1.0, 45)
    g = guaranteed_threshold(c, 0.05, 0.1)
    assert (g.k, g.threshold, g.holds) == (1, 0.5, True)
    assert g.bound_probability == pytest.approx(1 - 0.95**45)
    g44 = guaranteed_threshold(c[:44], 0.05, 0.1)
    assert (g44.k, g44.threshold, g44.holds) == (0, 0.0, False)
    assert "too few" in g44.sentence() and "45" in g44.sentence()


def test_plain_split_conformal_order_statistic():
    # delta None: j = floor(alpha (n + 1)); n = 99, alpha = 0.05 -> j = 5, the 5th smallest
    c = np.arange(99) / 100
    g = guaranteed_threshold(c, 0.05, None)
    assert (g.k, g.threshold) == (5, 0.04)
    assert "On average" in g.sentence()


def test_the_order_statistic_is_the_largest_that_holds():
    from scipy.stats import beta

    c = np.random.default_rng(0).random(812)
    g = guaranteed_threshold(c, 0.05, 0.1)
    assert beta.cdf(0.05, g.k, 812 - g.k + 1) >= 0.9 > beta.cdf(0.05, g.k + 1, 812 - g.k)
    assert g.threshold == np.sort(c)[g.k - 1]
    assert (
        g.sentence() == 'At most 5% of known items answered "none", with 90% confidence, from 812 held-out known rows.'
    )


def test_defect_28_8_small_shares_keep_their_digits_in_the_sentence():
    """Alpha 0.001 at confidence 0.999 read "at most 0% ... with 100% confidence"."""
    from embaug_core.evaluation.guarantee import percent

    c = np.random.default_rng(1).random(20000)
    g = guaranteed_threshold(c, 0.001, 0.001)
    assert g.holds and "At most 0.1% of known items" in g.sentence() and "with 99.9% confidence" in g.sentence()
    assert [percent(v) for v in (0.05, 0.9, 0.0125, 1.0, 0.1)] == ["5%", "90%", "1.25%", "100%", "10%"]
    few = guaranteed_threshold(c[:100], 0.001, 0.001)
    assert not few.holds and "at most 0.1% false rejections with 99.9% confidence" in few.sentence()


@pytest.mark.parametrize("ties", [False, True])
def test_the_guarantee_holds_over_many_draws(ties):
    """Over 3000 draws of n held-out rows, the realised false-rejection rate of future known items
    exceeds alpha in at most delta of them (+ 3 standard errors). Known confidences ~ U(0, 1), so
    the exact false-rejection rate of threshold t is P(C < t) = t (with ties: rounded to 0.01)."""
    rng = np.random.default_rng(1 if ties else 2)
    alpha, delta, n, draws = 0.05, 0.1, 300, 3000
    violated = 0
    for _ in range(draws):
        c = rng.random(n)
        if ties:
            c = np.floor(c * 100) / 100  # values k/100, P(C < t) = t for t on that grid
        g = guaranteed_threshold(c, alpha, delta)
        violated += g.threshold > alpha
    rate = violated / draws
    assert rate <= delta + 3 * math.sqrt(delta * (1 - delta) / draws)
    if not ties:  # and it is not vacuous: the bound is nearly tight for continuous confidences
        assert rate >= delta / 2


def test_split_conformal_bounds_the_mean_rate():
    rng = np.random.default_rng(3)
    fr = [guaranteed_threshold(rng.random(99), 0.1, None).threshold for _ in range(4000)]
    # j = floor(0.1 * 100) = 10 and E[FR] = E[U_(j)] = j / (n + 1) = 0.1: the bound, met exactly
    assert np.mean(fr) == pytest.approx(0.1, abs=0.005)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0, 1), min_size=1, max_size=300),
    st.floats(0.01, 0.5),
    st.one_of(st.none(), st.floats(0.01, 0.5)),
)
def test_at_most_k_minus_1_held_out_rows_are_rejected(c, alpha, delta):
    g = guaranteed_threshold(c, alpha, delta)
    rejected = int((np.asarray(c) < g.threshold).sum())
    assert rejected <= max(g.k - 1, 0)
    assert g.holds == (g.k > 0)


@pytest.mark.parametrize("alpha,delta", [(0, 0.1), (1, 0.1), (0.05, 0), (0.05, 1.5), (float("nan"), 0.1)])
def test_bad_levels_are_refused(alpha, delta):
    with pytest.raises(ConfigError):
        guaranteed_threshold([0.5, 0.6], alpha, delta)


def test_the_batch_form_holds_for_the_realised_rate_of_a_finite_batch():
    """The long-run form bounds the population rate; a finite batch's realised rate scatters around
    it and exceeds alpha more often than delta. The batch form (future_rows=m) holds for the realised
    rate itself: simulated with n = m = 400 uniform confidences."""
    rng = np.random.default_rng(4)
    alpha, delta, n, m, draws = 0.05, 0.1, 400, 400, 3000
    plain = batch = 0
    for _ in range(draws):
        cal, future = rng.random(n), rng.random(m)
        plain += (future < guaranteed_threshold(cal, alpha, delta).threshold).mean() > alpha
        batch += (future < guaranteed_threshold(cal, alpha, delta, future_rows=m).threshold).mean() > alpha
    se = 3 * math.sqrt(delta * (1 - delta) / draws)
    assert batch / draws <= delta + se
    assert plain / draws > delta + se  # why the batch form exists: the long-run form is not about a batch
