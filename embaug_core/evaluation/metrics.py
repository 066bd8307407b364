"""Calibration and ranking metrics, all from one binning engine.

Conventions
-----------
* ``probs`` (n, C) are the head's sigmoid outputs over the C known (ID) classes.
* ``y`` (n,) is the true class index, or :data:`NONE` (-1) for a row of the "none"
  category (a class the head was not trained on).
* prediction = ``argmax(probs)``, confidence = its probability.
* For calibration a row is *correct* when its top-1 class is its label; "none" rows are
  never correct (no ID class can be right for them).

The binning engine :func:`bin_confidences` produces one :class:`Bins` object; ECE, MCE,
the reliability curve, the confidence histogram and the confidence–accuracy
correlation are all read from it, so the numbers and the pictures cannot disagree::

    ECE  = sum_b (n_b / N) * |acc_b - conf_b|
    MCE  = max_b |acc_b - conf_b|                         (non-empty bins)
    corr = Pearson(conf_b, acc_b) over non-empty bins

Bins are left-closed ``[e_k, e_k+1)`` except the last, which is closed, so a
confidence of exactly 1.0 falls in the last bin and 0.0 in the first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import EmbaugError
from ..jsonio import jsonable, nan_to_none, none_to_nan

__all__ = [
    "NONE",
    "sigmoid",
    "softmax",
    "top_k",
    "top1",
    "encode_labels",
    "correct_top1",
    "Bins",
    "bin_confidences",
    "expected_calibration_error",
    "maximum_calibration_error",
    "confidence_accuracy_correlation",
    "brier_score",
    "negative_log_likelihood",
    "top_label_nll",
    "auroc_aupr",
    "CalibrationSummary",
    "calibration_summary",
    "classwise_ece",
]

NONE = -1


def sigmoid(logits) -> np.ndarray:
    """Elementwise logistic function in float64: every probability embaug reports is float64."""
    from scipy.special import expit  # no overflow warning for very negative logits

    return expit(np.asarray(logits, dtype=np.float64))


def softmax(logits) -> np.ndarray:
    """Row-wise softmax (n, C) in float64."""
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _as_probs(probs) -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] == 0:
        raise EmbaugError(f"probs must have shape (n_samples, n_classes); got {probs.shape}.")
    return probs


def top1(probs) -> tuple[np.ndarray, np.ndarray]:
    """Top-1 class index (n,) and its probability, the confidence (n,)."""
    probs = _as_probs(probs)
    pred = probs.argmax(axis=1)
    return pred, probs[np.arange(len(pred)), pred]


def top_k(probs, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k most probable classes per row, (n, k) indices and (n, k) probabilities, best first.

    Ties keep the lower class index first (stable), as ``argmax`` does.
    """
    probs = _as_probs(probs)
    k = max(1, min(int(k), probs.shape[1]))
    idx = np.argsort(-probs, axis=1, kind="stable")[:, :k]  # (n, k)
    return idx, np.take_along_axis(probs, idx, axis=1)


def encode_labels(labels, class_names) -> np.ndarray:
    """Class index per row (n,), :data:`NONE` for labels not among ``class_names``.

    Unlabelled rows (``None``) must be removed before calling.
    """
    index = {c: i for i, c in enumerate(class_names)}
    out = np.empty(len(labels), dtype=np.int64)
    for i, lab in enumerate(labels):
        if lab is None:
            raise EmbaugError(f"row {i + 1} has no label; drop unlabelled rows before evaluating.")
        out[i] = index.get(lab, NONE)
    return out


def correct_top1(pred: np.ndarray, y: np.ndarray) -> np.ndarray:
    """True where the top-1 class is the label; always False for "none" rows."""
    y = np.asarray(y)
    return (np.asarray(pred) == y) & (y != NONE)


@dataclass(frozen=True, eq=False)
class Bins:
    """Per-bin statistics of confidences.

    Attributes
    ----------
    edges : (n_bins + 1,) bin edges, edges[0] = 0, edges[-1] = 1
    counts : (n_bins,) rows per bin
    confidence_sum, correct_sum : (n_bins,) sums per bin
    strategy : "uniform" (equal width) or "quantile" (equal mass)
    """

    edges: np.ndarray
    counts: np.ndarray
    confidence_sum: np.ndarray
    correct_sum: np.ndarray
    strategy: str

    @property
    def n_total(self) -> int:
        return int(self.counts.sum())

    @property
    def nonempty(self) -> np.ndarray:
        return self.counts > 0

    @property
    def mean_confidence(self) -> np.ndarray:
        """(n_bins,) mean confidence per bin, NaN for empty bins."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.nonempty, self.confidence_sum / self.counts, np.nan)

    @property
    def accuracy(self) -> np.ndarray:
        """(n_bins,) fraction correct per bin, NaN for empty bins."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.nonempty, self.correct_sum / self.counts, np.nan)

    @property
    def fraction(self) -> np.ndarray:
        """(n_bins,) share of all rows in each bin (the confidence histogram)."""
        return self.counts / max(self.n_total, 1)

    @property
    def centers(self) -> np.ndarray:
        return 0.5 * (self.edges[:-1] + self.edges[1:])

    def to_dict(self) -> dict:
        return {
            "strategy": self.strategy,
            "edges": self.edges.tolist(),
            "counts": self.counts.tolist(),
            "mean_confidence": jsonable(self.mean_confidence),
            "accuracy": jsonable(self.accuracy),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Bins:
        """The inverse of :meth:`to_dict`. The per-bin sums come back as mean x count, so the means read
        from them can differ from the saved ones in the last bit (a relative 1e-16)."""
        counts = np.asarray(d["counts"], dtype=np.int64)
        return cls(
            edges=np.asarray(d["edges"], dtype=np.float64),
            counts=counts,
            confidence_sum=np.nan_to_num(none_to_nan(d["mean_confidence"])) * counts,
            correct_sum=np.nan_to_num(none_to_nan(d["accuracy"])) * counts,
            strategy=d["strategy"],
        )


def bin_confidences(confidence, correct=None, *, n_bins: int = 10, strategy: str = "uniform") -> Bins:
    """The binning engine.

    Parameters
    ----------
    confidence : (n,) values in [0, 1]
    correct : (n,) bool, optional (all False when omitted: a plain histogram)
    n_bins : int >= 1
    strategy : {"uniform", "quantile"}
        Equal-width bins, or equal-mass bins whose edges are quantiles of
        ``confidence`` (ties can leave some bins empty).
    """
    conf = np.asarray(confidence, dtype=np.float64).ravel()
    if n_bins < 1:
        raise EmbaugError(f"n_bins must be >= 1; got {n_bins}.")
    if conf.size and (np.nanmin(conf) < 0 or np.nanmax(conf) > 1 or np.isnan(conf).any()):
        raise EmbaugError("confidences must lie in [0, 1] and not be NaN.")
    corr = np.zeros(conf.shape, dtype=np.float64) if correct is None else np.asarray(correct, dtype=np.float64).ravel()
    if corr.shape != conf.shape:
        raise EmbaugError(f"confidence and correct differ in length: {conf.size} vs {corr.size}.")
    exact = np.arange(n_bins + 1) / n_bins  # k / n_bins: 0.3, not linspace's 0.30000000000000004
    if strategy == "uniform":
        edges = exact
    elif strategy == "quantile":
        edges = np.quantile(conf, exact) if conf.size else exact
        edges[0], edges[-1] = 0.0, 1.0
        edges = np.maximum.accumulate(edges)
    else:
        raise EmbaugError(f"strategy must be 'uniform' or 'quantile'; got {strategy!r}.")
    idx = np.searchsorted(edges[1:-1], conf, side="right")  # (n,) in [0, n_bins - 1]
    counts = np.bincount(idx, minlength=n_bins)
    conf_sum = np.bincount(idx, weights=conf, minlength=n_bins)
    corr_sum = np.bincount(idx, weights=corr, minlength=n_bins)
    return Bins(edges=edges, counts=counts, confidence_sum=conf_sum, correct_sum=corr_sum, strategy=strategy)


def expected_calibration_error(bins: Bins) -> float:
    """ECE = sum_b (n_b / N) |acc_b - conf_b|; 0.0 for no rows."""
    if bins.n_total == 0:
        return 0.0
    gap = np.abs(bins.correct_sum - bins.confidence_sum)  # n_b * |acc_b - conf_b|
    return float(gap.sum() / bins.n_total)


def maximum_calibration_error(bins: Bins) -> float:
    """MCE = max over non-empty bins of |acc_b - conf_b|; 0.0 for no rows."""
    if bins.n_total == 0:
        return 0.0
    return float(np.nanmax(np.abs(bins.accuracy - bins.mean_confidence)))


def confidence_accuracy_correlation(bins: Bins) -> float:
    """Pearson correlation of per-bin mean confidence and accuracy (non-empty bins).

    NaN when fewer than two bins are non-empty or either side is constant.
    """
    ok = bins.nonempty
    conf, acc = bins.mean_confidence[ok], bins.accuracy[ok]
    if ok.sum() < 2 or np.ptp(conf) == 0 or np.ptp(acc) == 0:
        return float("nan")
    return float(np.corrcoef(conf, acc)[0, 1])


def _one_hot(y: np.ndarray, n_classes: int) -> np.ndarray:
    out = np.zeros((len(y), n_classes))
    known = y != NONE
    out[np.flatnonzero(known), y[known]] = 1.0
    return out


def brier_score(probs, y) -> float:
    """Mean over rows of sum_k (p_k - t_k)^2, t one-hot (all zeros for "none" rows).

    With sigmoid outputs the all-zero target is what a perfect head outputs for an
    unseen class.
    """
    probs = _as_probs(probs)
    y = np.asarray(y)
    return float(((probs - _one_hot(y, probs.shape[1])) ** 2).sum(axis=1).mean())


def negative_log_likelihood(probs, y, *, eps: float = 1e-12, weights=None) -> float:
    """Mean over rows of the summed binary cross-entropy of the sigmoid outputs.

    ``-sum_k [t_k log p_k + (1 - t_k) log(1 - p_k)]``, with ``t`` as in
    :func:`brier_score` and ``p`` clipped to ``[eps, 1 - eps]``: the likelihood the
    "binomial output" head actually models. ``weights`` (n,): a weighted mean over rows.
    """
    probs = np.clip(_as_probs(probs), eps, 1 - eps)
    t = _one_hot(np.asarray(y), probs.shape[1])
    return float(np.average(-(t * np.log(probs) + (1 - t) * np.log1p(-probs)).sum(axis=1), weights=weights))


def top_label_nll(probs, y, *, eps: float = 1e-12, weights=None) -> float:
    """Mean binary cross-entropy of the confidence (top-1 probability) against "the top-1 class is
    right" ("none" rows: never right).

    ``-mean [c_i log p_i + (1 - c_i) log(1 - p_i)]`` with ``p_i`` the row's confidence clipped to
    ``[eps, 1 - eps]`` and ``c_i`` :func:`correct_top1`: a proper score of the one number a confidence
    threshold acts on (ECE and the reliability diagram bin the same pairs), unlike
    :func:`negative_log_likelihood`, which sums over every class's output. ``weights`` (n,): a
    weighted mean over rows.
    """
    pred, conf = top1(probs)
    conf = np.clip(conf, eps, 1 - eps)
    right = correct_top1(pred, y)
    return float(np.average(-np.where(right, np.log(conf), np.log1p(-conf)), weights=weights))


def auroc_aupr(probs, y) -> tuple[float, float]:
    """Weighted one-vs-rest AUROC and AUPR over all classes including "none".

    Scores: ``probs[:, k]`` for class k and ``1 - confidence`` for "none"; weights are
    the supports. Classes with no positive row (or no negative row) in ``y`` have an
    undefined curve and are left out (their weight would be 0 anyway). scikit-learn's
    ``roc_auc_score`` / ``average_precision_score`` do the curve work.

    Returns (nan, nan) when no class can be scored.

    Computed for all classes at once (:func:`_ovr_auroc_aupr`), 30x faster than scikit-learn's
    ``roc_auc_score`` / ``average_precision_score`` column by column, with the same definitions
    (tied scores: half a pair for AUROC, one operating point for AUPR); the tests check them
    against scikit-learn.
    """
    probs = _as_probs(probs)
    y = np.asarray(y)
    _, conf = top1(probs)
    scores = np.column_stack([probs, 1.0 - conf])  # (n, C + 1)
    truth = np.column_stack([_one_hot(y, probs.shape[1]), (y == NONE).astype(float)])
    support = truth.sum(axis=0)
    keep = (support > 0) & (support < len(y))
    if not keep.any():
        return float("nan"), float("nan")
    auroc, aupr = _ovr_auroc_aupr(truth[:, keep], scores[:, keep])  # (K,) each
    weights = support[keep] / support[keep].sum()
    return float(auroc @ weights), float(aupr @ weights)


def _ovr_auroc_aupr(truth: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUROC and average precision of every column: truth (n, K) 0/1 with both values in every
    column, scores (n, K) -> (K,), (K,).

    AUROC is the Mann-Whitney statistic from average ranks (a tied positive/negative pair counts
    half). Average precision is sum_n (R_n - R_{n-1}) P_n over the distinct scores from the top,
    as scikit-learn defines it: every positive adds 1/P recall at the precision of the end of
    its run of tied scores.
    """
    from scipy.stats import rankdata

    n = truth.shape[0]
    pos = truth.sum(axis=0)  # (K,)
    ranks = rankdata(scores, axis=0)  # (n, K), ties averaged
    auroc = ((ranks * truth).sum(axis=0) - pos * (pos + 1) / 2) / (pos * (n - pos))
    order = np.argsort(-scores, axis=0, kind="stable")
    s_sorted = np.take_along_axis(scores, order, axis=0)
    t_sorted = np.take_along_axis(truth, order, axis=0)
    tp = np.cumsum(t_sorted, axis=0)  # (n, K)
    last_of_run = np.ones_like(s_sorted, dtype=bool)
    last_of_run[:-1] = s_sorted[1:] != s_sorted[:-1]
    # index of the end of each row's run of ties: the next run end at or after it
    idx = np.where(last_of_run, np.arange(n)[:, None], n - 1)
    run_end = np.minimum.accumulate(idx[::-1], axis=0)[::-1]
    precision_at_end = np.take_along_axis(tp, run_end, axis=0) / (run_end + 1)
    aupr = (precision_at_end * t_sorted).sum(axis=0) / pos
    return auroc, aupr


@dataclass(frozen=True, eq=False)
class CalibrationSummary:
    """Calibration numbers of one set of predictions, with the bins they came from."""

    bins: Bins
    bins_equal_mass: Bins
    ece: float
    mce: float
    ece_equal_mass: float
    mce_equal_mass: float
    correlation: float
    brier: float
    nll: float
    classwise_ece: float = float("nan")

    def to_dict(self) -> dict:
        return {
            "ece": self.ece,
            "classwise_ece": nan_to_none(self.classwise_ece),
            "mce": self.mce,
            "ece_equal_mass": self.ece_equal_mass,
            "mce_equal_mass": self.mce_equal_mass,
            "confidence_accuracy_correlation": nan_to_none(self.correlation),
            "brier": self.brier,
            "nll": self.nll,
            "reliability": self.bins.to_dict(),
            "reliability_equal_mass": self.bins_equal_mass.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> CalibrationSummary:
        """The inverse of :meth:`to_dict` (the bins as :meth:`Bins.from_dict` gives them)."""
        return cls(
            bins=Bins.from_dict(d["reliability"]),
            bins_equal_mass=Bins.from_dict(d["reliability_equal_mass"]),
            **{k: _number(d[k]) for k in ("ece", "mce", "ece_equal_mass", "mce_equal_mass", "brier", "nll")},
            correlation=_number(d["confidence_accuracy_correlation"]),
            classwise_ece=_number(d.get("classwise_ece")),  # results before 2026-11-24 have none
        )


def _number(value) -> float:
    """A float read back from JSON: None (how NaN is saved) -> NaN."""
    return float("nan") if value is None else float(value)


def calibration_summary(probs, y, *, n_bins: int = 10) -> CalibrationSummary:
    """All calibration numbers for ``probs`` (n, C) and labels ``y`` (n,)."""
    pred, conf = top1(probs)
    correct = correct_top1(pred, y)
    uniform = bin_confidences(conf, correct, n_bins=n_bins, strategy="uniform")
    mass = bin_confidences(conf, correct, n_bins=n_bins, strategy="quantile")
    return CalibrationSummary(
        bins=uniform,
        bins_equal_mass=mass,
        ece=expected_calibration_error(uniform),
        mce=maximum_calibration_error(uniform),
        ece_equal_mass=expected_calibration_error(mass),
        mce_equal_mass=maximum_calibration_error(mass),
        correlation=confidence_accuracy_correlation(uniform),
        brier=brier_score(probs, y),
        nll=negative_log_likelihood(probs, y),
        classwise_ece=classwise_ece(probs, y, n_bins=n_bins),
    )


def classwise_ece(probs, y, *, n_bins: int = 10) -> float:
    """Class-wise ECE (Kull et al. 2019): the mean over classes c of the ECE of ``probs[:, c]``
    against ``y == c`` over all rows (a "none" row is a negative for every class), each from the
    binning engine with equal-width bins. Top-label ECE looks at the top class only; this one
    also sees the probabilities a sigmoid head gives the other classes."""
    p = _as_probs(probs)
    y = np.asarray(y)
    if p.shape[1] == 0 or len(p) == 0:
        return float("nan")
    eces = [
        expected_calibration_error(bin_confidences(p[:, c], y == c, n_bins=n_bins, strategy="uniform"))
        for c in range(p.shape[1])
    ]
    return float(np.mean(eces))
