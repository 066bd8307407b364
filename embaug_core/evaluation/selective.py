"""Selective classification: the risk–coverage curve, AURC and E-AURC (Geifman et al. 2019).

Rows are answered in order of decreasing confidence. At coverage k/n (the k most confident rows
answered), the **risk** is the share of those k answers that are wrong; a "none" row is always
wrong when answered (no known class is right for it), a known row when its top class is not its
label. AURC is the mean risk over k = 1..n; the optimal ranking (every right answer first) has

    AURC* = mean_k max(0, k - n_right) / k

and E-AURC = AURC - AURC* is the part due to the ranking, not to the model's accuracy.

Ties: rows with equal confidence are answered in random order, and the curve and AURC are their
*expectation* over that order (within a tie group the expected number of wrong answers grows
linearly), so the numbers do not depend on how a sort breaks ties.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import EmbaugError

__all__ = ["RiskCoverage", "SelectiveSummary", "risk_coverage"]


@dataclass(frozen=True)
class SelectiveSummary:
    """The areas of a risk–coverage curve, what an experiment keeps per score (lower is better)."""

    aurc: float
    optimal_aurc: float

    @property
    def e_aurc(self) -> float:
        """AURC minus that of the best possible order: what the order itself costs."""
        return self.aurc - self.optimal_aurc

    def to_dict(self) -> dict:
        return {"aurc": self.aurc, "e_aurc": self.e_aurc, "optimal_aurc": self.optimal_aurc}

    @classmethod
    def from_dict(cls, d: dict) -> SelectiveSummary:
        return cls(d["aurc"], d["optimal_aurc"])


@dataclass(frozen=True, eq=False)
class RiskCoverage(SelectiveSummary):
    """The curve (coverage (n,), risk (n,) at k = 1..n answered) and its areas."""

    coverage: np.ndarray
    risk: np.ndarray

    def summary(self) -> SelectiveSummary:
        """The areas alone, what an experiment keeps per score."""
        return SelectiveSummary(self.aurc, self.optimal_aurc)


def risk_coverage(confidence, correct) -> RiskCoverage:
    """Risk–coverage of answering by ``confidence`` (n,) (higher = answered first); ``correct``
    (n,) bool says which answers are right ("none" rows: False)."""
    conf = np.asarray(confidence, dtype=np.float64).ravel()
    right = np.asarray(correct, dtype=bool).ravel()
    n = conf.size
    if n == 0 or right.size != n:
        raise EmbaugError(f"risk-coverage needs one correct flag per confidence; got {n} and {right.size}.")
    order = np.argsort(-conf, kind="stable")
    c, wrong = conf[order], (~right[order]).astype(np.float64)
    starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])  # first position of each tie group
    sizes = np.diff(np.r_[starts, n])
    group_wrong = np.add.reduceat(wrong, starts)  # (G,)
    before = np.r_[0.0, np.cumsum(group_wrong)[:-1]]  # wrong answers before each group
    g = np.repeat(np.arange(len(starts)), sizes)  # (n,) group of each position
    k = np.arange(1, n + 1)
    expected_wrong = before[g] + (k - starts[g]) * group_wrong[g] / sizes[g]
    risk = expected_wrong / k
    n_right = int(right.sum())
    optimal = np.maximum(0, k - n_right) / k
    return RiskCoverage(coverage=k / n, risk=risk, aurc=float(risk.mean()), optimal_aurc=float(optimal.mean()))
