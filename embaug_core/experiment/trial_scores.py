"""The none scores and heuristic 3 inside the paper's protocol (one trial, one head).

For each method's final head, :func:`head_scores` gives every score's confidences

* on the **threshold-validation rows**, from the selected *validation* head (trained on the 70 %
  part) and a score bank fitted on that 70 % part: the rows on which heuristics 1 and 2 choose
  their thresholds, as they do for max-probability;
* on the **evaluation rows**, from the final head and its score bank, fitted on all training
  rows, with kNN's k and the fused weight chosen on the validation split (its known rows
  against its removed classes, or against the user's out-of-scope examples when there are
  some, scored by the validation head).

:func:`guarantee_check` measures heuristic 3 as a user would meet it: a random half of the
evaluation rows' known-class rows is the held-out set the threshold is computed on; the other
half plays the future known items, whose realised false-rejection rate is compared with alpha.
"""

from __future__ import annotations

import numpy as np

from ..errors import EmbaugError
from ..evaluation.detection import NoneDetection, max_prob_none_score, none_detection
from ..evaluation.guarantee import split_check
from ..evaluation.metrics import NONE
from ..evaluation.score_validation import ScoreValidation
from ..evaluation.scores import SCORE_NAMES, ScoreBank, ScoreConfig
from ..evaluation.selective import SelectiveSummary
from .records import GuaranteeCheck, ScoreThreshold

__all__ = [
    "head_scores",
    "guarantee_check",
    "eval_confidences",
    "none_scores",
    "selective_by_score",
    "score_thresholds",
]


def head_scores(data, validation_head, val_logits, final_head, eval_logits, knn_k: int) -> dict:
    """{score: (validation confidences (n_val,), evaluation confidences (n_eval,))}.

    ``data`` is the trial's :class:`~embaug_core.experiment.trial.TrialData`; ``val_logits`` (n_val, C_val)
    are the validation head's on the validation rows, ``eval_logits`` (n_eval, C) the final
    head's on the evaluation rows.
    """
    config = ScoreConfig(knn_k=knn_k, seed=data.seed)
    vtrain, val = data.rows("vtrain"), data.rows("val")
    vtrain_logits = validation_head.predict_logits(vtrain)
    known = data.y_val != NONE
    # the held-out known rows' max-prob and energy under the validation head make the head's part of the
    # percentile scale of both banks below (a head's own training rows would make a degenerate one)
    check = ScoreValidation.from_split(vtrain, val[known], val_logits[known], val[~known], val_logits[~known])
    # the user's out-of-scope rows, scored by the validation head; not when the heads trained on them
    # (outlier exposure): rows a head was taught to refuse would choose k and the fused weight too kindly
    exposed = final_head.config.outlier_exposure
    if data.none_examples is not None and not exposed:
        ex = data.none_examples
        check = check.with_none_examples(ex, validation_head.predict_logits(ex))
    # the validation rows' confidences choose heuristics 1 and 2: on the same k, weight and scale as
    # the final head's evaluation confidences they are applied to
    vbank = ScoreBank.fit(vtrain, data.y_vtrain, vtrain_logits, config=config, validation=check)
    train = data.rows("train")
    final_head.fit_scores(train, data.y_train, check=check, config=config)
    x_eval = data.rows("eval")
    return {
        name: (
            vbank.confidence(name, val, val_logits),
            final_head.confidence(x_eval, name, logits=eval_logits),
        )
        for name in SCORE_NAMES
    }


def guarantee_check(confidence, y, *, alpha: float, delta: float, seed: int) -> GuaranteeCheck:
    """Heuristic 3 on a random half of the known rows (its batch form, for the other half's rows),
    and its realised false-rejection rate on that other half
    (:func:`~embaug_core.evaluation.guarantee.split_check`)."""
    g, realised = split_check(confidence, np.asarray(y) != NONE, alpha, delta, seed=seed, batch=True)
    return GuaranteeCheck(g, realised)


def eval_confidences(cand, probs: np.ndarray) -> dict:
    """Evaluation confidences per score: all scores for a head, the top probability for a peer."""
    if cand.confidence:
        return {name: ev_conf for name, (_, ev_conf) in cand.confidence.items()}
    return {"max_prob": probs.max(1)}


def none_scores(data, cand, probs, energy, shared: dict) -> dict[str, NoneDetection]:
    """{score: none detection on the evaluation rows}: every score of a head; a peer has max-prob
    and energy of its own, and the head-independent kNN and Mahalanobis scores of the trial."""
    if cand.confidence:
        return {name: none_detection(data.y_eval, -ev_conf) for name, (_, ev_conf) in cand.confidence.items()}
    return {
        "max_prob": none_detection(data.y_eval, max_prob_none_score(probs)),
        "energy": none_detection(data.y_eval, energy),
        **shared,
    }


def selective_by_score(cand, probs: np.ndarray, y) -> dict[str, SelectiveSummary]:
    """{score: AURC, E-AURC} of answering the evaluation rows in the order of each score's confidence."""
    from ..evaluation.metrics import correct_top1
    from ..evaluation.selective import risk_coverage

    right = correct_top1(probs.argmax(1), np.asarray(y))
    return {name: risk_coverage(conf, right).summary() for name, conf in eval_confidences(cand, probs).items()}


def score_thresholds(cand, data, probs: np.ndarray, val_probs: np.ndarray) -> dict[str, dict[str, ScoreThreshold]]:
    """{score: {heuristic: ScoreThreshold}} for every score of a
    head: heuristics 1 and 2 on the validation rows' confidences of that score, applied to the
    evaluation rows (Table 3 per score). Empty for a peer."""
    from ..evaluation.thresholds import HEURISTICS, ThresholdSweep

    out = {}
    for name, (val_conf, eval_conf) in (cand.confidence or {}).items():
        val = ThresholdSweep.from_probs(val_probs, data.y_val, confidence=val_conf)
        ev = ThresholdSweep.from_probs(probs, data.y_eval, confidence=eval_conf)
        out[name] = {}
        for h, fn in HEURISTICS.items():
            try:
                t = fn(val).threshold
            except EmbaugError:
                continue
            out[name][h] = ScoreThreshold(t, ev.at(t))
    return out


def score_fields(data, config, cand, probs: np.ndarray, val_probs: np.ndarray, energy, shared: dict) -> dict:
    """The :class:`~embaug_core.experiment.records.MethodTrial` fields about none scores: none detection,
    selective classification, Table 3 per score and heuristic 3's check, per score."""
    guarantee = {
        name: guarantee_check(
            conf, data.y_eval, alpha=config.guarantee_alpha, delta=config.guarantee_delta, seed=data.seed
        )
        for name, conf in eval_confidences(cand, probs).items()
    }
    return {
        "none_scores": none_scores(data, cand, probs, energy, shared),
        "selective": selective_by_score(cand, probs, data.y_eval),
        "score_thresholds": score_thresholds(cand, data, probs, val_probs),
        "guarantee": guarantee,
    }
