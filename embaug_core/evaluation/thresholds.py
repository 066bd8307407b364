"""Accuracy against the confidence threshold, and the paper's two threshold heuristics.

Direction, stated once: confidence (the top-1 sigmoid probability) is *higher* for
in-distribution items. A row is **accepted** (answered with its top class) when
``confidence >= threshold`` and answered **"none"** when ``confidence < threshold``.

Accuracies at threshold t (the paper's Sec. 3.5):

* ID accuracy      = ID rows accepted with the right class / ID rows
* none accuracy    = none rows rejected / none rows
* overall accuracy = (ID rows accepted with the right class + none rows rejected) / rows

Counts for heuristic 2 (Fig. 6):

* ID group:   TP = ID rows accepted with the right class; FP = accepted rows whose
  answer is wrong (a wrong class, or any accepted "none" row); FN = ID rows *not*
  accepted with the right class (ID rows - TP).
* none group: TP = none rows rejected; FP = ID rows rejected; FN = none rows accepted.
* ratio = TP / max(FP + FN, 1) per group (the floor of 1 keeps a perfect group finite),
  heuristic 2 maximises the mean of the two ratios.

The sweep sorts the confidences once and keeps cumulative counts, so every quantity at
any threshold is a binary search (O(log n)) and a whole curve is one vectorised call:
no Python loop over thresholds.

The rule is written once, in :func:`is_accepted`; :func:`route` turns probabilities into
answers with it, and :class:`ThresholdSweep` counts with its equivalent for sorted
confidences (rows *rejected* at t are those sorted before ``searchsorted(t, "left")``).

Heuristics are searched *exactly*: every quantity is a step function of t that changes
only at the distinct confidences, so the search runs over those intervals
(:meth:`ThresholdSweep.pieces`), not over a grid. The 0.001 grid is for drawing only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from ..errors import EmbaugError
from ..jsonio import nan_to_none
from .metrics import NONE, correct_top1, top1

__all__ = [
    "DEFAULT_GRID",
    "NONE_ANSWER",
    "is_accepted",
    "accuracies_at",
    "route",
    "OperatingPoint",
    "SweepCurve",
    "ThresholdSweep",
    "HeuristicResult",
    "intersection_threshold",
    "ratio_threshold",
    "HEURISTICS",
]

#: Thresholds 0, 0.001, ..., 1 (k / 1000, exact decimals): the grid on which curves are drawn.
DEFAULT_GRID = np.arange(1001) / 1000

#: The answer given to a rejected row.
NONE_ANSWER = "none"


def is_accepted(confidence, threshold: float) -> np.ndarray:
    """The accept rule, the only place it is written: accepted when ``confidence >= threshold``.

    confidence : (n,) -> (n,) bool
    """
    return np.asarray(confidence, dtype=np.float64) >= threshold


def accuracies_at(confidence, correct, is_none, threshold: float) -> tuple[float, float, float]:
    """(overall, ID, "none") accuracy at one threshold by :func:`is_accepted`, in O(n) without sorting.

    For one threshold per call on a hot path (the per-epoch validation of training);
    :class:`ThresholdSweep` is for many thresholds over the same rows. NaN for an empty group.
    """
    accepted = is_accepted(confidence, threshold)
    correct, is_none = np.asarray(correct, dtype=bool), np.asarray(is_none, dtype=bool)
    good, rejected_none = int((accepted & correct).sum()), int((~accepted & is_none).sum())
    n, n_none = len(accepted), int(is_none.sum())
    n_id = n - n_none
    return (
        (good + rejected_none) / n if n else math.nan,
        good / n_id if n_id else math.nan,
        rejected_none / n_none if n_none else math.nan,
    )


def route(probs, threshold: float, class_names, *, none_answer: str = NONE_ANSWER, confidence=None) -> np.ndarray:
    """The answer per row: the top class when accepted by :func:`is_accepted`, else ``none_answer``.

    Parameters
    ----------
    probs : (n, C) probabilities (float64 is used throughout, whatever comes in)
    threshold : float in [0, 1]
    class_names : C names, in output order
    confidence : (n,) optional, the confidence of another none score (:mod:`embaug_core.evaluation.scores`);
        default the top probability

    Returns
    -------
    (n,) object array of class names and ``none_answer``
    """
    if not np.isfinite(threshold) or not 0.0 <= threshold <= 1.0:
        raise EmbaugError(f"threshold must be a number in [0, 1]; got {threshold}.")
    pred, conf = top1(probs)
    names = np.asarray(list(class_names), dtype=object)
    if len(names) != np.asarray(probs).shape[1]:
        raise EmbaugError(f"{len(names)} class names for {np.asarray(probs).shape[1]} probability columns.")
    conf = conf if confidence is None else np.asarray(confidence, dtype=np.float64)
    return np.where(is_accepted(conf, threshold), names[pred], none_answer).astype(object)


@dataclass(frozen=True, eq=False)
class SweepCurve:
    """Every threshold-dependent quantity at each threshold in ``thresholds`` (T,).

    All attributes are arrays of shape (T,). Accuracies are NaN when their group
    is empty (e.g. ``none_accuracy`` with no "none" rows).
    """

    thresholds: np.ndarray
    id_accuracy: np.ndarray
    none_accuracy: np.ndarray
    overall_accuracy: np.ndarray
    accepted: np.ndarray
    id_tp: np.ndarray
    id_fp: np.ndarray
    id_fn: np.ndarray
    none_tp: np.ndarray
    none_fp: np.ndarray
    none_fn: np.ndarray
    id_ratio: np.ndarray
    none_ratio: np.ndarray
    mean_ratio: np.ndarray

    def __len__(self) -> int:
        return len(self.thresholds)

    def to_columns(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def point(self, i: int) -> OperatingPoint:
        return OperatingPoint(
            **{name: _scalar(col[i]) for name, col in self.to_columns().items() if name != "thresholds"},
            threshold=float(self.thresholds[i]),
        )


def _scalar(v):
    v = v.item() if hasattr(v, "item") else v
    return v


@dataclass(frozen=True)
class OperatingPoint:
    """The quantities of :class:`SweepCurve` at one threshold."""

    threshold: float
    id_accuracy: float
    none_accuracy: float
    overall_accuracy: float
    accepted: int
    id_tp: int
    id_fp: int
    id_fn: int
    none_tp: int
    none_fp: int
    none_fn: int
    id_ratio: float
    none_ratio: float
    mean_ratio: float

    def confusion(self) -> dict[str, dict[str, int]]:
        """Where ID and "none" rows end up at this threshold.

        ``{"ID": {"accepted, right class", "accepted, wrong class", "routed to none"},
        "none": {"accepted (wrongly)", "routed to none"}}``
        """
        id_wrong = self.accepted - self.id_tp - self.none_fn
        return {
            "ID": {
                "accepted, right class": self.id_tp,
                "accepted, wrong class": id_wrong,
                "routed to none": self.none_fp,
            },
            "none": {"accepted, right class": 0, "accepted, wrong class": self.none_fn, "routed to none": self.none_tp},
        }

    def to_dict(self) -> dict:
        return {f.name: nan_to_none(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict) -> OperatingPoint:
        """The inverse of :meth:`to_dict` (None, how an undefined accuracy is saved, -> NaN)."""
        return cls(**{k: float("nan") if v is None else v for k, v in d.items()})


class ThresholdSweep:
    """Precomputed sweep over thresholds for one set of predictions.

    Parameters
    ----------
    confidence : (n,) top-1 probabilities
    correct : (n,) bool, top-1 class is the label (False for "none" rows)
    is_none : (n,) bool, row belongs to the "none" category

    Notes
    -----
    Construction sorts once (O(n log n)); :meth:`at` and :meth:`curve` only do binary
    searches into cumulative counts.
    """

    def __init__(self, confidence, correct, is_none):
        conf = np.asarray(confidence, dtype=np.float64).ravel()
        correct = np.asarray(correct, dtype=bool).ravel()
        is_none = np.asarray(is_none, dtype=bool).ravel()
        if not (conf.shape == correct.shape == is_none.shape):
            raise EmbaugError("confidence, correct and is_none must have the same length.")
        if (correct & is_none).any():
            raise EmbaugError("a 'none' row cannot be counted as correct.")
        order = np.argsort(conf, kind="stable")
        self._sorted = conf[order]  # (n,) ascending
        zero = np.zeros(1, dtype=np.int64)
        # cum_x[k] = number of the k lowest-confidence rows with property x
        self._cum_none = np.concatenate([zero, np.cumsum(is_none[order], dtype=np.int64)])
        self._cum_good = np.concatenate([zero, np.cumsum(correct[order], dtype=np.int64)])
        self.n = int(conf.size)
        self.n_none = int(is_none.sum())
        self.n_id = self.n - self.n_none
        self.n_correct = int(correct.sum())

    @classmethod
    def from_probs(cls, probs, y, *, confidence=None) -> ThresholdSweep:
        """From sigmoid outputs (n, C) and class indices (n,) with :data:`NONE` for none; the
        answer is the top class, accepted by its ``confidence`` (n,) (default: the top probability)."""
        pred, conf = top1(probs)
        conf = conf if confidence is None else np.asarray(confidence, dtype=np.float64)
        y = np.asarray(y)
        return cls(conf, correct_top1(pred, y), y == NONE)

    def curve(self, thresholds=None) -> SweepCurve:
        """All quantities at every threshold (T,), vectorised. Default grid: 0..1 step 0.001."""
        t = DEFAULT_GRID if thresholds is None else np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
        rejected = np.searchsorted(self._sorted, t, side="left")  # rows with conf < t, (T,)
        none_rej = self._cum_none[rejected]
        id_rej = rejected - none_rej
        good_acc = self.n_correct - self._cum_good[rejected]  # accepted with the right class
        accepted = self.n - rejected
        id_tp, id_fp, id_fn = good_acc, accepted - good_acc, self.n_id - good_acc
        none_tp, none_fp, none_fn = none_rej, id_rej, self.n_none - none_rej
        with np.errstate(invalid="ignore", divide="ignore"):
            id_acc = good_acc / self.n_id if self.n_id else np.full(t.shape, np.nan)
            none_acc = none_rej / self.n_none if self.n_none else np.full(t.shape, np.nan)
            overall = (good_acc + none_rej) / self.n if self.n else np.full(t.shape, np.nan)
        id_ratio = id_tp / np.maximum(id_fp + id_fn, 1)
        none_ratio = none_tp / np.maximum(none_fp + none_fn, 1)
        return SweepCurve(
            thresholds=t,
            id_accuracy=np.asarray(id_acc, dtype=np.float64),
            none_accuracy=np.asarray(none_acc, dtype=np.float64),
            overall_accuracy=np.asarray(overall, dtype=np.float64),
            accepted=accepted,
            id_tp=id_tp,
            id_fp=id_fp,
            id_fn=id_fn,
            none_tp=none_tp,
            none_fp=none_fp,
            none_fn=none_fn,
            id_ratio=id_ratio,
            none_ratio=none_ratio,
            mean_ratio=0.5 * (id_ratio + none_ratio),
        )

    def pieces(self) -> tuple[np.ndarray, np.ndarray]:
        """The intervals of thresholds on which every quantity is constant.

        With distinct sorted confidences u_1 < ... < u_m the intervals are [0, u_1],
        (u_1, u_2], ..., (u_m, 1] (the last only when u_m < 1). Returns their left and
        right ends, (P,) each; the right end belongs to the interval, so ``curve(right)``
        gives the value on each.
        """
        u = np.unique(self._sorted)
        right = np.concatenate([u, [1.0]]) if not u.size or u[-1] < 1.0 else u
        left = np.concatenate([[0.0], right[:-1]])
        if right[0] <= 0.0:  # [0, 0] when some confidence is exactly 0
            left[0] = right[0] = 0.0
        return left, right

    def at(self, threshold: float) -> OperatingPoint:
        """Every quantity at one threshold (O(log n))."""
        if not np.isfinite(threshold) or not 0.0 <= threshold <= 1.0:
            raise EmbaugError(f"threshold must be a number in [0, 1]; got {threshold}.")
        return self.curve([threshold]).point(0)


@dataclass(frozen=True)
class HeuristicResult:
    """A threshold chosen by a heuristic.

    Attributes
    ----------
    name : "intersection" (heuristic 1) or "ratio" (heuristic 2)
    threshold : float
    exact : bool
        For "intersection": whether the curves really cross in [0, 1]. When they do not,
        ``threshold`` is where they come closest and ``note`` says so.
    note : str
    """

    name: str
    threshold: float
    exact: bool
    note: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "threshold": self.threshold, "exact": self.exact, "note": self.note}

    @classmethod
    def from_dict(cls, d: dict) -> HeuristicResult:
        return cls(d["name"], d["threshold"], d["exact"], d.get("note", ""))


def _require_both_groups(sweep: ThresholdSweep, name: str) -> None:
    if not sweep.n_none:
        raise EmbaugError(
            f"heuristic {name!r} needs validation rows of the 'none' category (classes the head was not trained on); "
            "there are none."
        )
    if not sweep.n_id:
        raise EmbaugError(f"heuristic {name!r} needs in-distribution validation rows; there are none.")


def _middle(left: np.ndarray, right: np.ndarray, first: int, last: int) -> float:
    """Middle of the union of intervals first..last (inside it: the left ends are open).

    When the interval is too narrow for its middle to differ from its open left end in floating
    point (two confidences one ulp apart), its right end, which belongs to it, is returned.
    """
    mid = float(0.5 * (left[first] + right[last]))
    return float(right[last]) if first > 0 and mid <= left[first] else mid


def intersection_threshold(sweep: ThresholdSweep) -> HeuristicResult:
    """Heuristic 1: where overall accuracy and "none" accuracy intersect.

    ``d(t) = overall(t) - none(t)`` is >= 0 at t = 0 (nothing rejected) and falls as t
    grows; it is a step function that changes only at the distinct confidences. The
    curves cross where d first reaches <= 0: the threshold is the middle of that first
    interval of :meth:`ThresholdSweep.pieces` (every threshold in it gives the same
    accuracies; the middle keeps away from the step edges). If d stays > 0 everywhere
    the curves never cross; the middle of the interval where |d| is smallest is returned
    with ``exact=False`` and a note.
    """
    _require_both_groups(sweep, "intersection")
    left, right = sweep.pieces()
    c = sweep.curve(right)
    d = c.overall_accuracy - c.none_accuracy  # (P,)
    reached = np.flatnonzero(d <= 0)
    if reached.size:
        k = int(reached[0])
        return HeuristicResult("intersection", _middle(left, right, k, k), True)
    k = int(np.argmin(np.abs(d)))
    return HeuristicResult(
        "intersection",
        _middle(left, right, k, k),
        False,
        f"overall and none accuracy never cross on [0, 1]; returned the threshold where they are closest "
        f"(gap {abs(d[k]):.3f}).",
    )


def ratio_threshold(sweep: ThresholdSweep) -> HeuristicResult:
    """Heuristic 2: the threshold maximising mean(TP/(FP+FN)) of the ID and none groups.

    The search runs over every interval of :meth:`ThresholdSweep.pieces`, so the true
    maximum is found wherever it lies (also in (0.999, 1] for an over-confident head).
    The threshold is the middle of the first run of consecutive intervals that reach the
    maximum, which keeps it away from the step edges.
    """
    _require_both_groups(sweep, "ratio")
    left, right = sweep.pieces()
    r = sweep.curve(right).mean_ratio  # (P,)
    at_best = r == r.max()
    first = int(np.argmax(at_best))
    last = first
    while last + 1 < len(r) and at_best[last + 1]:
        last += 1
    return HeuristicResult("ratio", _middle(left, right, first, last), True)


HEURISTICS = {"intersection": intersection_threshold, "ratio": ratio_threshold}
