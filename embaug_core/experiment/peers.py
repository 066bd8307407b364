"""The peers of one trial (:data:`~embaug_core.experiment.config.BASELINES`), on the same splits as the heads.

A temperature is always fitted on held-out rows *of the model it scales*, never moved to another model:
"Control + TS" is the control's validation head (trained on the 70 % part) with T fitted on the 30 %
part (its "none" rows count with an all-zero target, see
:func:`~embaug_core.evaluation.temperature.fit_temperature`), evaluated on the same evaluation rows as
every method; "LogReg + TS" is the same for logistic regression (its C chosen by the same
``selection_metric``). The price of held-out rows for T is stated, not hidden: these peers train on
70 % of the training rows, and the classes removed from the 70 % part have no output, so their
evaluation rows can never be answered right (they count as wrong answers, as for any head that does
not know a class). They run whether or not "control" is among the methods.
"""

from __future__ import annotations

import time
from dataclasses import replace

from ..evaluation.summary import evaluate
from ..evaluation.temperature import apply_temperature, fit_temperature
from ..training.logreg import LogisticRegressionBaseline
from .config import ExperimentConfig
from .records import LogRegPoint
from .trial import Candidate, Reporter, TrialData, better, selection_value, to_trial_classes

__all__ = ["peer_candidates", "choose_logreg_c"]


def choose_logreg_c(x_vtrain, y_vtrain, n_vclasses: int, x_val, y_val, Cs, metric: str = "auroc", n_bins: int = 10):
    """Logistic regression's C on a validation split: the C of ``Cs`` whose model, fitted on the split's
    training part, scores best on its held-out rows by ``metric`` ("auroc" or "aupr", softmax
    probabilities, "none" rows included; the first C wins ties). Returns (C, that validation model, its
    held-out logits, a :class:`LogRegPoint` per C). The LogReg peer of every trial and
    ``benchmarks/auto_at_scale.py`` choose C with it."""
    best, points = None, []
    for c in Cs:
        vmodel = LogisticRegressionBaseline(C=c).fit(x_vtrain, y_vtrain, n_vclasses)
        val_logits = vmodel.predict_logits(x_val)
        probs = apply_temperature(val_logits, 1.0, kind="softmax")
        score = selection_value(evaluate(probs, y_val, n_bins=n_bins), metric)
        points.append(LogRegPoint(c, score))
        if better(score, None if best is None else best[0]):
            best = (score, c, vmodel, val_logits)
    return best[1], best[2], best[3], points


def logreg_candidates(data: TrialData, config: ExperimentConfig, report: Reporter) -> tuple[Candidate, Candidate]:
    """Logistic regression, C chosen on the validation split by ``selection_metric`` (:func:`choose_logreg_c`).

    Returns the model refitted on all training rows, and the validation model (trained on
    the 70 % part) for temperature scaling on rows it never saw.
    """
    report(f"trial {data.t + 1}/{config.n_trials} · logistic regression")
    arrays = (data.rows("vtrain"), data.y_vtrain, len(data.vsplit.train_classes), data.rows("val"), data.y_val)
    c, vmodel, val_logits, selection = choose_logreg_c(
        *arrays, config.logreg_Cs, config.selection_metric, config.n_bins
    )
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
    held_out = replace(plain, eval_logits=to_trial_classes(vmodel.predict_logits(data.rows("eval")), data))
    return plain, held_out


def peer_candidates(
    data: TrialData, config: ExperimentConfig, chosen: dict[str, Candidate], report: Reporter
) -> list[Candidate]:
    """The peers of :data:`BASELINES` that ``config`` asks for."""
    out = []
    if "control_ts" in config.baselines:
        report(f"trial {data.t + 1}/{config.n_trials} · control_ts")
        control = chosen["control"]  # the validation head: T is fitted on rows it never trained on
        control = replace(control, eval_logits=to_trial_classes(control.head.predict_logits(data.rows("eval")), data))
        t0 = time.perf_counter()
        temperature = fit_temperature(control.val_logits, data.y_val, kind="sigmoid")
        out.append(control.scaled("control_ts", temperature, time.perf_counter() - t0))
        report.done += 1
    if {"logreg", "logreg_ts"} & set(config.baselines):
        plain, held_out = logreg_candidates(data, config, report)
        if "logreg" in config.baselines:
            out.append(plain)
        if "logreg_ts" in config.baselines:
            t0 = time.perf_counter()
            temperature = fit_temperature(held_out.val_logits, data.y_val, kind="softmax")
            out.append(held_out.scaled("logreg_ts", temperature, time.perf_counter() - t0))
    return out
