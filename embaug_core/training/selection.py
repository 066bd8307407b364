"""The "auto" method: which candidate a validation split picks, and the head retrained on all rows.

:func:`select_and_train` with several candidates is the "auto" method: every method and grid point trains
together on the validation split, the one with the lowest validation NLL after its temperature wins
(values within ``nll_tie`` of the lowest are ranked by validation AUROC), and the winner is retrained
on all rows. Its candidates exclude the label-softened methods by default
(:data:`~embaug_core.training.augment.AUTO_METHODS` says why). ``rank_by="top_label_nll"`` ranks by the
binary cross-entropy of each held-out row's confidence against "its top class is right" instead;
tried as a remedy for the softened heads' picks, it still picked them on StackOverflow and picked
E-Mixup over E-Stitchup in 2 of 5 trials on the intents (ECE 0.039 against 0.029 ranking the same
28 candidates by NLL), so it is not the default.

Besides the grid of heads, the auto method (``peers=True``; :meth:`TrainedHead.train_best`, the auto
method of an experiment) ranks two more kinds of candidate by the same rule (:func:`peers_on_split`): a
deep ensemble of the best head's settings and logistic regression, the peer, at a grid of C (with
``AutoRecipe.blend``, a third: the ensemble averaged with the best logistic regression; measured and off by
default). So the head it recommends is never worse than the peer on the validation split by the criterion that
ranks them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch

from ..evaluation.temperature import apply_temperature
from .config import TrainConfig
from .engine import fit_stacked
from .heads import MLPHead
from .models import cross_fit, cross_fit_note, scale_model, train_model
from .recipe import (
    DEFAULT_RECIPE,
    AutoRecipe,
    Checkpoint,
    checkpoint_at,
    choose_lr,
    final_config,
    probe_config,
    resolve,
    validate,
    validation_split,
)

__all__ = ["rank", "criterion", "peers_on_split", "HeldOut", "AutoTraining", "select_and_train", "train_final"]


def peers_on_split(
    x_vtrain,
    y_vtrain,
    n_vclasses: int,
    x_val,
    y_val,
    best: TrainConfig,
    best_checkpoint: Checkpoint,
    best_head: MLPHead,
    *,
    recipe: AutoRecipe | None = None,
    progress: Callable[[int, int], None] | None = None,
    outliers=None,
) -> list[tuple[TrainConfig, torch.nn.Module, Checkpoint, np.ndarray]]:
    """The auto method's candidates beside its grid of heads, on the same validation split:

    * a deep ensemble of the best head's settings: ``recipe.ensemble`` seeds, the first being ``best_head``
      itself (trained with ``best.seed`` and restored to its best epoch), the others trained together and
      stopped at the same epoch, their sigmoid outputs averaged;
    * logistic regression, the peer, at every C of ``recipe.logreg_Cs``;
    * with ``recipe.blend``, the ensemble (or ``best_head``) averaged with the best of those logistic regressions
      (:func:`_blend_on_split`).

    ``best`` with a ``blend_C`` of its own (a user's blend) gets neither an ensemble nor a blend, only the peers.
    Returns (config, validation model, checkpoint, validation logits divided by its T) for each; the
    temperature is fitted on the model it scales, as for the heads.
    """
    from .models import EnsembleHead, logits_of, member_configs

    recipe = recipe or DEFAULT_RECIPE
    out = []
    plain = best.model == "mlp" and best.blend_C == 0  # a user's blend is a candidate of its own, not a base
    if recipe.ensemble > 1 and plain and best.ensemble == 1:
        # not validate(): its first member is trained already, and all stop at that head's best epoch
        ensemble = best.with_(ensemble=recipe.ensemble, stop_epoch=best_checkpoint.best_epoch)
        members = member_configs(ensemble)[1:]
        others, _ = fit_stacked(x_vtrain, y_vtrain, n_vclasses, members, progress=progress, outliers=outliers)
        model = EnsembleHead([best_head, *others]).eval()
        logits = logits_of(model, x_val)
        cp = checkpoint_at(ensemble.stop_epoch, ensemble.stop_epoch, logits, y_val, recipe)
        out.append((ensemble, model, cp, logits / cp.temperature))
    peers = [
        best.with_(model="logreg", C=float(c), method="control", ensemble=1, blend_C=0.0, stop_epoch=0)
        for c in recipe.logreg_Cs
    ]
    arrays = (x_vtrain, y_vtrain, n_vclasses, x_val, y_val)
    for peer, (model, _, cp, logits) in zip(peers, validate(*arrays, peers, recipe=recipe), strict=True):
        out.append((peer, model, cp, logits))
    if recipe.blend and plain and peers:
        head = out[0] if out[0][0].model == "mlp" else (best, best_head, best_checkpoint, None)
        out.append(_blend_on_split(head, out[-len(peers) :], x_val, y_val, recipe))
    return out


def _blend_on_split(head, peers, x_val, y_val, recipe: AutoRecipe):
    """The blend candidate (``AutoRecipe.blend``): ``head`` (config, validation model, checkpoint, _), the ensemble
    or the best single head, averaged with the logistic regression of ``peers`` with the lowest validation NLL (the
    first of equal ones), both as they were trained (before their temperatures), with a temperature of its own
    fitted on the held-out rows. The models are copied: a caller divides each candidate's model by its T in place."""
    import copy

    from .models import blend, logits_of

    config, model, cp, _ = head
    peer = min(peers, key=lambda p: p[2].val_nll_scaled)
    mixed = blend(copy.deepcopy(model), copy.deepcopy(peer[1]))
    logits = logits_of(mixed, x_val)
    mixed_cp = checkpoint_at(cp.best_epoch, cp.epochs_run, logits, y_val, recipe)
    return config.with_(blend_C=peer[0].C), mixed, mixed_cp, logits / mixed_cp.temperature


def rank(choices: Sequence[tuple[str, Checkpoint, float]], recipe: AutoRecipe | None = None) -> list[int]:
    """Order of candidates (name, checkpoint, validation AUROC), best first: lowest validation NLL
    after temperature (``rank_by="top_label_nll"``: the top-label NLL after temperature instead);
    values within ``nll_tie`` of the lowest are ordered by AUROC (higher first)."""
    recipe = recipe or DEFAULT_RECIPE
    key = "val_top_nll" if recipe.rank_by == "top_label_nll" else "val_nll_scaled"
    nll = np.array([getattr(c[1], key) for c in choices])
    auroc = np.array([c[2] if np.isfinite(c[2]) else -np.inf for c in choices])
    best = float(np.nanmin(nll))
    near = nll <= best + recipe.nll_tie
    return sorted(range(len(choices)), key=lambda i: (not near[i], -auroc[i] if near[i] else nll[i], i))


@dataclass(frozen=True, eq=False)
class HeldOut:
    """The validation split a head was chosen on, seen by the chosen candidate's validation head: rows
    that no head trained on, which give the none scores a held-out percentile scale
    (:meth:`~embaug_core.training.trained_head.TrainedHead.fit_scores`).

    train_idx, eval_idx : rows of the split's training part and of its held-out part
    head : the chosen candidate's validation model (trained on ``train_idx``), divided by its T
    y_eval : (m,) the held-out rows as that head's class indices, NONE for the removed classes
    """

    train_idx: np.ndarray
    eval_idx: np.ndarray
    head: torch.nn.Module
    y_eval: np.ndarray


@dataclass(frozen=True, eq=False)
class AutoTraining:
    """What :func:`select_and_train` gives: the final head, its history and resolved config, the
    description for its metadata, and the validation split it was chosen on (None without one)."""

    head: torch.nn.Module
    history: list
    config: TrainConfig
    info: dict
    held_out: HeldOut | None


def select_and_train(
    x,
    y,
    class_names: Sequence[str],
    configs: Sequence[TrainConfig],
    *,
    recipe: AutoRecipe | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    peers: bool = False,
    outliers=None,
) -> AutoTraining:
    """Train with the "auto" recipe on rows x (n, D), class indices y (n,): validate the candidate
    ``configs`` on a validation split made from these rows, retrain the best on all of them. With
    ``peers`` (the auto method) a deep ensemble of the best head and logistic regression are candidates
    too (:func:`peers_on_split`). ``outliers`` (b, D): out-of-scope rows every head trains on with an
    all-zero target (outlier exposure), on the validation split and in the final training.

    The description (``info``, for the head's metadata) has the recipe, the validation split's size,
    every candidate's checkpoint and validation AUROC, and the winner.
    """
    recipe = recipe or DEFAULT_RECIPE
    x = np.asarray(x, dtype=np.float32)
    labels = np.asarray(class_names, dtype=object)[np.asarray(y)]
    info: dict = {"recipe": "auto", "constants": asdict(recipe), "rows": int(len(x))}
    t0 = time.perf_counter()
    vsplit = _ranking_rows(validation_split(labels, configs[0].seed, recipe), labels, recipe)
    held_out = None
    if vsplit is None:
        info["validation"] = f"none: fewer than {recipe.min_validation_rows} held-out rows; whole budget, T = 1"
        chosen, cp = resolve(configs[0], len(x), recipe), None
    else:
        factor, probed = _learning_rate(x, labels, vsplit, configs, recipe, progress, outliers, info)
        resolved = [resolve(c, len(x), recipe, lr_factor=factor) for c in configs]
        stage = None if progress is None else (lambda e, n: progress("validation split", e, n))
        info["validation"], chosen, cp, vmodel = _choose_on_split(
            x, labels, vsplit, resolved, recipe, stage, peers, probed, outliers
        )
        arrays = _split_arrays(x, labels, vsplit)
        held_out = HeldOut(vsplit.train_idx, vsplit.eval_idx, scale_model(vmodel, cp.temperature), arrays[4])
    final = chosen if cp is None else final_config(chosen, cp.best_epoch, len(vsplit.train_idx), len(x), recipe)
    head, history, t = _final_model(x, y, len(class_names), final, cp, recipe, progress, outliers, info)
    info.update(
        {
            "chosen": _candidate(final),
            "best_epoch": 0 if final.model == "logreg" else final.stop_epoch or final.epochs,
            "temperature": t,
            "seconds": time.perf_counter() - t0,
        }
    )
    return AutoTraining(head, history, final, info, held_out)


def _final_model(x, y, n_classes: int, final: TrainConfig, cp, recipe, progress, outliers, info: dict):
    """The winner trained on all rows and its temperature: (model divided by T, history, T). T is the validation
    model's (``cp``; 1 without a validation split), or a cross-fitted ensemble's own (:func:`train_final`, said
    in ``info``)."""
    stage = None if progress is None else (lambda r: progress("final", r.epoch, r.epochs))
    crossed = recipe if cp is not None else replace(recipe, cross_fit=False)  # no validation split: T = 1
    head, history, t = train_final(x, y, n_classes, final, crossed, progress=stage, outliers=outliers)
    if t is None:
        t = 1.0 if cp is None else cp.temperature
        scale_model(head, t)
    else:
        info["temperature_fit"] = cross_fit_note(final.ensemble)
    if stage is not None and final.model == "logreg":  # no epochs: one report, so that progress ends
        progress("final", 1, 1)
    return head, history, t


def train_final(
    x, y, n_classes: int, config: TrainConfig, recipe: AutoRecipe, *, validation=None, progress=None, outliers=None
):
    """The final training of the auto recipe's winner on all rows, for :func:`select_and_train` and for an
    experiment's final heads: (model, history, T or None). An ensemble the recipe cross-fits
    (:meth:`~embaug_core.training.recipe.AutoRecipe.cross_fits`) comes back divided by its own T
    (:func:`~embaug_core.training.models.cross_fit`); anything else undivided, T None, for the caller to divide
    by its validation model's."""
    if recipe.cross_fits(config):
        kind = recipe.head_temperature
        return cross_fit(
            x, y, n_classes, config, kind=kind, validation=validation, progress=progress, outliers=outliers
        )
    model, history = train_model(x, y, n_classes, config, validation=validation, progress=progress, outliers=outliers)
    return model, history, None


def _learning_rate(x, labels, vsplit, configs, recipe, progress, outliers, info: dict) -> tuple[float, dict]:
    """The learning-rate factor (:func:`~embaug_core.training.recipe.choose_lr`; 1 when no config is an
    "auto" MLP head) and its probes' results by config; the probes go into ``info``."""
    probed: dict = {}
    if not any(c.recipe == "auto" and c.model == "mlp" for c in configs):
        return 1.0, probed
    k = len(recipe.lr_factors)
    each = None if progress is None else (lambda e, n: progress(f"learning rate, {k} probes together", e, n))
    factor, probes = choose_lr(
        *_split_arrays(x, labels, vsplit),
        probe_config(configs),
        recipe=recipe,
        progress=each,
        n_rows=len(x),
        trained=probed,
        outliers=outliers,
    )
    info["learning_rate"] = [p.to_dict() for p in probes]
    return factor, probed


def _ranking_rows(vsplit, labels, recipe: AutoRecipe):
    """The validation split the candidates are ranked on: at most ``max_rank_rows`` training and
    ``max_held_out_rows`` held-out rows of ``vsplit``, each part subsampled stratified by label (every class
    keeps a row), so that ranking costs the same on 15,000 rows as on 5,000; None stays None."""
    from ..data.splits import stratified_subsample

    if vsplit is None:
        return None
    train = vsplit.train_idx[stratified_subsample(labels[vsplit.train_idx], recipe.max_rank_rows, vsplit.seed)]
    held = vsplit.eval_idx[stratified_subsample(labels[vsplit.eval_idx], recipe.max_held_out_rows, vsplit.seed)]
    return replace(vsplit, train_idx=train, eval_idx=held)


def _split_arrays(x, labels, vsplit):
    """(x_vtrain, y_vtrain, n_vclasses, x_val, y_val) of a validation split."""
    from ..evaluation.metrics import encode_labels

    y_vt = encode_labels(labels[vsplit.train_idx], vsplit.train_classes)
    y_val = encode_labels(labels[vsplit.eval_idx], vsplit.train_classes)
    return x[vsplit.train_idx], y_vt, len(vsplit.train_classes), x[vsplit.eval_idx], y_val


def _choose_on_split(
    x, labels, vsplit, resolved, recipe, progress, peers: bool, probed: dict, outliers=None
) -> tuple[dict, TrainConfig, Checkpoint, torch.nn.Module]:
    """Validate every resolved config on ``vsplit`` (with ``peers``, also :func:`peers_on_split` beside
    the best of them); (description, the winner, its checkpoint, its validation model). A config among
    ``probed`` (:func:`~embaug_core.training.recipe.choose_lr`'s probes) is not trained again."""
    from ..evaluation.summary import evaluate

    arrays = _split_arrays(x, labels, vsplit)
    y_val = arrays[4]
    todo = [c for c in resolved if c not in probed]
    trained = validate(*arrays, todo, recipe=recipe, progress=progress, outliers=outliers)
    done = dict(zip(todo, trained, strict=True)) | probed
    results = [(c, done[c][0], done[c][2], done[c][3]) for c in resolved]

    def ranked(results):
        rows = []
        for c, _, cp_k, logits in results:
            ev = evaluate(apply_temperature(logits, 1.0), y_val)
            rows.append((_describe(c), cp_k, float(ev.auroc), float(ev.calibration.ece)))
        return rows, rank([(r[0], r[1], r[2]) for r in rows], recipe)

    rows, order = ranked(results)
    if peers:
        best = results[order[0]]
        each = None if progress is None else (lambda e, n: progress(e, n))
        results += peers_on_split(*arrays, best[0], best[2], best[1], recipe=recipe, progress=each, outliers=outliers)
        rows, order = ranked(results)
    resolved = [r[0] for r in results]
    description = {
        "train_rows": int(len(vsplit.train_idx)),
        "held_out_rows": int(len(vsplit.eval_idx)),
        "removed_classes": list(vsplit.none_classes),
        "criterion": f"{criterion(recipe)}; within {recipe.nll_tie} of it, highest AUROC",
        "candidates": [
            {**_candidate(resolved[i]), **rows[i][1].to_dict(), "val_auroc": rows[i][2], "val_ece": rows[i][3]}
            for i in order
        ],
    }
    return description, resolved[order[0]], rows[order[0]][1], results[order[0]][1]


def criterion(recipe: AutoRecipe | None = None) -> str:
    """The "auto" method's ranking criterion, in words."""
    recipe = recipe or DEFAULT_RECIPE
    if recipe.rank_by == "top_label_nll":
        return "lowest validation top-label NLL (confidence against correctness) after temperature"
    return "lowest validation NLL after temperature"


def _candidate(c: TrainConfig) -> dict:
    """A candidate's settings as ``head.json`` keeps them ("method" is :attr:`TrainConfig.candidate`)."""
    if c.model == "logreg":
        return {"method": c.candidate, "C": c.C}
    blend = {"C": c.blend_C} if c.blend_C > 0 else {}
    return {"method": c.candidate, "alpha": c.alpha, "softness": c.softness, **blend}


def _describe(c: TrainConfig) -> str:
    if c.model == "logreg":
        return f"logreg C={c.C:g}"
    blend = f" C={c.blend_C:g}" if c.blend_C > 0 else ""
    return f"{c.candidate} alpha={c.alpha:g} softness={c.softness:g}{blend}"
