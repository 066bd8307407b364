"""The heads of one trial: the validation grid, each method's choice, the final heads.

Stages 3-5 of :mod:`embaug_core.experiment.protocol` (which runs them); the "auto" recipe's validation
(best epoch, temperature) and the "auto" method's choice are in :mod:`embaug_core.training.recipe`.
"""

from __future__ import annotations

import copy
import time
from dataclasses import replace

import numpy as np

from ..evaluation.summary import evaluate
from ..evaluation.temperature import apply_temperature
from ..training import recipe as recipe_module
from ..training.engine import fit, fit_stacked
from ..training.models import cross_fit_note, scale_model, train_model
from ..training.recipe import Checkpoint, checkpoint, choose_lr, final_config, probe_config, resolve
from ..training.selection import peers_on_split, rank, train_final
from ..training.trained_head import TrainedHead
from .config import AUTO_METHOD, ExperimentConfig
from .records import GridPoint, LearningRateChoice, TemperatureFit
from .trial import Candidate, Reporter, TrialData, better, selection_value
from .trial_scores import head_scores

__all__ = ["select_heads", "final_heads"]

#: the metadata key of a cross-fitted ensemble's temperature (:func:`_train_alone`)
CROSS_FITTED = "cross_fitted_temperature"


def _train_heads(
    data: TrialData,
    part: str,
    y,
    class_names,
    cfgs,
    config: ExperimentConfig,
    report: Reporter,
    msg: str,
    validation=None,
    monitor=None,
    final: bool = False,
) -> list[tuple[TrainedHead, float]]:
    """Train one model per config on ``part`` rows; (head, seconds) each. Single MLP heads train together
    or one by one (:func:`_train_single`); the auto method's ensemble or logistic regression each on its own
    (:func:`_train_alone`). ``monitor``: held-out rows whose NLL picks each head's best epoch (the "auto"
    recipe). ``final``: the final training, where the recipe may cross-fit an ensemble."""
    single = [c.model == "mlp" and c.ensemble == 1 and c.blend_C == 0 for c in cfgs]
    alone = [i for i, ok in enumerate(single) if not ok]
    rest = [i for i, ok in enumerate(single) if ok]
    made = {}
    if alone:
        picked = [cfgs[i] for i in alone]
        trained = _train_alone(
            data.rows(part), y, class_names, picked, report, msg, _outliers(data, picked), validation, monitor, final
        )
        made.update(zip(alone, trained, strict=True))
    if rest:
        picked = [cfgs[i] for i in rest]
        trained = _train_single(data, part, y, class_names, picked, config, report, msg, validation, monitor)
        made.update(zip(rest, trained, strict=True))
    return [made[i] for i in range(len(cfgs))]


def _train_single(
    data: TrialData, part: str, y, class_names, cfgs, config, report: Reporter, msg: str, validation, monitor
) -> list[tuple[TrainedHead, float]]:
    """One MLP head per config, trained together (``config.stack``) or one by one; (head, seconds) each."""
    x, n_classes, out = data.rows(part), len(class_names), []
    if config.stack:
        report(msg)
        t0 = time.perf_counter()
        models, histories = fit_stacked(
            x,
            y,
            n_classes,
            cfgs,
            validation=validation,
            monitor=monitor,
            progress=lambda e, n: report(msg, e, n, len(cfgs)),
            outliers=_outliers(data, cfgs),
        )
        per_head = (time.perf_counter() - t0) / len(cfgs)
        out = [(m, h, per_head) for m, h in zip(models, histories, strict=True)]
        report.done += len(cfgs)
    else:
        for c in cfgs:
            report(f"{msg} · {c.method} alpha={c.alpha:g} softness={c.softness:g}")
            t0 = time.perf_counter()
            model, history = fit(
                x,
                y,
                n_classes,
                c,
                validation=validation,
                monitor=monitor,
                progress=lambda r, c=c: report(f"{msg} · {c.method}", r.epoch, r.epochs),
                outliers=_outliers(data, [c]),
            )
            out.append((model, history, time.perf_counter() - t0))
            report.done += 1
    return [
        (TrainedHead(model=m, class_names=class_names, config=c, input_dim=x.shape[1], history=h), s)
        for (m, h, s), c in zip(out, cfgs, strict=True)
    ]


def _outliers(data: TrialData, cfgs) -> np.ndarray | None:
    """The user's none examples when the heads train on them (``outlier_exposure``), else None."""
    return data.none_examples if any(c.outlier_exposure for c in cfgs) else None


def _train_alone(
    x, y, class_names, cfgs, report: Reporter, msg: str, outliers=None, validation=None, monitor=None, final=False
) -> list[tuple[TrainedHead, float]]:
    """Models other than one MLP head (:func:`~embaug_core.training.models.train_model`), one by one; in the
    ``final`` training through :func:`~embaug_core.training.selection.train_final`, so that an ensemble the
    recipe cross-fits comes back divided by its own T, kept in the head's metadata (``CROSS_FITTED``)."""
    out, recipe = [], recipe_module.DEFAULT_RECIPE
    for c in cfgs:
        report(f"{msg} · {c.candidate}")
        t0 = time.perf_counter()
        progress = lambda r, c=c: report(f"{msg} · {c.candidate}", r.epoch, r.epochs)  # noqa: E731
        if final:  # the final training has no monitor: its length is the validation split's
            model, history, t = train_final(
                x, y, len(class_names), c, recipe, validation=validation, progress=progress, outliers=outliers
            )
        else:
            t = None
            model, history = train_model(
                x, y, len(class_names), c, validation=validation, monitor=monitor, progress=progress, outliers=outliers
            )
        metadata = {} if t is None else {CROSS_FITTED: t}
        head = TrainedHead(
            model=model, class_names=class_names, config=c, input_dim=x.shape[1], history=history, metadata=metadata
        )
        out.append((head, time.perf_counter() - t0))
        report.done += 1
    return out


def _checkpoint(head: TrainedHead, val_logits, data: TrialData, auto: bool) -> Checkpoint:
    """The validation split's decision for a head: with the "auto" recipe its best epoch and
    temperature (the head is divided by T in place), else its last epoch and T = 1."""
    if auto:
        cp = checkpoint(head.history, val_logits, data.y_val)
        scale_model(head.model, cp.temperature)
        return cp
    from ..evaluation.metrics import negative_log_likelihood, top_label_nll

    probs = apply_temperature(val_logits, 1.0)
    nll = negative_log_likelihood(probs, data.y_val)
    return Checkpoint(len(head.history), 1.0, nll, nll, len(head.history), top_label_nll(probs, data.y_val))


def select_heads(data: TrialData, config: ExperimentConfig, report: Reporter) -> dict[str, Candidate]:
    """Stage 1: the validation grid; per method the best grid point's validation head ("auto":
    the best of every method's grid by validation NLL, see :mod:`embaug_core.training.recipe`)."""
    auto = config.train.recipe == "auto"
    grid = config.validation_grid()
    cfgs = [replace(config.train, method=m, alpha=a, softness=sf, seed=data.seed) for m, a, sf in grid]
    n_train, lr_choice = len(data.split.train_idx), None
    if auto:  # the learning rate, chosen once per trial with one probe head (recipe.choose_lr)
        arrays = (data.rows("vtrain"), data.y_vtrain, len(data.vsplit.train_classes), data.rows("val"), data.y_val)
        step = f"trial {data.t + 1}/{config.n_trials} · choosing the learning rate"

        def probing(e: int, n: int) -> None:  # the probes train together: one run (probe 1 of 1)
            report(f"{step} ({len(recipe_module.DEFAULT_RECIPE.lr_factors)} probes together)", e, n, probe=1, probes=1)

        factor, lr_choice = choose_lr(*arrays, probe_config(cfgs), progress=probing, outliers=_outliers(data, cfgs))
        cfgs = [resolve(c, n_train, lr_factor=factor) for c in cfgs]
    msg = f"trial {data.t + 1}/{config.n_trials} · {len(grid)} validation heads"
    monitor = recipe_module.DEFAULT_RECIPE.monitor(data.rows("val"), data.y_val) if auto else None
    heads = _train_heads(
        data, "vtrain", data.y_vtrain, data.vsplit.train_classes, cfgs, config, report, msg, monitor=monitor
    )
    x_val = data.rows("val")
    made: dict[tuple, Candidate] = {}
    wanted = set(config.candidates(AUTO_METHOD)) if AUTO_METHOD in config.validation_methods else set()
    raw = {}  # the auto method's heads before their temperature: one may become an ensemble's first member
    for (m, a, sf), c, (head, seconds) in zip(grid, cfgs, heads, strict=True):
        val_logits = head.predict_logits(x_val)
        if (m, a, sf) in wanted:
            raw[(m, a, sf)] = copy.deepcopy(head.model)
        cp = _checkpoint(head, val_logits, data, auto)
        val_logits = (val_logits / cp.temperature).astype(np.float32)  # what the head, divided by T, predicts
        score = selection_value(
            evaluate(apply_temperature(val_logits, 1.0), data.y_val, n_bins=config.n_bins), config.selection_metric
        )
        made[(m, a, sf)] = Candidate(
            m,
            a,
            sf,
            [],
            val_logits,
            None,  # evaluation logits: of the final head, or for a TS peer of this one (_baselines)
            history=head.history,
            seconds=seconds,
            head=head,
            checkpoint=cp,
            selection_score=score,
            train_config=c,
            lr_choice=lr_choice,
        )
    extra = _auto_peers(data, config, made, raw, report) if raw else {}
    made.update(extra)
    return {m: _choose(m, config, made, list(extra)) for m in config.validation_methods}


def _auto_peers(data: TrialData, config: ExperimentConfig, made: dict, raw: dict, report: Reporter) -> dict:
    """The auto method's candidates beside its grid (:func:`~embaug_core.training.selection.peers_on_split`: a deep
    ensemble of its best head, logistic regression), keyed (name, alpha or C, softness)."""
    keys = config.candidates(AUTO_METHOD)
    best = keys[rank([(k[0], made[k].checkpoint, made[k].selection_score) for k in keys])[0]]
    auto = config.train.recipe == "auto"
    # a fixed recipe ranks its grid heads with unweighted NLLs (_checkpoint), so its peers too
    none_share = recipe_module.DEFAULT_RECIPE.none_share if auto else None
    recipe = replace(recipe_module.DEFAULT_RECIPE, logreg_Cs=config.logreg_Cs, temperature=auto, none_share=none_share)
    arrays = (data.rows("vtrain"), data.y_vtrain, len(data.vsplit.train_classes), data.rows("val"), data.y_val)
    msg = f"trial {data.t + 1}/{config.n_trials} · ensemble and logistic regression on the validation split"
    report(msg)
    t0 = time.perf_counter()
    peers = peers_on_split(
        *arrays,
        made[best].train_config,
        made[best].checkpoint,
        raw[best],
        recipe=recipe,
        progress=lambda e, n: report(msg, e, n),
        outliers=_outliers(data, [made[best].train_config]),
    )
    seconds, out = (time.perf_counter() - t0) / max(1, len(peers)), {}
    for cfg, model, cp, logits in peers:
        logreg = cfg.model == "logreg"
        head = TrainedHead(
            model=scale_model(model, cp.temperature),
            class_names=data.vsplit.train_classes,
            config=cfg,
            input_dim=arrays[0].shape[1],
        )
        score = selection_value(
            evaluate(apply_temperature(logits, 1.0), data.y_val, n_bins=config.n_bins), config.selection_metric
        )
        a, sf = (float("nan"), float("nan")) if logreg else (cfg.alpha, cfg.softness)
        key = (cfg.candidate, cfg.C, 0.0) if logreg else (cfg.candidate, cfg.alpha, cfg.softness)  # no NaN keys
        out[key] = Candidate(
            cfg.candidate,
            a,
            sf,
            [],
            logits.astype(np.float32),
            None,
            seconds=seconds,
            head=head,
            checkpoint=cp,
            selection_score=score,
            train_config=cfg,
            lr_choice=made[best].lr_choice,
        )
    report.done += len(peers)
    return out


def _choose(name: str, config: ExperimentConfig, made: dict[tuple, Candidate], extra: list) -> Candidate:
    """Method ``name``'s candidate: its best grid point by ``selection_metric``; for "auto" the
    best of all its grid points and ``extra`` candidates (:func:`_auto_peers`) by validation NLL (after
    temperature), then AUROC (:func:`~embaug_core.training.selection.rank`)."""
    auto = name == AUTO_METHOD  # the auto method's rows span several methods, so they name theirs
    keys = config.candidates(name) + (extra if auto else [])
    rows = [_grid_point(k, made[k], auto) for k in keys]
    if auto:
        choices = [(f"{k[0]}", made[k].checkpoint, made[k].selection_score) for k in keys]
        order = rank(choices)
        best = keys[order[0]]
        rows = [rows[i] for i in order]
        return replace(made[best], name=AUTO_METHOD, train_method=best[0], selection=rows + _lr_rows(made[best]))
    best = None
    for k in keys:
        if better(made[k].selection_score, None if best is None else made[best].selection_score):
            best = k
    return replace(made[best], selection=rows + _lr_rows(made[best]))


def _grid_point(key: tuple, cand: Candidate, auto: bool) -> GridPoint:
    if cand.train_config is not None and cand.train_config.model == "logreg":
        return GridPoint(float("nan"), float("nan"), cand.selection_score, cand.checkpoint, key[0], C=key[1])
    blend = {} if cand.train_config is None or cand.train_config.blend_C == 0 else {"C": cand.train_config.blend_C}
    return GridPoint(key[1], key[2], cand.selection_score, cand.checkpoint, key[0] if auto else None, **blend)


def _lr_rows(cand: Candidate) -> list[LearningRateChoice]:
    """The "auto" recipe's learning-rate probes, as the last entry of a selection record."""
    return [LearningRateChoice(tuple(cand.lr_choice), cand.train_config.lr_max)] if cand.lr_choice else []


def final_heads(
    data: TrialData, config: ExperimentConfig, chosen: dict[str, Candidate], report: Reporter
) -> list[Candidate]:
    """Stage 2: each method retrained with its chosen hyper-parameters on all training rows
    (the "auto" recipe: stopped at the validation head's best epoch and divided by its T)."""
    auto = config.train.recipe == "auto"
    # the validation head's settings ("auto": resolved for the trial's training rows, stopped where
    # recipe.final_config says)
    n_val, n_train = len(data.vsplit.train_idx), len(data.split.train_idx)
    cfgs = [
        final_config(chosen[m].train_config, chosen[m].checkpoint.best_epoch, n_val, n_train)
        if auto
        else replace(chosen[m].train_config, stop_epoch=0)
        for m in config.methods
    ]
    msg = f"trial {data.t + 1}/{config.n_trials} · final training of {len(cfgs)} heads"
    curve = data.curve_rows()  # the rows of the per-epoch accuracies: a sample when there are many
    sampled = len(curve[1]) if len(curve[1]) < len(data.y_eval) else None
    heads = _train_heads(
        data,
        "train",
        data.y_train,
        data.split.train_classes,
        cfgs,
        config,
        report,
        msg,
        validation=curve,
        final=auto,
    )
    x_eval, out = data.rows("eval"), []
    for m, (head, seconds) in zip(config.methods, heads, strict=True):
        selection = chosen[m].selection
        if CROSS_FITTED in head.metadata:  # its members are divided by their own T already; the record names it
            selection = [*selection, TemperatureFit(head.metadata[CROSS_FITTED], cross_fit_note(head.config.ensemble))]
        elif auto:
            scale_model(head.model, chosen[m].checkpoint.temperature)
        eval_logits = head.predict_logits(x_eval)
        confidence = head_scores(data, chosen[m].head, chosen[m].val_logits, head, eval_logits, config.knn_k)
        out.append(
            replace(
                chosen[m],
                eval_logits=eval_logits,
                history=head.history,
                history_rows=sampled if head.history else None,  # logistic regression has no epochs
                seconds=seconds,
                head=head,
                confidence=confidence,
                selection=selection,
            )
        )
    return out
