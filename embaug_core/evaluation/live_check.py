"""The live check: is a batch of new, unlabelled items like the rows a threshold was calibrated on?

Every guarantee embaug gives (heuristic 3 on refusals, heuristic 4 on answers) assumes that future
items are exchangeable with the calibration rows. The one change that breaks them most often in
practice is a larger share of out-of-scope items than at calibration (a public intent project's gate,
calibrated with 1.4–2 % out-of-scope rows, met 17–19 % at test time and failed its risk target). Such
a batch shows in the only things known without labels: the confidences, and so the share refused.

A threshold file keeps a :class:`CalibrationRecord` of its calibration rows: how many, how many the
threshold refused, and a seeded sample of at most :data:`KEEP` of their confidences. :func:`check_batch`
then runs two tests at level ``level / 2`` each (Bonferroni, so the batch is flagged at most ``level``
of the time when it is exchangeable):

* the share refused, calibration against the batch: Fisher's exact test on the 2×2 counts;
* the whole confidence distribution: the two-sample Kolmogorov–Smirnov test.

Why not MAPIE's exchangeability tests: they test labelled data (X, y) with a fitted estimator's
non-conformity scores; a live batch has no labels, and only its scores are comparable with the
calibration rows'. scipy's two tests on those scores are what is needed.

What it can detect: a shift in the confidence distribution large enough for a batch of this size
(a few hundred rows detect a tripled out-of-scope share; a 10 % drift in it needs thousands). What it
cannot: a shift that leaves the confidences alone (e.g. new items the head is confidently wrong on in
the same proportions), or a change in which classes are right. A batch that passes is not proven
exchangeable; one that fails is evidence that the guarantee may not hold for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ThresholdFileError
from .guarantee import percent
from .thresholds import is_accepted

__all__ = ["KEEP", "MIN_BATCH_ROWS", "CalibrationRecord", "ShiftCheck", "check_batch"]

#: Calibration confidences a threshold file keeps (a seeded sample when there are more).
KEEP = 2000
#: The fewest rows the live check tests (fewer: no test, the batch is too small to tell).
MIN_BATCH_ROWS = 200


@dataclass(frozen=True, eq=False)
class CalibrationRecord:
    """What the live check needs of a threshold's calibration rows.

    n : calibration rows; refused : how many of them the threshold refused (confidence < threshold)
    confidences : (<= KEEP,) a seeded sample of their confidences, sorted
    rows : in words, which rows these are
    """

    n: int
    refused: int
    confidences: np.ndarray
    rows: str

    @classmethod
    def of(cls, confidence, threshold: float, rows: str, *, seed: int = 0) -> CalibrationRecord:
        c = np.asarray(confidence, dtype=np.float64).ravel()
        keep = c if len(c) <= KEEP else np.random.default_rng(seed).choice(c, KEEP, replace=False)
        return cls(int(len(c)), int((~is_accepted(c, threshold)).sum()), np.sort(keep), str(rows))

    @property
    def share_refused(self) -> float:
        return self.refused / self.n if self.n else float("nan")

    def to_dict(self) -> dict:
        return {
            "n": self.n,
            "refused": self.refused,
            "rows": self.rows,
            "confidences": [float(v) for v in self.confidences],  # full precision: the batch's are not rounded
        }

    @classmethod
    def from_dict(cls, d, *, bad=ThresholdFileError) -> CalibrationRecord:
        ok = isinstance(d, dict) and all(k in d for k in ("n", "refused", "confidences"))
        n, refused, conf = (d.get("n"), d.get("refused"), d.get("confidences")) if ok else (None, None, None)
        if not (isinstance(n, int) and isinstance(refused, int) and 0 <= refused <= n and isinstance(conf, list)):
            raise bad(
                "'calibration' must be an object with whole numbers 'n' >= 'refused' >= 0 and a 'confidences' list."
            )
        if not conf or not all(isinstance(v, (int, float)) and math.isfinite(v) and 0 <= v <= 1 for v in conf):
            raise bad("'calibration.confidences' must be a non-empty list of numbers in [0, 1].")
        return cls(n, refused, np.sort(np.asarray(conf, dtype=np.float64)), str(d.get("rows", "")))


@dataclass(frozen=True)
class ShiftCheck:
    """The live check of one batch (see the module docstring). ``tested`` is False for a batch under
    :data:`MIN_BATCH_ROWS` rows, and then ``shifted`` is False and the p-values NaN."""

    n_batch: int
    refused_batch: int
    share_refused_calibration: float
    n_calibration: int
    p_refused: float
    p_distribution: float
    level: float
    tested: bool

    @property
    def share_refused_batch(self) -> float:
        return self.refused_batch / self.n_batch if self.n_batch else float("nan")

    @property
    def shifted(self) -> bool:
        return self.tested and min(self.p_refused, self.p_distribution) <= self.level / 2

    def warning(self) -> str | None:
        """One line starting with "warning:" when the batch is shifted, else None."""
        if not self.shifted:
            return None
        cal, now = percent(round(self.share_refused_calibration, 4)), percent(round(self.share_refused_batch, 4))
        if self.p_refused <= self.level / 2:
            what = f"the share refused is {now} in this batch of {self.n_batch} rows against {cal} at calibration"
            p = self.p_refused
        else:
            what = (
                f"its confidences are distributed differently from the calibration rows' (share refused {now} "
                f"against {cal})"
            )
            p = self.p_distribution
        more = (
            " (more out-of-scope items than at calibration?)"
            if self.share_refused_batch > self.share_refused_calibration
            else ""
        )
        return (
            f"warning: this batch does not look like the threshold's calibration rows: {what}{more}; p = {p:.2g}. "
            "The threshold's guarantee assumes they are alike, so it may not hold for this batch: calibrate again "
            "on labelled rows like these."
        )

    def to_dict(self) -> dict:
        return {
            "n_batch": self.n_batch,
            "refused_batch": self.refused_batch,
            "share_refused_batch": self.share_refused_batch,
            "share_refused_calibration": self.share_refused_calibration,
            "n_calibration": self.n_calibration,
            "p_refused": self.p_refused,
            "p_distribution": self.p_distribution,
            "level": self.level,
            "tested": self.tested,
            "shifted": self.shifted,
        }


def check_batch(record: CalibrationRecord, confidence, threshold: float, *, level: float = 0.01) -> ShiftCheck:
    """Test a batch's confidences (m,) against a threshold's calibration record (see the module docstring)."""
    from scipy.stats import fisher_exact, ks_2samp

    c = np.asarray(confidence, dtype=np.float64).ravel()
    m, refused = len(c), int((~is_accepted(c, threshold)).sum())
    base = dict(
        n_batch=m,
        refused_batch=refused,
        share_refused_calibration=record.share_refused,
        n_calibration=record.n,
        level=float(level),
    )
    if m < MIN_BATCH_ROWS:
        return ShiftCheck(**base, p_refused=float("nan"), p_distribution=float("nan"), tested=False)
    table = [[record.refused, record.n - record.refused], [refused, m - refused]]
    p_refused = float(fisher_exact(table).pvalue)
    p_distribution = float(ks_2samp(record.confidences, c, method="asymp").pvalue)  # exact: slow, and a warning
    return ShiftCheck(**base, p_refused=p_refused, p_distribution=p_distribution, tested=True)
