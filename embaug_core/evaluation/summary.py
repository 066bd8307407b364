"""Everything about one set of predictions in one object: :func:`evaluate`.

Used by ``embaug evaluate``, by the experiment runner and by the dashboard, so that the
numbers in ``metrics.json``, in the paper tables and on screen come from one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import EmbaugError
from ..jsonio import nan_to_none
from .detection import NoneDetection
from .metrics import NONE, CalibrationSummary, auroc_aupr, calibration_summary, correct_top1, top1
from .selective import RiskCoverage, risk_coverage
from .thresholds import DEFAULT_GRID, HEURISTICS, HeuristicResult, OperatingPoint, SweepCurve, ThresholdSweep

__all__ = ["Evaluation", "evaluate", "rethreshold", "none_score_report"]


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Threshold-free and threshold-dependent results for predictions ``probs`` (n, C).

    Attributes
    ----------
    n_id, n_none : rows of known classes / of the "none" category
    auroc, aupr : weighted one-vs-rest over all classes including "none"
    calibration : CalibrationSummary (ECE, MCE, correlation, Brier, NLL, bins)
    sweep : ThresholdSweep, for re-evaluating at any threshold
    curve : SweepCurve on ``thresholds`` (default 0..1 step 0.001), for drawing
    heuristics : {"intersection": HeuristicResult, "ratio": HeuristicResult}, searched
        exactly over the distinct confidences (not the drawing grid); a
        heuristic that cannot be computed (no "none" rows) is absent and its reason
        is in ``notes``
    operating_points : {"intersection" | "ratio": OperatingPoint at that threshold}
    selective : RiskCoverage of answering by the same confidence (AURC, E-AURC)
    """

    n_id: int
    n_none: int
    auroc: float
    aupr: float
    calibration: CalibrationSummary
    sweep: ThresholdSweep = field(repr=False)
    curve: SweepCurve = field(repr=False)
    heuristics: dict[str, HeuristicResult]
    operating_points: dict[str, OperatingPoint]
    notes: tuple[str, ...] = ()
    selective: RiskCoverage | None = None

    def at(self, threshold: float) -> OperatingPoint:
        return self.sweep.at(threshold)

    def curve_frame(self) -> pd.DataFrame:
        """The sweep as a table, one row per threshold."""
        return pd.DataFrame(self.curve.to_columns())

    def reliability_frame(self, *, equal_mass: bool = False) -> pd.DataFrame:
        b = self.calibration.bins_equal_mass if equal_mass else self.calibration.bins
        return pd.DataFrame(
            {
                "bin_lower": b.edges[:-1],
                "bin_upper": b.edges[1:],
                "count": b.counts,
                "fraction": b.fraction,
                "mean_confidence": b.mean_confidence,
                "accuracy": b.accuracy,
            }
        )

    def to_dict(self) -> dict:
        return {
            "n_id": self.n_id,
            "n_none": self.n_none,
            "auroc": nan_to_none(self.auroc),
            "aupr": nan_to_none(self.aupr),
            "calibration": self.calibration.to_dict(),
            "heuristics": {
                k: {**h.to_dict(), "at_threshold": self.operating_points[k].to_dict()}
                for k, h in self.heuristics.items()
            },
            "notes": list(self.notes),
            "selective": None if self.selective is None else self.selective.to_dict(),
        }


def evaluate(probs, y, *, n_bins: int = 10, thresholds=None, confidence=None) -> Evaluation:
    """Evaluate sigmoid outputs ``probs`` (n, C) against labels ``y`` (n,) (NONE = -1).

    Parameters
    ----------
    probs : (n, C) array
    y : (n,) int array, class index or :data:`~embaug_core.evaluation.metrics.NONE`
    n_bins : bins of the reliability diagram / histogram / ECE
    thresholds : (T,) grid for the drawn curve (default 0..1 step 0.001); the heuristics
        do not depend on it
    confidence : (n,) optional, what the threshold applies to when it is not the top
        probability (another none score's confidence, :mod:`embaug_core.evaluation.scores`): the sweep,
        curve and heuristics use it; AUROC/AUPR and calibration stay on ``probs``
    """
    probs = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y)
    if probs.ndim != 2 or len(probs) != len(y):
        raise EmbaugError(f"probs (n, C) and labels (n,) do not match: {probs.shape} vs {y.shape}.")
    if len(y) == 0:
        raise EmbaugError("nothing to evaluate: no labelled rows.")
    auroc, aupr = auroc_aupr(probs, y)
    n_none = int((y == NONE).sum())
    base = Evaluation(
        n_id=len(y) - n_none,
        n_none=n_none,
        auroc=auroc,
        aupr=aupr,
        calibration=calibration_summary(probs, y, n_bins=n_bins),
        sweep=None,
        curve=None,
        heuristics={},
        operating_points={},
    )
    return rethreshold(base, probs, y, confidence=confidence, thresholds=thresholds)


def rethreshold(ev: Evaluation, probs, y, *, confidence=None, thresholds=None) -> Evaluation:
    """``ev`` with its threshold-dependent parts (sweep, curve, heuristics, operating points,
    risk-coverage) computed for another ``confidence`` (n,) of the same predictions ``probs``
    (n, C) and labels ``y`` (n,); AUROC/AUPR and calibration are kept, not recomputed. This is
    how the Threshold page switches the none score without re-evaluating the head."""
    from dataclasses import replace

    probs, y = np.asarray(probs, dtype=np.float64), np.asarray(y)
    sweep = ThresholdSweep.from_probs(probs, y, confidence=confidence)
    pred, top = top1(probs)
    selective = risk_coverage(top if confidence is None else confidence, correct_top1(pred, y))
    curve = sweep.curve(DEFAULT_GRID if thresholds is None else thresholds)
    heuristics, points, notes = {}, {}, []
    for name, fn in HEURISTICS.items():
        try:
            h = fn(sweep)
        except EmbaugError as exc:
            notes.append(str(exc))
            continue
        heuristics[name] = h
        points[name] = sweep.at(h.threshold)
        if h.note:
            notes.append(f"{name}: {h.note}")
    return replace(
        ev,
        sweep=sweep,
        curve=curve,
        heuristics=heuristics,
        operating_points=points,
        notes=tuple(dict.fromkeys(notes)),
        selective=selective,
    )


def none_score_report(head, x, y, *, logits=None) -> dict[str, NoneDetection]:
    """How well each none score of ``head`` tells "none" rows of ``x`` (n, D) from known ones,
    with labels ``y`` (n,) (NONE = -1): {score: NoneDetection} (NaN without both groups).
    A head saved without a score bank reports max_prob only."""
    from .detection import none_detection
    from .scores import SCORE_NAMES

    z = head.predict_logits(x) if logits is None else logits
    names = SCORE_NAMES if head.scores is not None else ("max_prob",)
    return {name: none_detection(y, -head.confidence(x, name, logits=z)) for name in names}
