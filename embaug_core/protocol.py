"""The paper's protocol for one trial: splits -> validation grid -> selection -> retrain.

Per trial ``t`` (seed ``seed + t``):

1. :func:`~embaug_core.splits.trial_split` gives training rows (10 %) and evaluation
   rows (the rest; unseen classes are "none").
2. :func:`~embaug_core.splits.threshold_validation_split` splits the training rows
   70/30 with 5 classes removed from the 70 % part.
3. For each method, each grid point (alphas for mixing methods, softnesses for soft
   methods, both for the soft mixing methods) trains on the 70 % part and is scored on
   the 30 % part by ``selection_metric`` (weighted AUROC by default). The best grid
   point wins; ties go to the first in grid order.
4. Both heuristics' thresholds are taken from the winner's validation predictions
   (the only predictions with "none" rows the head never saw).
5. The method is retrained on all training rows of the trial with the chosen
   hyper-parameters and evaluated on the evaluation rows: AUROC/AUPR, calibration,
   threshold curves, and the accuracies at the validation-chosen thresholds.

Peers (:data:`BASELINES`) run on the same splits. A temperature is always fitted on
held-out rows *of the model it scales*, never moved to another model: "Control + TS" is
the control's validation head (trained on the 70 % part) with T fitted on the 30 % part
(its "none" rows count with an all-zero target, see
:func:`~embaug_core.baselines.fit_temperature`), evaluated on the same evaluation rows as
every method; "LogReg + TS" is the same for logistic regression (its C chosen by the same
``selection_metric``). The price of held-out rows for T is stated, not hidden: these
peers train on 70 % of the training rows, and the classes removed from the 70 % part
have no output, so their evaluation rows can never be answered right (they count as
wrong answers, as for any head that does not know a class). They run whether or not
"control" is among the methods.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from .baselines import (
    LogisticRegressionBaseline,
    apply_temperature,
    energy_none_score,
    fit_temperature,
    knn_none_score,
    none_detection,
)
from .data import EmbeddingSet
from .evaluation import evaluate
from .experiment_config import ExperimentConfig, ExperimentProgress
from .jsonio import nan_to_none
from .metrics import NONE, encode_labels
from .protocol_heads import Candidate, _better, _final_heads, _score, _select_heads, _to_trial_classes
from .protocol_scores import score_fields
from .results import MethodTrial, TrialArtifacts, curve_dict
from .splits import Split, threshold_validation_split, trial_split

__all__ = ["Reporter", "TrialData", "run_trial"]


class Reporter:
    """Counts finished trainings and forwards :class:`ExperimentProgress` to a callback."""

    def __init__(self, progress: Callable[[ExperimentProgress], None] | None, total: int, start: float, done: int = 0):
        self.progress, self.total, self.start, self.done = progress, total, start, done

    def __call__(self, message: str, epoch: int = 0, epochs: int = 0, running: int = 1) -> None:
        if self.progress is not None:
            elapsed = time.perf_counter() - self.start
            self.progress(ExperimentProgress(self.done, self.total, message, elapsed, epoch, epochs, running))


@dataclass(frozen=True, eq=False)
class TrialData:
    """The splits of one trial and the arrays they give (class indices, NONE for "none")."""

    t: int
    seed: int
    x: np.ndarray  # (n, D) all rows
    split: Split  # training / evaluation rows
    vsplit: Split  # threshold-validation split of the training rows
    y_train: np.ndarray
    y_vtrain: np.ndarray
    y_val: np.ndarray
    y_eval: np.ndarray
    none_examples: np.ndarray | None = None  # (b, D) rows the user marked out of scope

    @classmethod
    def make(
        cls, dataset: EmbeddingSet, config: ExperimentConfig, t: int, always_train=(), none_examples=None
    ) -> TrialData:
        labels, seed = dataset.labels, config.seed + t
        split = trial_split(
            labels,
            train_fraction=config.train_fraction,
            unseen_classes=config.unseen_classes,
            none_label=config.none_label,
            always_train=always_train,
            seed=seed,
        )
        vsplit = threshold_validation_split(
            labels,
            split.train_idx,
            val_fraction=config.val_fraction,
            n_removed_classes=config.n_removed_classes,
            seed=seed,
        )
        return cls(
            t=t,
            seed=seed,
            x=dataset.embeddings,
            split=split,
            vsplit=vsplit,
            y_train=encode_labels(labels[split.train_idx], split.train_classes),
            y_vtrain=encode_labels(labels[vsplit.train_idx], vsplit.train_classes),
            y_val=encode_labels(labels[vsplit.eval_idx], vsplit.train_classes),
            y_eval=encode_labels(labels[split.eval_idx], split.train_classes),
            none_examples=None if none_examples is None else np.asarray(none_examples, dtype=np.float32),
        )

    def rows(self, part: str) -> np.ndarray:
        """Embeddings of "train", "vtrain", "val" or "eval" rows."""
        idx = {
            "train": self.split.train_idx,
            "vtrain": self.vsplit.train_idx,
            "val": self.vsplit.eval_idx,
            "eval": self.split.eval_idx,
        }[part]
        return self.x[idx]

    def info(self) -> dict:
        return {"trial": self.t, "evaluation": self.split.to_dict(), "validation": self.vsplit.to_dict()}


def _logreg(data: TrialData, config: ExperimentConfig, report: Reporter) -> tuple[Candidate, Candidate]:
    """Logistic regression, C chosen on the validation split by ``selection_metric``.

    Returns the model refitted on all training rows, and the validation model (trained on
    the 70 % part) for temperature scaling on rows it never saw.
    """
    report(f"trial {data.t + 1}/{config.n_trials} · logistic regression")
    best, selection = None, []
    n_vclasses = len(data.vsplit.train_classes)
    for c in config.logreg_Cs:
        vmodel = LogisticRegressionBaseline(C=c).fit(data.rows("vtrain"), data.y_vtrain, n_vclasses)
        val_logits = vmodel.predict_logits(data.rows("val"))
        score = _score(
            evaluate(apply_temperature(val_logits, 1.0, kind="softmax"), data.y_val, n_bins=config.n_bins),
            config.selection_metric,
        )
        selection.append({"C": c, "score": nan_to_none(score)})
        if _better(score, None if best is None else best[0]):
            best = (score, c, vmodel, val_logits)
    _, c, vmodel, val_logits = best
    t0 = time.perf_counter()
    final = LogisticRegressionBaseline(C=c).fit(data.rows("train"), data.y_train, len(data.split.train_classes))
    seconds = time.perf_counter() - t0
    report.done += 1
    plain = Candidate(
        "logreg",
        float("nan"),
        float("nan"),
        selection,
        val_logits,
        final.predict_logits(data.rows("eval")),
        kind="softmax",
        seconds=seconds,
    )
    held_out = replace(plain, eval_logits=_to_trial_classes(vmodel.predict_logits(data.rows("eval")), data))
    return plain, held_out


def _baselines(
    data: TrialData, config: ExperimentConfig, chosen: dict[str, Candidate], report: Reporter
) -> list[Candidate]:
    """The peers of :data:`BASELINES` that ``config`` asks for."""
    out = []
    if "control_ts" in config.baselines:
        report(f"trial {data.t + 1}/{config.n_trials} · control_ts")
        control = chosen["control"]  # the validation head: T is fitted on rows it never trained on
        control = replace(control, eval_logits=_to_trial_classes(control.head.predict_logits(data.rows("eval")), data))
        t0 = time.perf_counter()
        temperature = fit_temperature(control.val_logits, data.y_val, kind="sigmoid")
        out.append(control.scaled("control_ts", temperature, time.perf_counter() - t0))
        report.done += 1
    if {"logreg", "logreg_ts"} & set(config.baselines):
        plain, held_out = _logreg(data, config, report)
        if "logreg" in config.baselines:
            out.append(plain)
        if "logreg_ts" in config.baselines:
            t0 = time.perf_counter()
            temperature = fit_temperature(held_out.val_logits, data.y_val, kind="softmax")
            out.append(held_out.scaled("logreg_ts", temperature, time.perf_counter() - t0))
    return out


def _record(
    data: TrialData, config: ExperimentConfig, cand: Candidate, shared: dict
) -> tuple[MethodTrial, TrialArtifacts]:
    """Evaluate one candidate: the record of the tables, and the in-memory artifacts."""
    probs, val_probs = cand.probs("eval"), cand.probs("val")
    ev = evaluate(probs, data.y_eval, n_bins=config.n_bins)
    val_ev = evaluate(val_probs, data.y_val, n_bins=config.n_bins)
    thresholds = {
        h: {
            **r.to_dict(),
            "validation": val_ev.operating_points[h].to_dict(),
            "evaluation": ev.at(r.threshold).to_dict(),
        }
        for h, r in val_ev.heuristics.items()
    }
    known = data.y_eval != NONE
    top1 = float((probs[known].argmax(1) == data.y_eval[known]).mean()) if known.any() else None
    energy = energy_none_score(cand.eval_logits / cand.temperature, kind=cand.kind)
    record = MethodTrial(
        method=cand.name,
        trial=data.t,
        alpha=cand.alpha,
        softness=cand.softness,
        selection=cand.selection,
        auroc=ev.auroc,
        aupr=ev.aupr,
        calibration=ev.calibration.to_dict(),
        thresholds=thresholds,
        curve=curve_dict(ev, ("overall_accuracy", "id_accuracy", "none_accuracy")),
        validation_curve=curve_dict(
            val_ev, ("overall_accuracy", "id_accuracy", "none_accuracy", "id_ratio", "none_ratio", "mean_ratio")
        ),
        history=cand.history,
        train_seconds=cand.seconds,
        split=data.split.to_dict(),
        id_top1_accuracy=top1,
        **score_fields(data, config, cand, probs, val_probs, energy, shared),
    )
    art = TrialArtifacts(cand.head, val_ev, ev, data.split.eval_idx, probs, cand.confidence or {})
    art.val_probs, art.y_val, art.y_eval = val_probs, data.y_val, data.y_eval
    return record, art


def run_trial(
    dataset: EmbeddingSet,
    config: ExperimentConfig,
    t: int,
    *,
    always_train=(),
    report: Reporter,
    keep_artifacts: bool = False,
    threads: int | None = None,
    none_examples=None,
) -> tuple[list, dict, dict]:
    """Everything of trial ``t``: (records, split description, artifacts keyed by (method, t));
    ``none_examples`` (b, D): out-of-scope rows that fit the fused score's weight."""
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    data = TrialData.make(dataset, config, t, always_train, none_examples)
    chosen = _select_heads(data, config, report)
    candidates = _final_heads(data, config, chosen, report) + _baselines(data, config, chosen, report)
    # kNN and Mahalanobis do not depend on the head: peers share the heads' (k chosen on validation)
    head = next((c for c in candidates if c.confidence), None)
    if head is not None:
        shared = {s: none_detection(data.y_eval, -head.confidence[s][1]) for s in ("knn", "mahalanobis")}
    else:
        shared = {
            "knn": none_detection(data.y_eval, knn_none_score(data.rows("train"), data.rows("eval"), k=config.knn_k))
        }
    records, artifacts = [], {}
    for cand in candidates:
        record, art = _record(data, config, cand, shared)
        records.append(record)
        if keep_artifacts:
            artifacts[(cand.name, t)] = art
    return records, data.info(), artifacts
