"""What one method produced in one trial, as typed records: :class:`MethodTrial` and its parts.

Records hold numbers (NaN where undefined) and the evaluation layer's own types
(:class:`~embaug_core.evaluation.metrics.CalibrationSummary`,
:class:`~embaug_core.evaluation.thresholds.OperatingPoint`, ...). They become JSON only at the edge:
``to_dict`` gives the form ``results.json`` has always had (the same keys in the same order, NaN as
null), ``from_dict`` reads it back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..data.splits import SplitInfo
from ..discovery.quality import GroupingScores
from ..evaluation.detection import NoneDetection
from ..evaluation.guarantee import GuaranteedThreshold
from ..evaluation.metrics import CalibrationSummary
from ..evaluation.selective import SelectiveSummary
from ..evaluation.thresholds import HeuristicResult, OperatingPoint
from ..jsonio import jsonable, nan_to_none, none_to_nan
from ..training.engine import EpochRecord
from ..training.recipe import Checkpoint, LearningRateProbe

__all__ = [
    "CURVE_GRID",
    "Curve",
    "ThresholdChoice",
    "ScoreThreshold",
    "GuaranteeCheck",
    "GridPoint",
    "LogRegPoint",
    "LearningRateChoice",
    "TemperatureFit",
    "SelectionRow",
    "TrialSplits",
    "MethodTrial",
]

#: Threshold grid stored with every result (step 0.01, exact decimals k / 100) for the figures.
CURVE_GRID = np.arange(101) / 100
_ACCURACIES = ("overall_accuracy", "id_accuracy", "none_accuracy")
_RATIOS = ("id_ratio", "none_ratio", "mean_ratio")


def _number(value) -> float:
    return float("nan") if value is None else value


@dataclass(frozen=True, eq=False)
class Curve:
    """Curves of one evaluation on :data:`CURVE_GRID` (T,): the accuracies, and for the validation
    split the TP/(FP+FN) ratios (the paper's Fig. 6); NaN where a group is empty."""

    thresholds: np.ndarray
    overall_accuracy: np.ndarray
    id_accuracy: np.ndarray
    none_accuracy: np.ndarray
    id_ratio: np.ndarray | None = None
    none_ratio: np.ndarray | None = None
    mean_ratio: np.ndarray | None = None

    @classmethod
    def of(cls, ev, *, ratios: bool = False) -> Curve:
        """The curves of an :class:`~embaug_core.evaluation.summary.Evaluation` on :data:`CURVE_GRID`."""
        c = ev.sweep.curve(CURVE_GRID)
        keys = _ACCURACIES + (_RATIOS if ratios else ())
        return cls(thresholds=CURVE_GRID, **{k: np.asarray(getattr(c, k), dtype=np.float64) for k in keys})

    def to_dict(self) -> dict:
        series = {k: getattr(self, k) for k in _ACCURACIES + _RATIOS if getattr(self, k) is not None}
        return {"thresholds": np.asarray(self.thresholds).tolist(), **{k: jsonable(v) for k, v in series.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> Curve:
        return cls(
            thresholds=np.asarray(d["thresholds"]), **{k: none_to_nan(v) for k, v in d.items() if k != "thresholds"}
        )


@dataclass(frozen=True)
class ThresholdChoice:
    """A heuristic's threshold, chosen on the validation split, with the operating point it gave there
    and on the evaluation rows (a row of Table 3)."""

    heuristic: HeuristicResult
    validation: OperatingPoint
    evaluation: OperatingPoint

    @property
    def threshold(self) -> float:
        return self.heuristic.threshold

    def to_dict(self) -> dict:
        return {
            **self.heuristic.to_dict(),
            "validation": self.validation.to_dict(),
            "evaluation": self.evaluation.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> ThresholdChoice:
        return cls(
            HeuristicResult.from_dict(d),
            OperatingPoint.from_dict(d["validation"]),
            OperatingPoint.from_dict(d["evaluation"]),
        )


@dataclass(frozen=True)
class ScoreThreshold:
    """A heuristic's threshold in one none score's units and its operating point on the evaluation rows."""

    threshold: float
    evaluation: OperatingPoint

    def to_dict(self) -> dict:
        return {"threshold": self.threshold, "evaluation": self.evaluation.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> ScoreThreshold:
        return cls(d["threshold"], OperatingPoint.from_dict(d["evaluation"]))


@dataclass(frozen=True)
class GuaranteeCheck:
    """Heuristic 3 computed on a random half of a trial's known evaluation rows, and the false-rejection
    rate it realised on the other half."""

    guarantee: GuaranteedThreshold
    realised_false_rejection: float

    @property
    def violated(self) -> bool:
        return bool(self.realised_false_rejection > self.guarantee.alpha)

    def to_dict(self) -> dict:
        g = self.guarantee
        return {
            **g.to_dict(),
            "threshold": g.threshold,
            "realised_false_rejection": self.realised_false_rejection,
            "violated": self.violated,
        }

    @classmethod
    def from_dict(cls, d: dict) -> GuaranteeCheck:
        return cls(GuaranteedThreshold.from_dict(d, threshold=d["threshold"]), d["realised_false_rejection"])


@dataclass(frozen=True)
class GridPoint:
    """One validation head of a method's grid: its settings, its selection score on the validation split
    and (for the auto recipe) its checkpoint. ``method`` is set in the auto method's rows, which span
    several methods."""

    alpha: float
    softness: float
    score: float
    checkpoint: Checkpoint | None = None
    method: str | None = None
    C: float | None = None  # logistic regression's, when the auto method tried it or a blend of a head with it

    def to_dict(self) -> dict:
        head = {} if self.method is None else {"method": self.method}
        tail = {} if self.checkpoint is None else {"checkpoint": self.checkpoint.to_dict()}
        tail |= {} if self.C is None else {"C": self.C}
        alpha, softness = nan_to_none(self.alpha), nan_to_none(self.softness)
        return {**head, "alpha": alpha, "softness": softness, "score": nan_to_none(self.score), **tail}

    @classmethod
    def from_dict(cls, d: dict) -> GridPoint:
        cp = Checkpoint.from_dict(d["checkpoint"]) if "checkpoint" in d else None
        return cls(_number(d["alpha"]), _number(d["softness"]), _number(d["score"]), cp, d.get("method"), d.get("C"))


@dataclass(frozen=True)
class LogRegPoint:
    """One inverse regularisation strength tried for logistic regression, with its selection score."""

    C: float
    score: float

    def to_dict(self) -> dict:
        return {"C": self.C, "score": nan_to_none(self.score)}

    @classmethod
    def from_dict(cls, d: dict) -> LogRegPoint:
        return cls(d["C"], _number(d["score"]))


@dataclass(frozen=True)
class LearningRateChoice:
    """The auto recipe's learning-rate probes of a trial and the peak rate its heads trained with."""

    probes: tuple[LearningRateProbe, ...]
    lr_max: float

    def to_dict(self) -> dict:
        return {"learning_rate_probes": [p.to_dict() for p in self.probes], "lr_max": self.lr_max}

    @classmethod
    def from_dict(cls, d: dict) -> LearningRateChoice:
        return cls(tuple(LearningRateProbe.from_dict(p) for p in d["learning_rate_probes"]), d["lr_max"])


@dataclass(frozen=True)
class TemperatureFit:
    """A temperature a model's logits are divided by, and the rows it was fitted on: a peer's (Control + TS,
    LogReg + TS) on the validation rows, or a cross-fitted ensemble's on its fold members' out-of-fold rows
    (:func:`~embaug_core.training.models.cross_fit`)."""

    temperature: float
    fitted_on: str

    def to_dict(self) -> dict:
        return {"temperature": self.temperature, "fitted_on": self.fitted_on}

    @classmethod
    def from_dict(cls, d: dict) -> TemperatureFit:
        return cls(d["temperature"], d["fitted_on"])


#: One entry of a record's selection: how its model was chosen on the validation split (and, for a cross-fitted
#: ensemble, where its final temperature came from).
SelectionRow = GridPoint | LogRegPoint | LearningRateChoice | TemperatureFit


def _selection_row(d: dict) -> SelectionRow:
    if "learning_rate_probes" in d:
        return LearningRateChoice.from_dict(d)
    if "temperature" in d:
        return TemperatureFit.from_dict(d)
    # the logistic-regression peer's C grid has no method; the auto method's LogReg candidate has one
    return LogRegPoint.from_dict(d) if "C" in d and "method" not in d else GridPoint.from_dict(d)


@dataclass(frozen=True)
class TrialSplits:
    """The two splits of one trial: training / evaluation rows, and the threshold-validation split."""

    trial: int
    evaluation: SplitInfo
    validation: SplitInfo

    def to_dict(self) -> dict:
        return {"trial": self.trial, "evaluation": self.evaluation.to_dict(), "validation": self.validation.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> TrialSplits:
        return cls(d["trial"], SplitInfo.from_dict(d["evaluation"]), SplitInfo.from_dict(d["validation"]))


@dataclass
class MethodTrial:
    """Everything one method (or peer) gave in one trial."""

    method: str
    trial: int
    alpha: float
    softness: float
    selection: list[SelectionRow]  # how it was chosen on the validation split
    auroc: float
    aupr: float
    calibration: CalibrationSummary
    thresholds: dict[str, ThresholdChoice]  # heuristic -> its threshold and accuracies (Table 3)
    curve: Curve  # evaluation rows: accuracies against the threshold (Fig. 3)
    validation_curve: Curve  # validation split, with the ratios (Fig. 6)
    history: list[EpochRecord]  # the final training's epochs (Fig. 5)
    train_seconds: float  # final training; with stacked training the run's time / number of heads
    split: SplitInfo
    none_scores: dict[str, NoneDetection] = field(default_factory=dict)  # score -> telling "none" apart
    id_top1_accuracy: float = float("nan")  # top-1 accuracy on ID evaluation rows, no threshold
    guarantee: dict[str, GuaranteeCheck] = field(default_factory=dict)  # score -> heuristic 3's check
    selective: dict[str, SelectiveSummary] = field(default_factory=dict)  # score -> AURC, E-AURC
    score_thresholds: dict[str, dict[str, ScoreThreshold]] = field(default_factory=dict)  # score -> heuristic ->
    discovery: GroupingScores | None = None  # the unseen classes' rows in the "none" pool at heuristic 2, grouped
    history_rows: int | None = None  # the evaluation rows the history's accuracies are on; None: all of them

    def history_note(self) -> str:
        """How many evaluation rows the per-epoch accuracies are on, for a figure's title ("" when all)."""
        if self.history_rows is None:
            return ""
        return f" ({self.history_rows:,} of the {self.split.n_eval:,} evaluation rows, stratified)"

    def to_dict(self) -> dict:
        """The record as ``results.json`` holds it."""
        return {
            "method": self.method,
            "trial": self.trial,
            "alpha": self.alpha,
            "softness": self.softness,
            "selection": [s.to_dict() for s in self.selection],
            "auroc": self.auroc,
            "aupr": self.aupr,
            "calibration": self.calibration.to_dict(),
            "thresholds": {h: t.to_dict() for h, t in self.thresholds.items()},
            "curve": self.curve.to_dict(),
            "validation_curve": self.validation_curve.to_dict(),
            "history": [r.to_dict() for r in self.history],
            "train_seconds": self.train_seconds,
            "split": self.split.to_dict(),
            "none_scores": {s: d.to_dict() for s, d in self.none_scores.items()},
            "id_top1_accuracy": nan_to_none(self.id_top1_accuracy),
            "guarantee": {s: g.to_dict() for s, g in self.guarantee.items()},
            "selective": {s: v.to_dict() for s, v in self.selective.items()},
            "score_thresholds": {
                s: {h: t.to_dict() for h, t in by_h.items()} for s, by_h in self.score_thresholds.items()
            },
            "discovery": None if self.discovery is None else self.discovery.to_dict(),
            # only when the history is on a sample: results written before it existed were on every row
            **({} if self.history_rows is None else {"history_rows": self.history_rows}),
        }

    @classmethod
    def from_dict(cls, d: dict) -> MethodTrial:
        """The inverse of :meth:`to_dict`."""
        return cls(
            method=d["method"],
            trial=d["trial"],
            alpha=_number(d["alpha"]),
            softness=_number(d["softness"]),
            selection=[_selection_row(s) for s in d["selection"]],
            auroc=_number(d["auroc"]),
            aupr=_number(d["aupr"]),
            calibration=CalibrationSummary.from_dict(d["calibration"]),
            thresholds={h: ThresholdChoice.from_dict(t) for h, t in d["thresholds"].items()},
            curve=Curve.from_dict(d["curve"]),
            validation_curve=Curve.from_dict(d["validation_curve"]),
            history=[EpochRecord.from_dict(r) for r in d["history"]],
            train_seconds=d["train_seconds"],
            split=SplitInfo.from_dict(d["split"]),
            none_scores={s: NoneDetection.from_dict(v) for s, v in d.get("none_scores", {}).items()},
            id_top1_accuracy=_number(d.get("id_top1_accuracy")),
            guarantee={s: GuaranteeCheck.from_dict(g) for s, g in d.get("guarantee", {}).items()},
            selective={s: SelectiveSummary.from_dict(v) for s, v in d.get("selective", {}).items()},
            score_thresholds={
                s: {h: ScoreThreshold.from_dict(t) for h, t in by_h.items()}
                for s, by_h in d.get("score_thresholds", {}).items()
            },
            discovery=GroupingScores.from_dict(d["discovery"]) if d.get("discovery") else None,
            history_rows=d.get("history_rows"),
        )
