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
   schedule and stops at that epoch (:func:`final_config`, ``TrainConfig.stop_epoch``).
4. **Temperature scaling where it lowers validation NLL**: a temperature T is fitted on the held-out
   part for the best-epoch head (:func:`~embaug_core.evaluation.temperature.fit_temperature`) and the final
   model's logits are divided by it (sigmoid(z / T) for every output: an MLP head's last layer, an
   ensemble's or logistic regression's temperature buffer; the saved head includes it). The
   temperature is fitted on a model trained on 70 % of the rows and applied to the final model of the
   same recipe and length on 100 %: a transfer, stated here, that the measurements support.
   The fit is the all-class sigmoid NLL's for heads and ensembles, the top label's for logistic regression
   (:func:`checkpoint_at`); ``head_temperature="top_label"`` fits heads that way too, measured on the
   benchmark suite and left off (benchmarks/README.md: the auto method's ECE lower on 9 of 14 set-fractions,
   higher on 5, a mean change of -0.0002). ``cross_fit=True`` removes the transfer for ensembles: the
   final members are fold models, each trained on all rows but its own fifth, and T is fitted on their
   out-of-fold logits (:func:`~embaug_core.training.models.cross_fit`; known classes only, no "none" row
   in that fit). Measured on the suite and left off (benchmarks/README.md, "Cross-fitted ensembles"): the
   auto method's ECE fell on 12 of 14 set-fractions (mean -0.012), but its NLL and Brier score rose on
   most, ID accuracy fell on all 14, and on the bundled sample's protocol ECE rose from 0.050 to 0.088:
   softer confidences that suit the suite's quarter of "none" rows, not a better fit. ``blend=True`` adds a
   candidate to the auto method (:mod:`~embaug_core.training.selection`): its ensemble averaged with the best
   logistic regression (``TrainConfig.blend_C``), with a temperature of its own; measured on the suite and left
   off (benchmarks/README.md, "A blend of the head and logistic regression": better on two set-fractions, worse
   on two, targets 54 -> 53 of 56).

5. **Mixed precision where the device is fast at it** (``bfloat16``): unless the config sets its
   ``precision``, the training step's matrix products run in bfloat16 on a device that multiplies it
   natively (:func:`~embaug_core.device.fast_bfloat16`), float32 elsewhere. At the recipe's large batches a step is
   then 1.7x faster on an AVX512-BF16 CPU; weights, optimiser, loss and predictions stay float32.

The validation split is the protocol's threshold-validation split (70/30, 5 classes removed from
the 70 % part so that the held-out rows include "none"), in experiments the one the trial already
makes; for a single head (:func:`~embaug_core.training.selection.select_and_train`) it is made from the
training rows with the same rule.
With too few rows for it (``min_validation_rows``) the head trains the whole budget, T = 1, and the
metadata says so.

The auto *method* (which candidate wins, and the final training) is in
:mod:`embaug_core.training.selection`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch

from ..errors import ConfigError, EmbaugError
from ..evaluation.metrics import NONE, top_label_nll
from ..evaluation.temperature import apply_temperature, fit_temperature
from .config import AUTO_MAX_EPOCHS, TrainConfig
from .engine import fit_stacked, steps_per_epoch

__all__ = [
    "AutoRecipe",
    "DEFAULT_RECIPE",
    "Checkpoint",
    "resolve",
    "checkpoint",
    "validation_split",
    "choose_lr",
    "LearningRateProbe",
    "checkpoint_at",
    "final_config",
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
    logreg_Cs: tuple[float, ...] = (0.1, 1.0, 10.0)
    ensemble: int = 5
    max_rank_rows: int = 4000
    max_held_out_rows: int = 3000
    final_length: str = "epochs"
    bfloat16: bool = True
    none_share: float | None = 0.25
    head_temperature: str = "sigmoid"
    cross_fit: bool = False
    blend: bool = False

    def __post_init__(self):
        if self.head_temperature not in ("sigmoid", "top_label"):
            raise ConfigError(f"head_temperature must be 'sigmoid' or 'top_label'; got {self.head_temperature!r}.")
        if self.final_length not in ("epochs", "steps"):
            raise ConfigError(f"final_length must be 'epochs' or 'steps'; got {self.final_length!r}.")
        if self.rank_by not in ("nll", "top_label_nll"):
            raise ConfigError(f"rank_by must be 'nll' or 'top_label_nll'; got {self.rank_by!r}.")
        if not all(c > 0 for c in self.logreg_Cs) or self.ensemble < 0:
            raise ConfigError("logreg_Cs must be numbers > 0 and ensemble a whole number >= 0.")
        if self.none_share is not None and not 0.0 < self.none_share < 1.0:
            raise ConfigError(f"none_share must be between 0 and 1 (exclusive) or None; got {self.none_share!r}.")

    def cross_fits(self, config: TrainConfig) -> bool:
        """Whether the final model of ``config`` is cross-fitted (:func:`~embaug_core.training.models.cross_fit`)
        instead of trained on all rows and divided by its validation model's T: any ensemble of MLP heads the
        recipe trains (the auto method's ensemble candidate, or a config with ``ensemble > 1``), with
        ``cross_fit`` and ``temperature`` on."""
        cross = self.cross_fit and self.temperature
        return cross and config.model == "mlp" and config.ensemble > 1 and config.blend_C == 0

    def held_out_weights(self, y_val) -> np.ndarray | None:
        """Row weights of the held-out NLLs (the temperature's fit, the candidates' ranking): the "none" rows
        (the removed classes) weigh ``none_share`` in all, the known rows the rest; None (equal weights) when
        ``none_share`` is None or the rows are all of one kind.

        Why: the removed classes are 5 of however many the training rows have, so "none" is 3 % of
        DBpedia's held-out rows (165 known classes) and 62 % of Yahoo's (8): a temperature fitted on them
        as they come is sharper the more classes a set has, whatever share of "none" the head will meet.
        With "none" counted wrong (ECE, the top-label NLL), a confidence is only calibrated for one share;
        ``none_share`` names it instead of leaving it to the class count. 0.25 is the share a quarter of
        unseen classes gives, the protocol of the paper and of the benchmark suite."""
        if self.none_share is None:
            return None
        none = np.asarray(y_val) == NONE
        if none.all() or not none.any():
            return None
        return np.where(none, self.none_share / none.sum(), (1.0 - self.none_share) / (~none).sum())

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
    from ..device import fast_bfloat16

    batch = recipe.batch_size(n_rows)
    lr_max = lr_factor * recipe.lr_max_at_128 * math.sqrt(batch / 128)
    return replace(
        config,
        recipe="fixed",
        precision=config.precision
        if config.precision != "auto"
        else ("bfloat16" if recipe.bfloat16 and fast_bfloat16(config.device) else "float32"),
        batch_size=batch,
        lr_min=lr_max / 10,
        lr_max=lr_max,
        lr_schedule=recipe.schedule,
        epochs=recipe.max_epochs,
        stop_epoch=0,
        patience=recipe.patience,
    )


def final_config(
    config: TrainConfig, best_epoch: int, validation_rows: int, rows: int, recipe: AutoRecipe | None = None
) -> TrainConfig:
    """The settings of the head retrained on all ``rows`` after its validation head, trained on
    ``validation_rows`` rows with ``config``, was best at ``best_epoch``. ``recipe.final_length``:

    * ``"epochs"`` (default): the same schedule, stopped at the same epoch; an epoch of all rows is
      ``rows / validation_rows`` times longer, so the final head takes that many times the steps;
    * ``"steps"``: as many optimiser steps as the validation head took to its best epoch, the schedule laid
      over the same steps, in epochs of the larger set (rounded; at least one).

    A cross-fitted ensemble's members (:meth:`AutoRecipe.cross_fits`) each train on ``(K - 1) / K`` of the
    rows, which ``"steps"`` counts. Logistic regression is returned unchanged. benchmarks/README.md ("The
    auto method's time") has what each did on the suite and at 80 % training.
    """
    recipe = recipe or DEFAULT_RECIPE
    if config.model == "logreg":
        return config
    if recipe.cross_fits(config):  # each fold member trains on all folds but its own
        rows = rows * (config.ensemble - 1) // config.ensemble
    if recipe.final_length == "epochs":
        return replace(config, stop_epoch=best_epoch)
    scale = steps_per_epoch(validation_rows, config.batch_size) / steps_per_epoch(rows, config.batch_size)
    epochs = max(1, round(config.epochs * scale))
    return replace(config, epochs=epochs, stop_epoch=min(epochs, max(1, round(best_epoch * scale))))


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
    nll_temperature : the T of ``val_nll_scaled``; it is ``temperature`` but for logistic regression, whose
        temperature is fitted on the top label (see :func:`checkpoint_at`)
    """

    best_epoch: int
    temperature: float
    val_nll: float
    val_nll_scaled: float
    epochs_run: int
    val_top_nll: float
    nll_temperature: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Checkpoint:
        return cls(**{"val_top_nll": float("nan"), **d})  # results before 2026-11-24 have no top-label NLL


def _nll(logits: np.ndarray, y: np.ndarray, temperature: float, weights=None) -> float:
    from ..evaluation.metrics import negative_log_likelihood

    return negative_log_likelihood(apply_temperature(logits, temperature), y, weights=weights)


def checkpoint(history, val_logits: np.ndarray, y_val: np.ndarray, recipe: AutoRecipe | None = None) -> Checkpoint:
    """The :class:`Checkpoint` of a validation head restored to its best epoch.

    history : its EpochRecords (``monitor_nll`` per epoch);  val_logits : (m, C) at the best epoch;
    y_val : (m,) class indices, NONE for "none"
    """
    nll = [r.monitor_nll for r in history]
    best = int(np.nanargmin(nll)) + 1 if nll and not all(math.isnan(v) for v in nll) else len(history)
    return checkpoint_at(best, len(history), val_logits, y_val, recipe)


def checkpoint_at(
    best: int, epochs_run: int, val_logits, y_val, recipe: AutoRecipe | None = None, *, top_label: bool = False
) -> Checkpoint:
    """The :class:`Checkpoint` of a validation model whose length is already settled (``best``: its last
    epoch, 0 for logistic regression): its temperature and validation NLLs.

    ``top_label`` (logistic regression): the temperature the model is used with is fitted on its confidence
    against "the top class is right" ("none" rows never right), while the NLL it is ranked by keeps the
    all-class fit. Why: a softmax model's sigmoid logits of the classes it does not pick are its tail, and the
    all-class NLL, summed over every class, is the tail's: fitted on it, T sharpened logistic regression on the
    suite's sets and made its top class over-confident (benchmarks/README.md: DBpedia 10 %, ECE 0.127 with it,
    0.107 with the top-label fit, 0.093 for plain LogReg). ``recipe.head_temperature="top_label"`` fits every
    model's temperature so (heads and ensembles too)."""
    recipe = recipe or DEFAULT_RECIPE
    top_label = top_label or recipe.head_temperature == "top_label"
    val_logits, y_val = recipe.monitor(val_logits, y_val, for_temperature=True)
    w = recipe.held_out_weights(y_val)  # "none" rows weigh recipe.none_share
    plain = _nll(val_logits, y_val, 1.0, w)
    t = fit_temperature(val_logits, y_val, kind="sigmoid", weights=w) if recipe.temperature else 1.0
    scaled = _nll(val_logits, y_val, t, w)
    if not scaled < plain:  # applied only where it lowers the validation NLL
        t, scaled = 1.0, plain
    nll_t = t
    if top_label:
        t = fit_temperature(val_logits, y_val, kind="top_label", weights=w) if recipe.temperature else 1.0
    top = top_label_nll(apply_temperature(val_logits, t), y_val, weights=w)
    return Checkpoint(best, float(t), float(plain), float(scaled), epochs_run, float(top), float(nll_t))


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
    outliers=None,
) -> list[tuple[torch.nn.Module, list, Checkpoint, np.ndarray]]:
    """Train resolved configs on the validation split's training part; (model, history, checkpoint,
    validation logits already divided by T) each.

    Every MLP head (an ensemble's members too) trains in one stacked run, each stopped at its best
    validation-NLL epoch; an ensemble's length is its first member's. Logistic regression is fitted by
    scikit-learn (no epochs: best epoch 0); a blend (``blend_C``) is its head's length, with its logistic
    regression fitted beside it and its temperature fitted on the blend. ``outliers``: rows the heads train on
    with an all-zero target (outlier exposure)."""
    from .models import EnsembleHead, SoftmaxHead, blend, logits_of, member_configs

    recipe = recipe or DEFAULT_RECIPE
    members = [(i, m) for i, c in enumerate(configs) if c.model == "mlp" for m in member_configs(c)]
    heads, histories = [None] * len(members), [None] * len(members)
    for regmixup in (False, True):  # RegMixup's batches are twice as long: they stack apart
        group = [k for k, (_, m) in enumerate(members) if m.regmixup == regmixup]
        if group:
            trained, logs = fit_stacked(
                x_vtrain,
                y_vtrain,
                n_vclasses,
                [members[k][1] for k in group],
                monitor=recipe.monitor(x_val, y_val),
                progress=progress,
                outliers=outliers,
            )
            for k, head, log in zip(group, trained, logs, strict=True):
                heads[k], histories[k] = head, log
    out = []
    for i, c in enumerate(configs):
        own = [k for k, (j, _) in enumerate(members) if j == i]
        if c.model == "logreg":
            model, history = SoftmaxHead.fit(x_vtrain, y_vtrain, n_vclasses, c.C), []
        else:
            model = heads[own[0]] if len(own) == 1 else EnsembleHead([heads[k] for k in own]).eval()
            history = histories[own[0]]
            if c.blend_C > 0:
                model = blend(model, SoftmaxHead.fit(x_vtrain, y_vtrain, n_vclasses, c.blend_C))
        logits = logits_of(model, x_val)
        if c.model == "logreg":
            cp = checkpoint_at(0, 0, logits, y_val, recipe, top_label=True)
        else:
            cp = checkpoint(history, logits, y_val, recipe)
        out.append((model, history, cp, logits / cp.temperature))
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
    progress: Callable[[int, int], None] | None = None,
    n_rows: int | None = None,
    trained: dict | None = None,
    outliers=None,
) -> tuple[float, list[LearningRateProbe]]:
    """The learning-rate factor (of ``lr_factors``) whose ``probe`` head, trained on the validation
    split's training part, reaches the lowest validation NLL after temperature; with every probe's
    result. ``probe`` is an "auto" config (resolved here once per factor, for ``n_rows`` training rows,
    default those of the split). The probes, one head per factor with the same seed, train together in
    one stacked run, each at its own rate (:class:`~embaug_core.training.optim.HeadRates`; before
    2026-12-01 one after another: the same heads up to rounding, which
    96 epochs in bfloat16 can grow to about 1 % of the validation NLL). ``progress(epoch, epochs)`` after every
    epoch of that run. ``trained``, a dict, receives each resolved probe config's :func:`validate`
    result, so that the candidate equal to a probe is not trained twice."""
    recipe = recipe or DEFAULT_RECIPE
    configs = [resolve(probe, n_rows or len(y_vtrain) + len(y_val), recipe, lr_factor=f) for f in recipe.lr_factors]
    results = validate(
        x_vtrain, y_vtrain, n_vclasses, x_val, y_val, configs, recipe=recipe, progress=progress, outliers=outliers
    )
    rows = [LearningRateProbe(f, c.lr_max, r[2]) for f, c, r in zip(recipe.lr_factors, configs, results, strict=True)]
    if trained is not None:
        trained.update(zip(configs, results, strict=True))
    best = min(range(len(rows)), key=lambda i: (rows[i].checkpoint.val_nll_scaled, i))
    return recipe.lr_factors[best], rows


def probe_config(configs: Sequence[TrainConfig]) -> TrainConfig:
    """The config whose head chooses the learning rate: the first single E-Stitchup head, else the first
    MLP one, as one head (an ensemble's first member)."""
    mlp = [c.with_(ensemble=1) for c in configs if c.model == "mlp"]
    return next((c for c in mlp if c.method == "e_stitchup"), mlp[0])
