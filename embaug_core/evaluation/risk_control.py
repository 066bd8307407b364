"""Heuristic 4: a threshold with a guaranteed error rate among the items it answers (selective risk).

Heuristic 3 (:mod:`~embaug_core.evaluation.guarantee`) bounds the share of *known* items answered
"none". What a deployment is usually asked for is the other number: **of the items the system
answers, at most eps are wrong**, where an answer is wrong when a known item gets a class other than
its own, or an out-of-scope ("none") item gets any class. Heuristic 4 picks, from calibration rows
that no head trained on, the threshold with the **highest coverage** (share answered) such that,
with probability at least ``1 - delta`` over the draw of those rows,

    P(answer wrong | answered) <= eps            (and, optionally, P(refused | known) <= alpha)

How: Learn-then-Test (Angelopoulos et al. 2021). Every threshold t of a grid fixed in advance
(:data:`GRID`: 0 and 199 points evenly spaced on the logit scale, so that confidences near 0 and near
1 are both resolved) is a null hypothesis "the risk at t exceeds its target"; its p-value is the
binary Hoeffding–Bentkus p-value of the empirical risk (the error among the calibration rows t
answers; for the joint form the larger of that and the false rejection's); Holm's procedure over
the grid keeps the family-wise error at delta, and every threshold it rejects carries the guarantee.
Among them the one answering the most calibration rows is chosen.

The engine is MAPIE's ``BinaryClassificationController`` (LTT for binary decisions, "answered" being
the positive prediction), with the two risks written as MAPIE ``BinaryRisk`` objects on a coded label
(2: known and the top class right, 1: known and wrong, 0: "none"). Nothing of LTT is written here;
what is written here is the encoding, the grid, the checks a user meets (no "none" rows, too few
rows, no threshold meeting the targets and the smallest eps that could be met) and the record.

What it assumes: the future items are exchangeable with the calibration rows: the same classes,
the same head and embedding model, **and the same share of out-of-scope items**. A live batch whose
"none" share is larger than the calibration's breaks it (more wrong answers among the answered);
:mod:`~embaug_core.evaluation.live_check` tests a batch for that.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, EmbaugError
from .guarantee import percent
from .thresholds import is_accepted

__all__ = [
    "GRID",
    "RiskControlledThreshold",
    "risk_controlled_threshold",
    "min_rows",
    "holm_adjusted",
    "halves",
    "split_risk_check",
    "codes",
]

#: The thresholds tested, fixed before any data is seen (LTT's guarantee needs a data-independent grid).
GRID = np.r_[0.0, 1.0 / (1.0 + np.exp(-np.linspace(-8.0, 8.0, 199)))]
#: In words, for files and pages.
METHOD = (
    "Learn then Test (MAPIE BinaryClassificationController): binary Hoeffding-Bentkus p-values over "
    f"{len(GRID)} thresholds fixed in advance, Holm's procedure"
)
NONE_ROWS_HELP = (
    'the calibration rows need "none" rows, items the head must not answer: rows whose label is not one of '
    "the head's classes, rows known to be out of scope, or the rows of classes held out of training (an "
    "experiment's unseen classes)"
)

#: The fields of :class:`RiskControlledThreshold` its JSON form keeps, in their order.
_SAVED = (
    "max_error_rate",
    "delta",
    "max_false_rejection",
    "n_known",
    "n_none",
    "p_value",
    "holds",
    "method",
    "error_rate",
    "coverage",
    "false_rejection",
    "smallest_error_rate",
)


@dataclass(frozen=True)
class RiskControlledThreshold:
    """Heuristic 4's threshold and its guarantee (see the module docstring).

    Attributes
    ----------
    threshold : on the confidence scale (answer when confidence >= threshold); 1.0 when nothing holds
    max_error_rate, delta : eps and delta; max_false_rejection : alpha of the joint form, or None
    n_known, n_none : calibration rows of known classes and "none" rows
    p_value : the chosen threshold's Holm-adjusted p-value (<= delta when it holds; its Hoeffding–Bentkus p-value,
        the larger of the two risks' in the joint form, times the hypotheses left at its step); NaN when none holds
    holds : whether any threshold of the grid met the targets
    method : how it was computed, in words
    error_rate, coverage, false_rejection : on the calibration rows at the threshold (error among answered,
        share answered, share of known rows refused)
    smallest_error_rate : when nothing holds, the smallest eps (to 0.001) that these rows could guarantee
        with the same delta (and alpha); None otherwise, NaN when even eps just below 1 cannot (in the joint
        form: the false-rejection target is what cannot be met)
    """

    threshold: float
    max_error_rate: float
    delta: float
    max_false_rejection: float | None
    n_known: int
    n_none: int
    p_value: float
    holds: bool
    method: str
    error_rate: float
    coverage: float
    false_rejection: float
    smallest_error_rate: float | None = None

    def sentence(self) -> str:
        """The guarantee in words, e.g. beside the slider."""
        eps, level = percent(self.max_error_rate), percent(1 - self.delta)
        rows = f'from {self.n_known} known and {self.n_none} "none" calibration rows'
        also = (
            ""
            if self.max_false_rejection is None
            else f', and at most {percent(self.max_false_rejection)} of known items answered "none"'
        )
        if not self.holds:
            best = self.smallest_error_rate
            if best is not None and math.isfinite(best):
                could = f"the smallest that could be is {percent(best)}"
            elif self.max_false_rejection is not None:
                alpha = percent(self.max_false_rejection)
                could = f"no error rate could be guaranteed together with at most {alpha} refused"
            else:
                could = "no error rate below 100% could be guaranteed"
            return (
                f"No threshold guarantees at most {eps} wrong answers among answered items{also}, with {level} "
                f"confidence, {rows}; {could}."
            )
        return (
            f"Of the items answered, at most {eps} are wrong{also}, with {level} confidence, {rows} "
            f"(they answer {percent(self.coverage)} of them). It assumes future items are like these rows, "
            'including their share of "none" items.'
        )

    def to_dict(self) -> dict:
        """What a threshold file keeps (the threshold is the file's own)."""
        return {k: getattr(self, k) for k in _SAVED}

    @classmethod
    def from_dict(cls, d: dict, *, threshold: float) -> RiskControlledThreshold:
        """The inverse of :meth:`to_dict`; a file's record always has ``holds`` (a file is written only then)."""
        return cls(threshold=threshold, **{k: d.get(k) for k in _SAVED})


def codes(correct, known) -> np.ndarray:
    """The label MAPIE sees per calibration row: 2 known and the top class right, 1 known and wrong, 0 "none"."""
    right = np.asarray(correct, dtype=bool)
    is_known = np.asarray(known, dtype=bool)
    return np.where(is_known, np.where(right, 2, 1), 0).astype(int)


def _risks():
    from mapie.risk_control import BinaryRisk

    class Risk(BinaryRisk):
        """A threshold that answers no row has no risk to estimate. MAPIE marks it with an effective size of
        -1, which gives NaN p-values that stop Holm's procedure; here it gets p-value 1 (never valid)."""

        def get_value_and_effective_sample_size(self, y_true, y_pred):
            value, size = super().get_value_and_effective_sample_size(y_true, y_pred)
            return (1.0, 1) if size < 1 else (value, size)

    # y_pred 1 = answered. Wrong among answered: a known row answered with the wrong class, or a "none" row answered.
    error = Risk(
        risk_occurrence=lambda y, p: (p.ravel() == 1) & (y.ravel() != 2),
        risk_condition=lambda y, p: p.ravel() == 1,
        higher_is_better=False,
    )
    false_rejection = Risk(
        risk_occurrence=lambda y, p: p.ravel() == 0,
        risk_condition=lambda y, p: y.ravel() >= 1,
        higher_is_better=False,
    )
    refused = Risk(  # the secondary objective: answer as many as possible
        risk_occurrence=lambda y, p: p.ravel() == 0,
        risk_condition=lambda y, p: np.ones(len(y), dtype=bool),
        higher_is_better=False,
    )
    return error, false_rejection, refused


def _check(eps, delta, alpha) -> None:
    def bad(v):
        return isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 < v < 1.0

    if bad(eps):
        raise ConfigError(f"the maximum error rate must be a number strictly between 0 and 1; got {eps!r}.")
    if bad(delta):
        raise ConfigError(f"the confidence level must be a number strictly between 0 and 1; got {1 - delta!r}.")
    if alpha is not None and bad(alpha):
        raise ConfigError(f"the maximum false rejection must be a number strictly between 0 and 1; got {alpha!r}.")


def min_rows(eps: float, delta: float) -> int:
    """Fewest answered rows for which any threshold can carry the guarantee: even with no wrong answer among
    n answered rows, Holm's first test needs the binary Hoeffding–Bentkus p-value ``min(exp(-n h1(0, eps)),
    P(Binomial(n, eps) = 0))`` at most ``delta / len(GRID)``; both are ``(1 - eps)^n``. The same with alpha
    gives the fewest known rows for the joint form's false-rejection target."""
    _check(eps, delta, None)
    return math.ceil(math.log(delta / len(GRID)) / math.log1p(-eps))


def _controller(eps, delta, alpha):
    from mapie.risk_control import BinaryClassificationController

    error, false_rejection, refused = _risks()
    risks, targets = ([error, false_rejection], [eps, alpha]) if alpha is not None else ([error], [eps])
    return BinaryClassificationController(
        predict_function=lambda c: np.c_[1.0 - c[:, 0], c[:, 0]],
        risk=risks if alpha is not None else risks[0],
        target_level=targets if alpha is not None else targets[0],
        confidence_level=1.0 - delta,
        best_predict_param_choice=refused,
        list_predict_params=GRID,
        fwer_method="bonferroni_holm",
    )


def _calibrate(conf: np.ndarray, y: np.ndarray, eps, delta, alpha):
    """MAPIE's controller calibrated on confidences (n,) and codes (n,); (best threshold or None, p-values)."""
    ctl = _controller(eps, delta, alpha)
    with warnings.catch_warnings():  # MAPIE warns when no threshold holds; the record says so instead
        warnings.filterwarnings("ignore", message="No predict parameters were found")
        warnings.filterwarnings("ignore", message="All provided predict_params control the risk")
        ctl.calibrate(conf[:, None], y)
    return ctl.best_predict_param, np.asarray(ctl.p_values).ravel()


def risk_controlled_threshold(
    confidence, correct, known, max_error_rate: float, delta: float = 0.1, *, max_false_rejection: float | None = None
) -> RiskControlledThreshold:
    """Heuristic 4 on calibration rows (see the module docstring).

    Parameters
    ----------
    confidence : (n,) in [0, 1], higher = answered first (any none score's confidence)
    correct : (n,) bool, whether the row's top class is its label (False for "none" rows)
    known : (n,) bool, False for "none" rows (labels outside the head's classes, out-of-scope rows)
    max_error_rate : eps; delta : 1 - the confidence level; max_false_rejection : alpha of the joint form
    """
    _check(max_error_rate, delta, max_false_rejection)
    conf = np.asarray(confidence, dtype=np.float64).ravel()
    is_known = np.asarray(known, dtype=bool).ravel()
    right = np.asarray(correct, dtype=bool).ravel() & is_known
    if not (len(conf) == len(is_known) == len(right)):
        raise EmbaugError(
            f"one confidence, correct flag and known flag per row; got {len(conf)}, {len(right)}, {len(is_known)}."
        )
    if not np.isfinite(conf).all() or conf.min(initial=0.0) < 0.0 or conf.max(initial=0.0) > 1.0:
        raise ConfigError("confidences must be numbers in [0, 1].")
    n_known, n_none = int(is_known.sum()), int((~is_known).sum())
    if n_none == 0:
        raise EmbaugError(f'heuristic 4 has no "none" row to calibrate on: {NONE_ROWS_HELP}.')
    need = min_rows(max_error_rate, delta)
    if len(conf) < need:
        raise EmbaugError(
            f"{len(conf)} calibration rows are too few to guarantee at most {percent(max_error_rate)} wrong answers "
            f"with {percent(1 - delta)} confidence: at least {need} are needed (more when some answers are wrong); "
            "give more labelled rows, or a larger maximum error rate or a lower confidence level."
        )
    y = codes(right, is_known)
    if max_false_rejection is not None and n_known < min_rows(max_false_rejection, delta):
        raise EmbaugError(
            f"{n_known} known calibration rows are too few to guarantee at most {percent(max_false_rejection)} of "
            f"them refused with {percent(1 - delta)} confidence: at least {min_rows(max_false_rejection, delta)} "
            "are needed; give more labelled rows, or a larger maximum false rejection or a lower confidence level."
        )
    best, p_values = _calibrate(conf, y, max_error_rate, delta, max_false_rejection)
    holds = best is not None
    t = float(best) if holds else 1.0
    answered = is_accepted(conf, t) if holds else np.zeros(len(conf), dtype=bool)
    smallest = None if holds else _smallest_error_rate(conf, y, delta, max_false_rejection)
    return RiskControlledThreshold(
        threshold=t,
        max_error_rate=float(max_error_rate),
        delta=float(delta),
        max_false_rejection=None if max_false_rejection is None else float(max_false_rejection),
        n_known=n_known,
        n_none=n_none,
        p_value=float(holm_adjusted(p_values)[int(np.flatnonzero(GRID == t)[0])]) if holds else float("nan"),
        holds=holds,
        method=METHOD,
        error_rate=float((y[answered] != 2).mean()) if answered.any() else 0.0,
        coverage=float(answered.mean()),
        false_rejection=float((~answered[is_known]).mean()) if n_known else 0.0,
        smallest_error_rate=smallest,
    )


def holm_adjusted(p_values) -> np.ndarray:
    """Holm-adjusted p-values (m,): the k-th smallest becomes ``max_{j <= k} min(1, (m - j + 1) p_(j))``; a
    hypothesis is rejected by Holm's procedure at level delta exactly when its adjusted p-value is <= delta."""
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    m = len(p)
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out


def _smallest_error_rate(conf, y, delta, alpha) -> float:
    """The smallest eps (to 0.001, by bisection; the valid set only grows with eps) for which some threshold
    holds on these rows; NaN when even 0.999 does not."""
    lo, hi = 0, 999  # in thousandths; the answer is in (lo, hi]
    if _calibrate(conf, y, hi / 1000, delta, alpha)[0] is None:
        return float("nan")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _calibrate(conf, y, mid / 1000, delta, alpha)[0] is None:
            lo = mid
        else:
            hi = mid
    return hi / 1000


def halves(known, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random halving of rows (n,), stratified by ``known`` / "none": (calibration rows, the other rows)."""
    is_known = np.asarray(known, dtype=bool)
    rng = np.random.default_rng(seed)
    calib, future = [], []
    for part in (np.flatnonzero(is_known), np.flatnonzero(~is_known)):
        part = rng.permutation(part)
        calib.append(part[: len(part) // 2])
        future.append(part[len(part) // 2 :])
    return np.concatenate(calib), np.concatenate(future)


def split_risk_check(confidence, correct, known, max_error_rate, delta, *, max_false_rejection=None, seed=0):
    """Heuristic 4 as a user meets it: a seeded random half of the rows (stratified by known / "none") is the
    calibration set, the other half plays future items. Returns (RiskControlledThreshold, realised error
    among the other half's answered rows (NaN when it answers none), coverage on the other half)."""
    conf = np.asarray(confidence, dtype=np.float64)
    is_known = np.asarray(known, dtype=bool)
    right = np.asarray(correct, dtype=bool) & is_known
    c, f = halves(is_known, seed)
    r = risk_controlled_threshold(
        conf[c], right[c], is_known[c], max_error_rate, delta, max_false_rejection=max_false_rejection
    )
    answered = is_accepted(conf[f], r.threshold) if r.holds else np.zeros(len(f), dtype=bool)
    realised = float((~right[f][answered]).mean()) if answered.any() else float("nan")
    return r, realised, float(answered.mean()) if len(f) else float("nan")
