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

**A batch of m future items** (``future_rows=m``). The statement above is about the rate in the
long run. The share rejected among a finite batch of m future known items scatters around it
(by about sqrt(alpha / m)), so a check on m rows can exceed alpha more often than delta even when
the long-run guarantee holds. For such a batch the count of its rows below c_(j) follows a
Beta-binomial(m, j, n - j + 1) (exchangeability), and with ``future_rows=m`` heuristic 3 takes the
largest j with ``P(BetaBinomial(m, j, n - j + 1) <= floor(alpha m)) >= 1 - delta``: at most alpha of
*those m* items rejected, with probability >= 1 - delta. The experiment checks heuristic 3 this way
(m = the rows it checks on); the CLI and the dashboard state the long-run form.

What it assumes: future known items are exchangeable with the held-out rows (same classes, same
mix, same embedding model and head). It says nothing about "none" items: how many of those are
caught is measured, not guaranteed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

__all__ = ["GuaranteedThreshold", "guaranteed_threshold", "min_rows", "split_check", "percent"]


#: The fields of :class:`GuaranteedThreshold` its JSON form keeps, in their order.
_SAVED = ("alpha", "delta", "n", "k", "bound_probability", "holds", "future_rows")


def percent(share: float) -> str:
    """A share as a percentage with the digits it needs: 0.05 → "5%", 0.001 → "0.1%", 0.999 → "99.9%"
    (``:.0%`` made those "0%" and "100%")."""
    return f"{share * 100:.4g}%"


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
    future_rows : None for the long-run rate, else the size m of the future batch it is about
    """

    threshold: float
    alpha: float
    delta: float | None
    n: int
    k: int
    bound_probability: float
    holds: bool
    future_rows: int | None = None

    def sentence(self) -> str:
        """The guarantee in words, e.g. for beside the slider."""
        alpha, level = percent(self.alpha), percent(1 - (self.delta or 0))
        if not self.holds:
            return (
                f"No guarantee: {self.n} held-out known rows are too few for at most {alpha} false "
                f"rejections with {level} confidence (at least {min_rows(self.alpha, self.delta)} "
                "are needed); this threshold rejects nothing."
            )
        if self.delta is None:
            return (
                f'On average at most {alpha} of known items answered "none" (split conformal, '
                f"from {self.n} held-out known rows)."
            )
        return (
            f'At most {alpha} of known items answered "none", with {level} confidence, '
            f"from {self.n} held-out known rows."
        )

    def to_dict(self) -> dict:
        """What a threshold file and an experiment's record keep of the guarantee (the threshold is theirs)."""
        return {k: getattr(self, k) for k in _SAVED}

    @classmethod
    def from_dict(cls, d: dict, *, threshold: float) -> GuaranteedThreshold:
        """The inverse of :meth:`to_dict`, which leaves the threshold to the document that holds it."""
        return cls(threshold=threshold, **{k: d.get(k) for k in _SAVED})  # future_rows: later than the rest


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


def guaranteed_threshold(
    confidence, alpha: float, delta: float | None = 0.1, *, future_rows: int | None = None
) -> GuaranteedThreshold:
    """Heuristic 3 on confidences (n,) of held-out known-class rows (see the module docstring);
    ``future_rows`` m: the guarantee is about the share rejected among m future known items."""
    from scipy.stats import beta as beta_dist
    from scipy.stats import betabinom

    _check(alpha, delta)
    if future_rows is not None and (delta is None or int(future_rows) < 1):
        raise ConfigError("future_rows needs a confidence level (delta) and at least 1 row.")
    c = np.sort(np.asarray(confidence, dtype=np.float64).ravel())
    if not np.isfinite(c).all():
        raise ConfigError("confidences must be finite numbers.")
    n = len(c)
    if delta is None:
        k = min(math.floor(alpha * (n + 1)), n)
        prob = float("nan")
    else:
        if future_rows is None:

            def bound(j: int) -> float:  # P(FR <= alpha) for the j-th smallest; decreasing in j
                return float(beta_dist.cdf(alpha, j, n - j + 1))
        else:
            m = int(future_rows)

            def bound(j: int) -> float:  # P(at most floor(alpha m) of m future rows rejected)
                return float(betabinom.cdf(math.floor(alpha * m), m, j, n - j + 1))

        k = _largest(lambda j: bound(j) >= 1 - delta, n)
        prob = bound(k) if k else float("nan")
    threshold = float(c[k - 1]) if k else 0.0
    return GuaranteedThreshold(threshold, float(alpha), delta, n, k, prob, k > 0, future_rows)


def split_check(confidence, known, alpha: float, delta: float | None, *, seed: int = 0, batch: bool = False):
    """Heuristic 3 as a user meets it, on rows none of which trained the head: a seeded random half
    of the ``known`` rows (boolean (n,)) is the held-out set the threshold is computed on, and the
    other half plays future known items. Returns (GuaranteedThreshold, realised false-rejection
    rate on the other half, NaN when it is empty). ``batch``: the guarantee is for the other half
    itself (``future_rows``), the form a realised rate on it can be held to."""
    from .thresholds import is_accepted

    idx = np.random.default_rng(seed).permutation(np.flatnonzero(np.asarray(known, dtype=bool)))
    calib, future = idx[: len(idx) // 2], idx[len(idx) // 2 :]
    conf = np.asarray(confidence, dtype=np.float64)
    g = guaranteed_threshold(conf[calib], alpha, delta, future_rows=len(future) if batch and len(future) else None)
    realised = float((~is_accepted(conf[future], g.threshold)).mean()) if len(future) else float("nan")
    return g, realised


def _largest(ok, n: int) -> int:
    """The largest j in 1..n with ok(j), for ok true on a prefix of 1..n; 0 when ok(1) is false.
    Bisection: O(log n) evaluations of the (slow) distribution functions."""
    lo, hi = 0, n  # ok(lo) holds (j = 0: nothing), the answer is in [lo, hi]
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo
