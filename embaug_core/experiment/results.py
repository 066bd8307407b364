"""The results of an experiment and the paper's tables built from them.

:class:`~embaug_core.experiment.records.MethodTrial` is one method in one trial;
:class:`ExperimentResult` holds all of them and builds Table 1 (AUROC / AUPR, control
absolute and the others relative to the control of the same trial, as in the paper),
Table 2 (confidence–accuracy correlation, ECE, MCE, Brier, NLL), Table 3 (thresholds and
ID / none / overall accuracy at them, per heuristic) and a comparison table of every
method and peer. :func:`embaug_core.experiment.markdown.format_markdown` writes them as Markdown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import EmbaugError
from ..evaluation.scores import SCORE_NAMES
from ..jsonio import jsonable, none_to_nan, write_frame_atomic, write_json_atomic, write_text_atomic
from .config import ExperimentConfig, entry_title
from .records import MethodTrial, TrialSplits

if TYPE_CHECKING:
    from ..evaluation.summary import Evaluation
    from ..training.trained_head import TrainedHead

__all__ = ["TrialArtifacts", "ExperimentResult", "RESULTS_SCHEMA"]

RESULTS_SCHEMA = "embaug.experiment"


@dataclass(eq=False)
class TrialArtifacts:
    """In-memory products of one method in one trial (not saved to JSON).

    Attributes
    ----------
    head : the final TrainedHead (trained on the trial's training rows); None for baselines
        and temperature-scaled entries, which are not embaug heads and cannot be exported
    validation : Evaluation of the selected validation head on the threshold-validation rows
    evaluation : Evaluation of ``head`` on the trial's evaluation rows
    eval_idx : dataset rows of the evaluation set, aligned with ``probs``
    probs : (n_eval, C) float64 probabilities on those rows
    by_score : {score: (validation confidences, evaluation confidences)} of an embaug head
        (:func:`~embaug_core.experiment.trial_scores.head_scores`); empty for peers
    val_probs, y_val, y_eval : what :meth:`for_score` re-evaluates with
    """

    head: TrainedHead | None
    validation: Evaluation
    evaluation: Evaluation
    eval_idx: np.ndarray
    probs: np.ndarray
    by_score: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    val_probs: np.ndarray | None = None
    y_val: np.ndarray | None = None
    y_eval: np.ndarray | None = None

    def scores(self) -> tuple[str, ...]:
        """The none scores this entry can threshold on."""
        return tuple(self.by_score) or ("max_prob",)

    def eval_confidence(self, name: str) -> np.ndarray:
        """Confidences (n_eval,) of the evaluation rows under score ``name`` (max-prob for a peer)."""
        return self.by_score[name][1] if name in self.by_score else self.probs.max(1)

    def for_score(self, name: str) -> tuple[Evaluation, Evaluation]:
        """(validation, evaluation) :class:`~embaug_core.evaluation.summary.Evaluation` with the
        threshold on score ``name``'s confidence; computed once per score and kept."""
        from ..evaluation.summary import rethreshold

        if name == "max_prob" or name not in self.by_score:
            return self.validation, self.evaluation
        cache = self.__dict__.setdefault("_by_score_evaluations", {})
        if name not in cache:
            val_conf, eval_conf = self.by_score[name]
            cache[name] = (
                rethreshold(self.validation, self.val_probs, self.y_val, confidence=val_conf),
                rethreshold(self.evaluation, self.probs, self.y_eval, confidence=eval_conf),
            )
        return cache[name]


def _mean_std(values) -> tuple[float, float]:
    v = none_to_nan(list(values))
    v = v[~np.isnan(v)]
    if not v.size:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def _detection_auroc(record: MethodTrial, score: str) -> float:
    """How well ``score`` told "none" apart in ``record`` (NaN where it was not computed)."""
    found = record.none_scores.get(score)
    return float("nan") if found is None else found.auroc


def _threshold_row(row: dict, got: list) -> dict:
    """A Table 3 row: ``row`` (method, heuristic, ...) with the trials' threshold and its accuracies
    on the evaluation rows, mean and std; ``got`` holds a ThresholdChoice or ScoreThreshold per trial."""
    row = {**row, "trials": len(got)}
    row["threshold_mean"], row["threshold_std"] = _mean_std(g.threshold for g in got)
    for k in ("id_accuracy", "none_accuracy", "overall_accuracy"):
        row[f"{k}_mean"], row[f"{k}_std"] = _mean_std(getattr(g.evaluation, k) for g in got)
    return row


@dataclass
class ExperimentResult:
    """All records of an experiment plus the tables built from them."""

    config: ExperimentConfig
    records: list[MethodTrial]
    splits: list[TrialSplits]
    dataset: dict
    wall_seconds: float
    artifacts: dict = field(default_factory=dict, repr=False)  # (method, trial) -> TrialArtifacts

    @property
    def methods(self) -> tuple[str, ...]:
        """Methods and baselines with results, in configuration order."""
        return tuple(m for m in self.config.entries if any(r.method == m for r in self.records))

    def by_method(self, method: str) -> list[MethodTrial]:
        return sorted((r for r in self.records if r.method == method), key=lambda r: r.trial)

    def _rows(self, columns) -> pd.DataFrame:
        """One row per method: ``{"method": title, key_mean, key_std}`` for each (key, getter)."""
        rows = []
        for m in self.methods:
            recs, row = self.by_method(m), {"method": entry_title(m)}
            for key, get in columns:
                row[f"{key}_mean"], row[f"{key}_std"] = _mean_std(get(r) for r in recs)
            rows.append(row)
        return pd.DataFrame(rows)

    def table1(self) -> pd.DataFrame:
        """AUROC / AUPR: control absolute, others relative to the control of the same trial."""
        control = {r.trial: r for r in self.by_method("control")}
        frame = self._rows([("auroc", lambda r: r.auroc), ("aupr", lambda r: r.aupr)])
        for key in ("auroc", "aupr"):
            deltas = [
                _mean_std(
                    getattr(r, key) - getattr(control[r.trial], key) for r in self.by_method(m) if r.trial in control
                )
                if control and m != "control"
                else (np.nan, np.nan)
                for m in self.methods
            ]
            frame[f"{key}_delta_mean"] = [d[0] for d in deltas]
            frame[f"{key}_delta_std"] = [d[1] for d in deltas]
        return frame[
            [
                "method",
                "auroc_mean",
                "auroc_std",
                "auroc_delta_mean",
                "auroc_delta_std",
                "aupr_mean",
                "aupr_std",
                "aupr_delta_mean",
                "aupr_delta_std",
            ]
        ]

    def table2(self) -> pd.DataFrame:
        """Confidence–accuracy correlation (and ECE, MCE, Brier, NLL) per method."""
        keys = ("correlation", "ece", "mce", "brier", "nll")
        return self._rows([(key, lambda r, key=key: getattr(r.calibration, key)) for key in keys])

    def table3(self) -> pd.DataFrame:
        """Threshold per heuristic and the evaluation accuracies at it."""
        rows = []
        for m in self.methods:
            for h in ("intersection", "ratio"):
                got = [r.thresholds[h] for r in self.by_method(m) if h in r.thresholds]
                if not got:
                    continue
                rows.append(_threshold_row({"method": entry_title(m), "heuristic": h}, got))
        return pd.DataFrame(rows)

    def table_compare(self) -> pd.DataFrame:
        """Every method and baseline on ECE, "none" detection by each none score, ID accuracy and time."""
        columns = [("ece", lambda r: r.calibration.ece)]
        columns += [(f"none_auroc_{s}", lambda r, s=s: _detection_auroc(r, s)) for s in SCORE_NAMES]
        columns += [
            ("id_top1_accuracy", lambda r: r.id_top1_accuracy),
            ("auroc", lambda r: r.auroc),
            ("train_seconds", lambda r: r.train_seconds),
        ]
        frame = self._rows(columns)
        return frame.rename(columns={f"{k}_mean": k for k, _ in columns[1:] if k != "auroc"})[
            [
                "method",
                "ece_mean",
                "ece_std",
                *(f"none_auroc_{s}" for s in SCORE_NAMES),
                "id_top1_accuracy",
                "auroc_mean",
                "train_seconds",
            ]
        ]

    def table_selective(self) -> pd.DataFrame:
        """Selective classification per method and score: AURC and E-AURC, mean (std) over trials,
        and class-wise ECE beside the top-label ECE."""
        rows = []
        for m in self.methods:
            records = self.by_method(m)
            for score in dict.fromkeys(s for r in records for s in (r.selective or {})):
                got = [r.selective[score] for r in records if score in (r.selective or {})]
                row = {"method": entry_title(m), "score": score, "trials": len(got)}
                for k in ("aurc", "e_aurc"):
                    row[f"{k}_mean"], row[f"{k}_std"] = _mean_std(getattr(g, k) for g in got)
                for k in ("ece", "classwise_ece"):
                    row[f"{k}_mean"], _ = _mean_std(getattr(r.calibration, k) for r in records)
                rows.append(row)
        return pd.DataFrame(rows)

    def table_score_thresholds(self) -> pd.DataFrame:
        """Table 3 for every none score of the heads: heuristics 1 and 2 chosen on the validation
        split in that score's units, accuracies on the evaluation rows; mean (std) over trials."""
        rows = []
        for m in self.methods:
            records = self.by_method(m)
            for score in dict.fromkeys(s for r in records for s in (r.score_thresholds or {})):
                for h in ("intersection", "ratio"):
                    got = [r.score_thresholds[score][h] for r in records if h in r.score_thresholds.get(score, {})]
                    if not got:
                        continue
                    rows.append(_threshold_row({"method": entry_title(m), "score": score, "heuristic": h}, got))
        return pd.DataFrame(rows)

    def table_guarantee(self) -> pd.DataFrame:
        """Heuristic 3 per method and score over the trials: in how many the realised false-rejection
        rate on held-out known rows exceeded alpha (the guarantee allows delta of them), and its mean."""
        rows = []
        for m in self.methods:
            checks: dict[str, list] = {}
            for r in self.by_method(m):
                for score, g in (r.guarantee or {}).items():
                    checks.setdefault(score, []).append(g)
            for score, got in checks.items():
                rows.append(
                    {
                        "method": entry_title(m),
                        "score": score,
                        "trials": len(got),
                        "alpha": got[0].guarantee.alpha,
                        "delta": got[0].guarantee.delta,
                        "n_mean": float(np.mean([g.guarantee.n for g in got])),
                        "violations": int(sum(g.violated for g in got)),
                        "realised_false_rejection_mean": float(np.mean([g.realised_false_rejection for g in got])),
                    }
                )
        return pd.DataFrame(rows)

    def table_discovery(self) -> pd.DataFrame:
        """Per method: the unseen classes' rows that heuristic 2 routes to "none", grouped without their
        number (:func:`~embaug_core.experiment.protocol.pool_grouping`); means over the trials that had
        enough of them."""
        rows = []
        for m in self.methods:
            got = [r.discovery for r in self.by_method(m) if r.discovery is not None]
            if not got:
                continue
            row = {"method": entry_title(m), "trials": len(got)}
            for k in ("rows", "classes", "groups", "nmi", "ari", "one_action_accuracy", "ungrouped"):
                row[f"{k}_mean"], row[f"{k}_std"] = _mean_std(getattr(g, k) for g in got)
            rows.append(row)
        return pd.DataFrame(rows)

    def mean_curve(self, method: str, key: str, *, validation: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std over trials of a curve (e.g. ``"none_accuracy"``) on :data:`CURVE_GRID`."""
        src = "validation_curve" if validation else "curve"
        arr = np.array([getattr(getattr(r, src), key) for r in self.by_method(method)])
        if not len(arr):
            raise EmbaugError(f"no results for method {method!r}.")
        with np.errstate(invalid="ignore"):
            return np.nanmean(arr, axis=0), np.nanstd(arr, axis=0)

    # ------------------------------------------------------------------ persistence

    def to_dict(self) -> dict:
        def table(df):
            return json.loads(df.to_json(orient="records"))

        return {
            "schema": RESULTS_SCHEMA,
            "version": 1,
            "config": self.config.to_dict(),
            "dataset": self.dataset,
            "wall_seconds": self.wall_seconds,
            "splits": [s.to_dict() for s in self.splits],
            "tables": {"table1": table(self.table1()), "table2": table(self.table2()), "table3": table(self.table3())},
            "records": [jsonable(r.to_dict()) for r in self.records],
        }

    @classmethod
    def from_dict(cls, d: dict) -> ExperimentResult:
        if d.get("schema") != RESULTS_SCHEMA:
            raise EmbaugError(f"not an embaug experiment result (schema {RESULTS_SCHEMA!r} expected).")
        try:
            return cls(
                config=ExperimentConfig.from_dict(d["config"]),
                records=[MethodTrial.from_dict(r) for r in d["records"]],
                splits=[TrialSplits.from_dict(s) for s in d["splits"]],
                dataset=d["dataset"],
                wall_seconds=d["wall_seconds"],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EmbaugError(f"an experiment result that this embaug cannot read: missing or bad {exc}.") from None

    def save(self, directory: str | Path) -> Path:
        """Write ``results.json``, ``table{1,2,3}.csv``, ``comparison.csv``, ``guarantee.csv``,
        ``selective.csv``, ``table3_scores.csv``, ``discovery.csv`` and ``tables.md`` into ``directory``."""
        directory = Path(directory)
        write_json_atomic(directory / "results.json", self.to_dict())
        for i, df in enumerate((self.table1(), self.table2(), self.table3()), start=1):
            write_frame_atomic(directory / f"table{i}.csv", df)
        write_frame_atomic(directory / "comparison.csv", self.table_compare())
        write_frame_atomic(directory / "guarantee.csv", self.table_guarantee())
        write_frame_atomic(directory / "selective.csv", self.table_selective())
        write_frame_atomic(directory / "table3_scores.csv", self.table_score_thresholds())
        write_frame_atomic(directory / "discovery.csv", self.table_discovery())
        write_text_atomic(directory / "tables.md", self.markdown())
        return directory

    @classmethod
    def load(cls, path: str | Path) -> ExperimentResult:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def markdown(self) -> str:
        from .markdown import format_markdown

        return format_markdown(self)
