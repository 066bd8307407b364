"""The "auto" recipe: a head as good as the paper's 576 epochs in a fraction of the time, with
its length and calibration chosen on a validation split instead of fixed.

Why: a fixed epoch count is wrong for most data. Short schedules leave the sigmoid head
under-confident; long ones over-fit the control and, on some data, the augmented heads too. The
recipe (parameters in :class:`AutoRecipe`, the measurements behind them in docs/method.md, "Fast and
good by default"):

1. **Batch and learning rate from the data**: the batch size is the power of two nearest to
   ``rows / target_steps_per_epoch``, clipped to [``min_batch``, ``max_batch``] (larger batches
   cost less per row on a CPU); the peak learning rate is ``lr_max_at_128 * sqrt(batch / 128)``.
2. **A one-cycle schedule over a budget**: the rate rises linearly from ``lr_max / 10`` to
   ``lr_max`` over the first 30 % of ``max_epochs`` epochs and falls linearly to ``lr_max / 1000``
   (``TrainConfig.lr_schedule = "one_cycle"``).
3. **Early stopping on validation NLL**: heads train on the validation split's training part and
   are scored after every epoch on its held-out part (binary cross-entropy, "none" rows with an
   all-zero target); each keeps its best epoch. The final head trains on all rows with the same
   schedule and stops at that epoch (``TrainConfig.stop_epoch``).
4. **Temperature scaling where it lowers validation NLL**: a temperature T is fitted on the held-out
   part for the best-epoch head (:func:`~embaug_core.evaluation.temperature.fit_temperature`) and the final head's
   last layer is divided by it (sigmoid(z / T) for every output; the saved head includes it). The
   temperature is fitted on a model trained on 70 % of the rows and applied to the final head of the
   same recipe and length on 100 %: a transfer, stated here, that the measurements support.

The validation split is the protocol's threshold-validation split (70/30, 5 classes removed from
the 70 % part so that the held-out rows include "none"), in experiments the one the trial already
makes; for a single head (:func:`select_and_train`) it is made from the training rows with the same rule.
With too few rows for it (``min_validation_rows``) the head trains the whole budget, T = 1, and the
metadata says so.

:func:`select_and_train` with several candidates is the "auto" method: every method and grid point trains
together on the validation split, the one with the lowest validation NLL after its temperature wins
(values within ``nll_tie`` of the lowest are ranked by validation AUROC), and the winner is retrained
on all rows. Its candidates exclude the label-softened methods by default
(:data:`~embaug_core.training.augment.AUTO_METHODS` says why). ``rank_by="top_label_nll"`` ranks by the
binary cross-entropy of each held-out row's confidence against "its top class is right" instead;
tried as a remedy for the softened heads' picks, it still picked them on StackOverflow and picked
E-Mixup over E-Stitchup in 2 of 5 trials on the intents (ECE 0.039 against 0.029 ranking the same
28 candidates by NLL), so it is not the default.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch

from ..errors import ConfigError, EmbaugError
from ..evaluation.metrics import NONE, top_label_nll
from ..evaluation.temperature import apply_temperature, fit_temperature
from .config import AUTO_MAX_EPOCHS, TrainConfig
from .engine import fit_stacked
from .heads import MLPHead

__all__ = [
    "AutoRecipe",
    "DEFAULT_RECIPE",
    "Checkpoint",
    "resolve",
    "checkpoint",
    "scale_head",
    "validation_split",
    "choose_lr",
    "LearningRateProbe",
    "select_and_train",
    "AutoTraining",
    "HeldOut",
]


@dataclass(frozen=True)
class AutoRecipe:
    """The constants of the "auto" recipe (see the module docstring for what each does)."""

    target_steps_per_epoch: int = 10
    min_batch: int = 64
    max_batch: int = 512
    lr_max_at_128: float = 0.024
    lr_factors: tuple[float, ...] = (0.125, 0.35, 1.0)
    max_epochs: int = AUTO_MAX_EPOCHS
    schedule: str = "one_cycle"
    patience: int = 0
    temperature: bool = True
    val_fraction: float = 0.3
    n_removed_classes: int = 5
    min_validation_rows: int = 20
    nll_tie: float = 0.002
    rank_by: str = "nll"
    none_in_stopping: bool = False
    none_in_temperature: bool = True

    def __post_init__(self):
        if self.rank_by not in ("nll", "top_label_nll"):
            raise ConfigError(f"rank_by must be 'nll' or 'top_label_nll'; got {self.rank_by!r}.")

    def monitor(self, x_val, y_val, *, for_temperature: bool = False):
        """The held-out rows whose NLL picks the epoch (or, ``for_temperature``, fits T): all of
        them ("none" with an all-zero target) or the known ones only (``none_in_stopping``,
        ``none_in_temperature``)."""
        if self.none_in_temperature if for_temperature else self.none_in_stopping:
            return x_val, y_val
        known = np.asarray(y_val) != NONE
        return np.asarray(x_val)[known], np.asarray(y_val)[known]

    def batch_size(self, n_rows: int) -> int:
        target = max(1.0, n_rows / self.target_steps_per_epoch)
        return int(min(self.max_batch, max(self.min_batch, 2 ** round(math.log2(target)))))


#: The recipe used where none is passed (experiments, the dashboard, the CLI, the library).
DEFAULT_RECIPE = AutoRecipe()


def resolve(
    config: TrainConfig, n_rows: int, recipe: AutoRecipe | None = None, *, lr_factor: float = 1.0
) -> TrainConfig:
    """The concrete settings of an "auto" config for ``n_rows`` training rows (other configs unchanged).

    The result has ``recipe="fixed"``; method, alpha, softness, seed, head shape, optimiser and
    device are kept.
    """
    recipe = recipe or DEFAULT_RECIPE
    if config.recipe != "auto":
        return config
    batch = recipe.batch_size(n_rows)
    lr_max = lr_factor * recipe.lr_max_at_128 * math.sqrt(batch / 128)
    return replace(
        config,
        recipe="fixed",
        batch_size=batch,
        lr_min=lr_max / 10,
        lr_max=lr_max,
        lr_schedule=recipe.schedule,
        epochs=recipe.max_epochs,
        stop_epoch=0,
        patience=recipe.patience,
    )


@dataclass(frozen=True)
class Checkpoint:
    """What the validation split decided for one head.

    best_epoch : the epoch with the lowest validation NLL (the final head stops there)
    temperature : T dividing the final head's logits (1.0 when not fitted)
    val_nll, val_nll_scaled : validation NLL (mean binary cross-entropy) at T = 1 and at T
    epochs_run : epochs the validation head trained
    val_top_nll : validation top-label NLL at T (:func:`~embaug_core.evaluation.metrics.top_label_nll`: the
        confidence against "the top class is right"), what the "auto" method ranks by with
        ``rank_by="top_label_nll"``
    """

    best_epoch: int
    temperature: float
    val_nll: float
    val_nll_scaled: float
    epochs_run: int
    val_top_nll: float

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Checkpoint:
        return cls(**{"val_top_nll": float("nan"), **d})  # results before 2026-11-24 have no top-label NLL


def _nll(logits: np.ndarray, y: np.ndarray, temperature: float) -> float:
    from ..evaluation.metrics import negative_log_likelihood

    return negative_log_likelihood(apply_temperature(logits, temperature), y)


def checkpoint(history, val_logits: np.ndarray, y_val: np.ndarray, recipe: AutoRecipe | None = None) -> Checkpoint:
    """The :class:`Checkpoint` of a validation head restored to its best epoch.

    history : its EpochRecords (``monitor_nll`` per epoch);  val_logits : (m, C) at the best epoch;
    y_val : (m,) class indices, NONE for "none"
    """
    recipe = recipe or DEFAULT_RECIPE
    nll = [r.monitor_nll for r in history]
    best = int(np.nanargmin(nll)) + 1 if nll and not all(math.isnan(v) for v in nll) else len(history)
    val_logits, y_val = recipe.monitor(val_logits, y_val, for_temperature=True)
    plain = _nll(val_logits, y_val, 1.0)
    t = fit_temperature(val_logits, y_val, kind="sigmoid") if recipe.temperature else 1.0
    scaled = _nll(val_logits, y_val, t)
    if not scaled < plain:  # applied only where it lowers the validation NLL
        t, scaled = 1.0, plain
    top = top_label_nll(apply_temperature(val_logits, t), y_val)
    return Checkpoint(best, float(t), float(plain), float(scaled), len(history), float(top))


@torch.no_grad()
def scale_head(model: MLPHead, temperature: float) -> MLPHead:
    """Divide the head's logits by ``temperature`` (its last layer's weights and bias), in place."""
    if temperature != 1.0:
        last = model.layers[-1]
        last.weight.div_(temperature)
        last.bias.div_(temperature)
    return model


def validation_split(labels: np.ndarray, seed: int, recipe: AutoRecipe | None = None):
    """The threshold-validation split of all ``labels`` (70/30, classes removed), or None when
    there are too few rows for it."""
    recipe = recipe or DEFAULT_RECIPE
    from ..data.splits import threshold_validation_split

    try:
        vsplit = threshold_validation_split(
            labels,
            np.arange(len(labels)),
            val_fraction=recipe.val_fraction,
            n_removed_classes=recipe.n_removed_classes,
            seed=seed,
        )
    except (ConfigError, EmbaugError, ValueError):
        return None
    if len(vsplit.eval_idx) < recipe.min_validation_rows or len(vsplit.train_classes) < 2:
        return None
    return vsplit


def validate(
    x_vtrain,
    y_vtrain,
    n_vclasses: int,
    x_val,
    y_val,
    configs: Sequence[TrainConfig],
    *,
    recipe: AutoRecipe | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[tuple[MLPHead, list, Checkpoint, np.ndarray]]:
    """Train resolved configs together on the validation split's training part, each stopped at its
    best validation-NLL epoch: (head, history, checkpoint, validation logits already divided by T) each."""
    recipe = recipe or DEFAULT_RECIPE
    heads, histories = fit_stacked(
        x_vtrain, y_vtrain, n_vclasses, list(configs), monitor=recipe.monitor(x_val, y_val), progress=progress
    )
    out = []
    x_val_t = torch.as_tensor(np.asarray(x_val, dtype=np.float32), device=next(heads[0].parameters()).device)
    for head, history in zip(heads, histories, strict=True):
        with torch.no_grad():
            logits = head(x_val_t).double().cpu().numpy()
        cp = checkpoint(history, logits, y_val, recipe)
        out.append((head, history, cp, logits / cp.temperature))
    return out


@dataclass(frozen=True)
class LearningRateProbe:
    """One peak learning rate tried by :func:`choose_lr`: its factor, its rate, and what the probe head
    reached on the validation split."""

    lr_factor: float
    lr_max: float
    checkpoint: Checkpoint

    def to_dict(self) -> dict:
        return {"lr_factor": self.lr_factor, "lr_max": self.lr_max, **self.checkpoint.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> LearningRateProbe:
        keys = ("lr_factor", "lr_max")
        return cls(d["lr_factor"], d["lr_max"], Checkpoint.from_dict({k: v for k, v in d.items() if k not in keys}))


def choose_lr(
    x_vtrain,
    y_vtrain,
    n_vclasses: int,
    x_val,
    y_val,
    probe: TrainConfig,
    *,
    recipe: AutoRecipe | None = None,
    progress: Callable[[int, int, int, int], None] | None = None,
) -> tuple[float, list[LearningRateProbe]]:
    """The learning-rate factor (of ``lr_factors``) whose ``probe`` head, trained on the validation
    split's training part, reaches the lowest validation NLL after temperature; with every probe's
    result. ``probe`` is an "auto" config (resolved here once per factor). ``progress(probe, probes,
    epoch, epochs)`` after every epoch of every probe (1-based probe)."""
    recipe = recipe or DEFAULT_RECIPE
    rows = []
    for i, factor in enumerate(recipe.lr_factors, start=1):
        c = resolve(probe, len(y_vtrain) + len(y_val), recipe, lr_factor=factor)
        each = None if progress is None else (lambda e, n, i=i: progress(i, len(recipe.lr_factors), e, n))
        ((_, _, cp, _),) = validate(x_vtrain, y_vtrain, n_vclasses, x_val, y_val, [c], recipe=recipe, progress=each)
        rows.append(LearningRateProbe(factor, c.lr_max, cp))
    best = min(range(len(rows)), key=lambda i: (rows[i].checkpoint.val_nll_scaled, i))
    return recipe.lr_factors[best], rows


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
    head : the chosen candidate's validation head (trained on ``train_idx``), divided by its T
    y_eval : (m,) the held-out rows as that head's class indices, NONE for the removed classes
    """

    train_idx: np.ndarray
    eval_idx: np.ndarray
    head: MLPHead
    y_eval: np.ndarray


@dataclass(frozen=True, eq=False)
class AutoTraining:
    """What :func:`select_and_train` gives: the final head, its history and resolved config, the
    description for its metadata, and the validation split it was chosen on (None without one)."""

    head: MLPHead
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
) -> AutoTraining:
    """Train with the "auto" recipe on rows x (n, D), class indices y (n,): validate the candidate
    ``configs`` on a validation split made from these rows, retrain the best on all of them.

    The description (``info``, for the head's metadata) has the recipe, the validation split's size,
    every candidate's checkpoint and validation AUROC, and the winner.
    """
    recipe = recipe or DEFAULT_RECIPE
    x = np.asarray(x, dtype=np.float32)
    labels = np.asarray(class_names, dtype=object)[np.asarray(y)]
    info: dict = {"recipe": "auto", "constants": asdict(recipe), "rows": int(len(x))}
    t0 = time.perf_counter()
    vsplit = validation_split(labels, configs[0].seed, recipe)
    held_out = None
    if vsplit is None:
        info["validation"] = f"none: fewer than {recipe.min_validation_rows} held-out rows; whole budget, T = 1"
        chosen, cp = resolve(configs[0], len(x), recipe), None
    else:
        factor = 1.0
        if any(c.recipe == "auto" for c in configs):
            each = None if progress is None else (lambda i, k, e, n: progress(f"learning rate, probe {i}/{k}", e, n))
            factor, probes = choose_lr(
                *_split_arrays(x, labels, vsplit), probe_config(configs), recipe=recipe, progress=each
            )
            info["learning_rate"] = [p.to_dict() for p in probes]
        resolved = [resolve(c, len(x), recipe, lr_factor=factor) for c in configs]
        stage = None if progress is None else (lambda e, n: progress("validation split", e, n))
        info["validation"], chosen, cp, vhead = _choose_on_split(x, labels, vsplit, resolved, recipe, stage)
        arrays = _split_arrays(x, labels, vsplit)
        held_out = HeldOut(vsplit.train_idx, vsplit.eval_idx, scale_head(vhead, cp.temperature), arrays[4])
    final = chosen if cp is None else replace(chosen, stop_epoch=cp.best_epoch)
    stage = None if progress is None else (lambda e, n: progress("final", e, n))
    (head,), (history,) = fit_stacked(x, y, len(class_names), [final], progress=stage)
    scale_head(head, 1.0 if cp is None else cp.temperature)
    info.update(
        {
            "chosen": _candidate(final),
            "best_epoch": final.stop_epoch or final.epochs,
            "temperature": 1.0 if cp is None else cp.temperature,
            "seconds": time.perf_counter() - t0,
        }
    )
    return AutoTraining(head, history, final, info, held_out)


def probe_config(configs: Sequence[TrainConfig]) -> TrainConfig:
    """The config whose head chooses the learning rate: the first E-Stitchup one, else the first."""
    return next((c for c in configs if c.method == "e_stitchup"), configs[0])


def _split_arrays(x, labels, vsplit):
    """(x_vtrain, y_vtrain, n_vclasses, x_val, y_val) of a validation split."""
    from ..evaluation.metrics import encode_labels

    y_vt = encode_labels(labels[vsplit.train_idx], vsplit.train_classes)
    y_val = encode_labels(labels[vsplit.eval_idx], vsplit.train_classes)
    return x[vsplit.train_idx], y_vt, len(vsplit.train_classes), x[vsplit.eval_idx], y_val


def _choose_on_split(x, labels, vsplit, resolved, recipe, progress) -> tuple[dict, TrainConfig, Checkpoint, MLPHead]:
    """Validate every resolved config on ``vsplit``; (description, the winner, its checkpoint, its
    validation head)."""
    from ..evaluation.summary import evaluate

    arrays = _split_arrays(x, labels, vsplit)
    y_val = arrays[4]
    results = validate(*arrays, resolved, recipe=recipe, progress=progress)
    rows = []
    for c, (_, _, cp_k, logits) in zip(resolved, results, strict=True):
        ev = evaluate(apply_temperature(logits, 1.0), y_val)
        rows.append((_describe(c), cp_k, float(ev.auroc), float(ev.calibration.ece)))
    order = rank([(r[0], r[1], r[2]) for r in rows], recipe)
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
    return description, resolved[order[0]], rows[order[0]][1], results[order[0]][0]


def criterion(recipe: AutoRecipe | None = None) -> str:
    """The "auto" method's ranking criterion, in words."""
    recipe = recipe or DEFAULT_RECIPE
    if recipe.rank_by == "top_label_nll":
        return "lowest validation top-label NLL (confidence against correctness) after temperature"
    return "lowest validation NLL after temperature"


def _candidate(c: TrainConfig) -> dict:
    return {"method": c.method, "alpha": c.alpha, "softness": c.softness}


def _describe(c: TrainConfig) -> str:
    return f"{c.method} alpha={c.alpha:g} softness={c.softness:g}"
