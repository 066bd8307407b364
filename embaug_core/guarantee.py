"""Heuristic 3: a threshold with a guaranteed false-rejection rate.

The user chooses ``alpha`` (the share of known items that may be answered "none", e.g. 0.05) and
``delta`` (the risk that the guarantee fails, e.g. 0.10). From n held-out known-class rows (rows
the head did not train on) with confidences c_1..c_n, the threshold is an order statistic:

    sorted c_(1) <= ... <= c_(n); threshold = c_(j); a row is rejected when confidence < c_(j)

For a future known item with confidence C from the same distribution (exchangeable with the
held-out rows), the false-rejection rate of the threshold, FR = P(C < c_(j)), is at most
F(c_(j)), and F(c_(j)) ~ Beta(j, n - j + 1) for a continuous F (ties only lower FR). So

    P(FR <= alpha) >= P(Beta(j, n - j + 1) <= alpha) = BetaCDF(alpha; j, n - j + 1)

and heuristic 3 takes the **largest** j with ``BetaCDF(alpha; j, n - j + 1) >= 1 - delta``: the
highest threshold (the most "none" caught) whose guarantee still holds with probability
>= 1 - delta over the draw of the held-out rows (a PAC, "training-conditional" guarantee; the
Beta quantile is the correction of the plain split-conformal order statistic for delta). With
``delta=None`` it is plain split conformal: j = floor(alpha (n + 1)), which bounds the *expected*
false-rejection rate by alpha. When even j = 1 fails (n < log(delta) / log(1 - alpha); 45 rows
for alpha = 0.05, delta = 0.10) the threshold is 0 (nothing rejected) and the result says so.

What it assumes: future known items are exchangeable with the held-out rows (same classes, same
mix, same embedding model and head). It says nothing about "none" items: how many of those are
caught is measured, not guaranteed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import ConfigError

__all__ = ["GuaranteedThreshold", "guaranteed_threshold", "min_rows", "split_check"]


@dataclass(frozen=True)
class GuaranteedThreshold:
    """Heuristic 3's threshold and its guarantee.

    Attributes
    ----------
    threshold : float, on the confidence scale (accept when confidence >= threshold)
    alpha, delta : the requested false-rejection rate and failure risk (delta None: marginal)
    n : held-out known rows used; k : the order statistic (rows of those n rejected: k - 1 at most)
    bound_probability : P(FR <= alpha) implied by k and n (>= 1 - delta when ``holds``)
    holds : False when n is too small for any k (then threshold = 0: nothing rejected)
    """

    threshold: float
    alpha: float
    delta: float | None
    n: int
    k: int
    bound_probability: float
    holds: bool

    def sentence(self) -> str:
        """The guarantee in words, e.g. for beside the slider."""
        if not self.holds:
            return (
                f"No guarantee: {self.n} held-out known rows are too few for at most {self.alpha:.0%} false "
                f"rejections with {1 - (self.delta or 0):.0%} confidence (at least {min_rows(self.alpha, self.delta)} "
                "are needed); this threshold rejects nothing."
            )
        if self.delta is None:
            return (
                f'On average at most {self.alpha:.1%} of known items answered "none" (split conformal, '
                f"from {self.n} held-out known rows)."
            )
        return (
            f'At most {self.alpha:.1%} of known items answered "none", with {1 - self.delta:.0%} confidence, '
            f"from {self.n} held-out known rows."
        )

    def to_dict(self) -> dict:
        return {
            "alpha": self.alpha,
            "delta": self.delta,
            "n": self.n,
            "k": self.k,
            "bound_probability": self.bound_probability,
            "holds": self.holds,
        }


def _check(alpha: float, delta: float | None) -> None:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 < alpha < 1.0:
        raise ConfigError(f"the false-rejection rate must be a number strictly between 0 and 1; got {alpha!r}.")
    if delta is not None and (isinstance(delta, bool) or not isinstance(delta, (int, float)) or not 0.0 < delta < 1.0):
        raise ConfigError(f"the confidence level must be a number strictly between 0 and 1; got {1 - delta!r}.")


def min_rows(alpha: float, delta: float | None) -> int:
    """Fewest held-out rows for which any threshold carries the guarantee."""
    if delta is None:
        return math.ceil(1 / alpha - 1)
    return math.ceil(math.log(delta) / math.log1p(-alpha))


def guaranteed_threshold(confidence, alpha: float, delta: float | None = 0.1) -> GuaranteedThreshold:
    """Heuristic 3 on confidences (n,) of held-out known-class rows (see the module docstring)."""
    from scipy.stats import beta as beta_dist

    _check(alpha, delta)
    c = np.sort(np.asarray(confidence, dtype=np.float64).ravel())
    if not np.isfinite(c).all():
        raise ConfigError("confidences must be finite numbers.")
    n = len(c)
    if delta is None:
        k = min(math.floor(alpha * (n + 1)), n)
        prob = float("nan")
    else:
        j = np.arange(1, n + 1)
        ok = beta_dist.cdf(alpha, j, n - j + 1) >= 1 - delta  # (n,), True for j = 1..k then False
        k = int(j[ok].max()) if ok.any() else 0
        prob = float(beta_dist.cdf(alpha, k, n - k + 1)) if k else float("nan")
    if k == 0:
        return GuaranteedThreshold(0.0, float(alpha), delta, n, 0, prob, False)
    return GuaranteedThreshold(float(c[k - 1]), float(alpha), delta, n, k, prob, True)


def split_check(confidence, known, alpha: float, delta: float | None, *, seed: int = 0):
    """Heuristic 3 as a user meets it, on rows none of which trained the head: a seeded random half
    of the ``known`` rows (boolean (n,)) is the held-out set the threshold is computed on, and the
    other half plays future known items. Returns (GuaranteedThreshold, realised false-rejection
    rate on the other half, NaN when it is empty)."""
    from .thresholds import is_accepted

    idx = np.random.default_rng(seed).permutation(np.flatnonzero(np.asarray(known, dtype=bool)))
    calib, future = idx[: len(idx) // 2], idx[len(idx) // 2 :]
    conf = np.asarray(confidence, dtype=np.float64)
    g = guaranteed_threshold(conf[calib], alpha, delta)
    realised = float((~is_accepted(conf[future], g.threshold)).mean()) if len(future) else float("nan")
    return g, realised
