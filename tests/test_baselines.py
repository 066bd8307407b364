import math

import numpy as np
import pytest
import torch
from conftest import blobs

from embaug_core.errors import ConfigError
from embaug_core.evaluation.detection import energy_none_score, knn_none_score, none_detection
from embaug_core.evaluation.metrics import NONE
from embaug_core.evaluation.temperature import apply_temperature, fit_temperature
from embaug_core.training.augment import e_mixup, kernel_warp, sample_beta, sk_mixup
from embaug_core.training.logreg import LogisticRegressionBaseline


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_sk_mixup_without_distance_sensitivity_is_e_mixup():
    x = torch.randn(16, 8, generator=gen(1))
    y = torch.nn.functional.one_hot(torch.arange(16) % 4, 4).float()
    a = e_mixup(x, y, alpha=0.4, generator=gen(2))
    b = sk_mixup(x, y, alpha=0.4, generator=gen(2), tau_max=1.0, tau_std=math.inf)
    assert torch.allclose(a[0], b[0], atol=1e-6) and torch.allclose(a[1], b[1], atol=1e-6)


def test_kernel_warp_mixes_close_pairs_more_than_distant_ones():
    lam = torch.full((2,), 0.9)
    dist = torch.tensor([0.1, 10.0])  # relative distances 0.02 and 1.98
    warped = kernel_warp(lam, dist, tau_max=1.0, tau_std=0.5)
    assert abs(float(warped[0]) - 0.5) < abs(0.9 - 0.5)  # close pair: pulled towards 0.5
    assert float(warped[1]) > 0.9  # distant pair: pushed towards 1 (less mixing)
    same = kernel_warp(sample_beta(1.0, 50, generator=gen()), torch.ones(50))  # all at the mean: w = 1/tau_max = 1
    assert torch.all((same >= 0) & (same <= 1))


def test_temperature_scaling_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    n, c = 4000, 5
    true_logits = rng.normal(size=(n, c)) * 2
    probs = np.exp(true_logits) / np.exp(true_logits).sum(1, keepdims=True)
    y = np.array([rng.choice(c, p=p) for p in probs])
    t = fit_temperature(true_logits * 3.0, y, kind="softmax")  # logits made 3x overconfident
    assert t == pytest.approx(3.0, rel=0.08)
    y_none = y.copy()
    y_none[:100] = NONE  # "none" rows are ignored
    assert fit_temperature(true_logits * 3.0, y_none, kind="softmax") == pytest.approx(t, rel=0.05)


def test_temperature_scaling_lowers_sigmoid_nll():
    from embaug_core.evaluation.temperature import _nll

    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 500)
    logits = rng.normal(size=(500, 4))
    logits[np.arange(500), y] += 2.0
    over = logits * 5
    t = fit_temperature(over, y, kind="sigmoid")
    assert t > 1 and _nll(over / t, y, "sigmoid") < _nll(over, y, "sigmoid")
    np.testing.assert_allclose(apply_temperature(over, t), 1 / (1 + np.exp(-over / t)))


def test_none_scores_rank_unseen_rows_higher():
    x, labels = blobs(n_classes=6, per_class=40, dim=16)
    known = np.isin(labels, ["c0", "c1", "c2", "c3"])
    y = np.where(known, 0, NONE)
    score = knn_none_score(x[known][::2], x, k=5)
    det = none_detection(y, score)
    assert det.auroc > 0.95
    lr = LogisticRegressionBaseline().fit(x[known], (np.char.lstrip(labels[known].astype(str), "c")).astype(int), 4)
    logits = lr.predict_logits(x)
    assert logits.shape == (240, 4)
    assert none_detection(y, energy_none_score(logits, kind="softmax")).auroc > 0.8
    assert np.allclose(lr.predict_proba(x).sum(1), 1.0)
    assert none_detection(np.zeros(5), np.arange(5)).to_dict() == {"auroc": None, "aupr": None}


def test_defect_7_energy_matches_the_output_layer():
    z = np.array([[0.0, 0.0], [10.0, -10.0]])
    # softmax model: -logsumexp(z)
    np.testing.assert_allclose(energy_none_score(z, kind="softmax"), [-math.log(2), -(10 + math.log1p(math.exp(-20)))])
    # sigmoid head (the default): -sum_c log(1 + exp(z_c)), worked by hand
    np.testing.assert_allclose(
        energy_none_score(z), [-2 * math.log(2), -(10 + math.log1p(math.exp(-10)) + math.log1p(math.exp(-10)))]
    )
    # on a sigmoid head, a row whose every output is low is "none" however the logits compare:
    # the softmax form cannot see that (it is shift-invariant), the sigmoid form can
    low, high = np.array([[-6.0, -6.0]]), np.array([[6.0, 6.0]])
    assert energy_none_score(low) > energy_none_score(high)
    assert energy_none_score(low, kind="softmax") - energy_none_score(high, kind="softmax") == pytest.approx(12.0)
    with pytest.raises(ConfigError):
        energy_none_score(z, kind="tanh")


def test_defect_3_sigmoid_temperature_counts_none_rows_as_all_zero_targets():
    from embaug_core.evaluation.metrics import negative_log_likelihood

    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 300)
    y[:100] = NONE
    logits = rng.normal(size=(300, 3)) - 2.0
    logits[np.arange(100, 300), y[100:]] += 4.0
    logits *= 3.0  # over-confident
    t = fit_temperature(logits, y, kind="sigmoid")
    # the fitted T minimises the NLL the metrics report, over all rows ("none" included)
    at = negative_log_likelihood(apply_temperature(logits, t), y)
    for other in (t * 0.9, t * 1.1):
        assert at <= negative_log_likelihood(apply_temperature(logits, other), y)
    assert t != pytest.approx(fit_temperature(logits[100:], y[100:], kind="sigmoid"), rel=1e-3)


def test_top_label_temperature_minimises_the_confidence_nll_by_brute_force():
    """fit_temperature(kind="top_label") against a grid search of the top-label NLL written out here: the
    binary cross-entropy of sigmoid(max logit / T) against "the top class is right", "none" rows never right.
    Over-confident on "none" rows, the top label wants T > 1 where the all-class NLL, dominated by the many
    classes a row is not, wants the tail sharpened (T < 1)."""
    from embaug_core.evaluation.metrics import NONE

    rng = np.random.default_rng(3)
    n, c = 600, 150
    y = rng.integers(0, c, n)
    y[:100] = NONE  # a sixth of the rows are "none"
    logits = rng.normal(-4.0, 1.5, size=(n, c))  # a softmax-like tail: every other class unlikely
    top = np.where(y == NONE, rng.integers(0, c, n), y)
    logits[np.arange(n), top] = rng.normal(3.0, 1.0, n)  # sure of its top class, "none" rows too

    def top_nll(t):
        z = logits.max(1) / t
        right = (logits.argmax(1) == y) & (y != NONE)
        return np.mean(np.where(right, np.logaddexp(0, -z), np.logaddexp(0, z)))  # -log p, -log(1 - p)

    grid = np.exp(np.linspace(np.log(0.01), np.log(100), 20001))
    best = grid[np.argmin([top_nll(t) for t in grid])]
    t = fit_temperature(logits, y, kind="top_label")
    assert t == pytest.approx(best, rel=1e-3) and t > 1
    assert fit_temperature(logits, y, kind="sigmoid") < 1


@pytest.mark.parametrize("kind", ["sigmoid", "top_label", "softmax"])
def test_weighted_temperature_equals_the_fit_on_rows_repeated_by_their_weight(kind):
    """fit_temperature(weights=): integer weights are rows repeated that many times (the auto recipe's none_share)."""
    from embaug_core.evaluation.metrics import NONE

    rng = np.random.default_rng(4)
    y = rng.integers(0, 5, 200)
    y[:30] = NONE
    logits = rng.normal(size=(200, 5)) * 2.5
    logits[np.arange(30, 200), y[30:]] += 3.0
    w = np.where(y == NONE, 4, 1)
    repeated = fit_temperature(np.repeat(logits, w, axis=0), np.repeat(y, w), kind=kind)
    assert fit_temperature(logits, y, kind=kind, weights=w) == pytest.approx(repeated, rel=1e-6)
    if kind != "softmax":  # softmax leaves "none" rows out, so their weight cannot move it
        assert fit_temperature(logits, y, kind=kind) != pytest.approx(repeated, rel=1e-3)
