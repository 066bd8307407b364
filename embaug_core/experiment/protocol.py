"""The paper's protocol for one trial: splits -> validation grid -> selection -> retrain.

Per trial ``t`` (seed ``seed + t``):

1. :func:`~embaug_core.data.splits.trial_split` gives training rows (10 %) and evaluation
   rows (the rest; unseen classes are "none").
2. :func:`~embaug_core.data.splits.threshold_validation_split` splits the training rows
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
:func:`~embaug_core.evaluation.temperature.fit_temperature`), evaluated on the same evaluation rows as
every method; "LogReg + TS" is the same for logistic regression (its C chosen by the same
``selection_metric``). The price of held-out rows for T is stated, not hidden: these
peers train on 70 % of the training rows, and the classes removed from the 70 % part
have no output, so their evaluation rows can never be answered right (they count as
wrong answers, as for any head that does not know a class). They run whether or not
"control" is among the methods.
"""

from __future__ import annotations

import numpy as np

from ..data.table import EmbeddingSet
from ..discovery import MIN_POOL_ROWS, group_embeddings, grouping_scores, none_pool
from ..errors import DataError
from ..evaluation.detection import energy_none_score, knn_none_score, none_detection
from ..evaluation.metrics import NONE
from ..evaluation.summary import evaluate
from .config import ExperimentConfig
from .heads import final_heads, select_heads
from .peers import peer_candidates
from .records import Curve, MethodTrial, ThresholdChoice
from .results import TrialArtifacts
from .trial import Candidate, Reporter, TrialData
from .trial_scores import score_fields

__all__ = ["run_trial"]


def _record(
    data: TrialData, config: ExperimentConfig, cand: Candidate, shared: dict
) -> tuple[MethodTrial, TrialArtifacts]:
    """Evaluate one candidate: the record of the tables, and the in-memory artifacts."""
    probs, val_probs = cand.probs("eval"), cand.probs("val")
    ev = evaluate(probs, data.y_eval, n_bins=config.n_bins)
    val_ev = evaluate(val_probs, data.y_val, n_bins=config.n_bins)
    thresholds = {
        h: ThresholdChoice(r, val_ev.operating_points[h], ev.at(r.threshold)) for h, r in val_ev.heuristics.items()
    }
    known = data.y_eval != NONE
    top1 = float((probs[known].argmax(1) == data.y_eval[known]).mean()) if known.any() else float("nan")
    energy = energy_none_score(cand.eval_logits / cand.temperature, kind=cand.kind)
    record = MethodTrial(
        method=cand.name,
        trial=data.t,
        alpha=cand.alpha,
        softness=cand.softness,
        selection=cand.selection,
        auroc=ev.auroc,
        aupr=ev.aupr,
        calibration=ev.calibration,
        thresholds=thresholds,
        curve=Curve.of(ev),
        validation_curve=Curve.of(val_ev, ratios=True),
        history=cand.history,
        train_seconds=cand.seconds,
        split=data.split.info(),
        id_top1_accuracy=top1,
        discovery=pool_grouping(data, probs.max(1), thresholds.get("ratio"), config.none_label),
        history_rows=cand.history_rows,
        **score_fields(data, config, cand, probs, val_probs, energy, shared),
    )
    art = TrialArtifacts(cand.head, val_ev, ev, data.split.eval_idx, probs, cand.confidence or {})
    art.val_probs, art.y_val, art.y_eval = val_probs, data.y_val, data.y_eval
    return record, art


def pool_grouping(data: TrialData, confidence, ratio: ThresholdChoice | None, none_label=None):
    """The unseen classes' evaluation rows that heuristic 2's threshold routes to "none" (the part of the
    "none" pool a person would name as new classes), grouped without their number and scored against
    their true classes. None without heuristic 2 or labels, with fewer than
    :data:`~embaug_core.discovery.MIN_POOL_ROWS` such rows or fewer than 2 classes among them (rows
    labelled ``none_label`` are not a class to discover), or when the rows cannot be grouped."""
    if ratio is None or data.labels is None:
        return None
    labels = data.labels[data.split.eval_idx]
    unseen = (data.y_eval == NONE) & (labels != none_label)
    pool = none_pool(confidence[unseen], threshold=ratio.threshold)
    rows = data.split.eval_idx[unseen][pool]
    if len(rows) < MIN_POOL_ROWS or len(np.unique(data.labels[rows])) < 2:
        return None
    try:  # the grouping alone: nothing here reads a group's description
        grouping = group_embeddings(data.x[rows], seed=data.seed)
    except DataError:
        return None
    return grouping_scores(data.labels[rows], grouping.labels, ungrouped=-1)


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
    chosen = select_heads(data, config, report)
    candidates = final_heads(data, config, chosen, report) + peer_candidates(data, config, chosen, report)
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
