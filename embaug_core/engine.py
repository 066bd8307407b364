"""The training engine: :func:`fit` (one head) and :func:`fit_stacked` (K heads at once).

Both run the same loop (:func:`_train_loop`) over a :class:`~embaug_core.heads.StackedMLP`
of K heads (K = 1 for :func:`fit`), so there is one forward pass, one loss and one
optimiser step for every path. Each head draws its random numbers (initial weights,
shuffling, partners, lambdas, stitch masks, dropout) from its own ``torch.Generator`` in
a fixed order; the same seed, data, device and thread count give bit-identical heads.

Validation rows, when given, are scored after every epoch at ``reference_threshold``
through :class:`~embaug_core.thresholds.ThresholdSweep`, so the accept rule is the one of
:mod:`embaug_core.thresholds`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from .augment import augment_batch, get_method
from .config import TrainConfig, resolve_device
from .errors import ConfigError
from .heads import MLPHead, StackedMLP

__all__ = ["EpochRecord", "fit", "fit_stacked"]


@dataclass(frozen=True)
class EpochRecord:
    """One epoch of training history.

    ``val_*`` are the accuracies at ``reference_threshold`` on the validation rows
    (NaN when no validation set was given or the group is empty).
    """

    epoch: int
    epochs: int
    train_loss: float
    lr: float
    val_overall_accuracy: float
    val_id_accuracy: float
    val_none_accuracy: float
    elapsed_s: float

    def to_dict(self) -> dict:
        from .jsonio import jsonable

        return jsonable(asdict(self))

    @classmethod
    def from_dict(cls, d: dict) -> EpochRecord:
        return cls(**{k: (math.nan if v is None else v) for k, v in d.items()})  # the inverse of jsonable


def _batches(n: int, batch_size: int) -> list[tuple[int, int]]:
    bounds = [(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < 2:
        last = bounds.pop()
        bounds[-1] = (bounds[-1][0], last[1])
    return bounds


def _accuracies(probs: torch.Tensor, y_val: np.ndarray, threshold: float) -> tuple[float, float, float]:
    """(overall, ID, none) accuracy at ``threshold`` of probs (m, C) against y (m,).

    Top-1 on the device, then only (m,) values to the CPU: this runs every epoch.
    """
    from .metrics import NONE
    from .thresholds import accuracies_at

    conf, pred = probs.max(dim=1)
    is_none = y_val == NONE
    correct = (pred.cpu().numpy() == y_val) & ~is_none
    return accuracies_at(conf.double().cpu().numpy(), correct, is_none, threshold)


def _optimizer_and_schedule(params, config: TrainConfig, steps_per_epoch: int):
    """The optimiser of ``config`` and the triangular CyclicLR: one full cycle per
    ``lr_cycle_epochs`` epochs, stepped after every batch."""
    if config.optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=config.lr_min, weight_decay=config.weight_decay)
    elif config.optimizer == "adam":
        opt = torch.optim.Adam(params, lr=config.lr_min, weight_decay=config.weight_decay)
    else:
        opt = torch.optim.SGD(params, lr=config.lr_min, momentum=0.9, weight_decay=config.weight_decay)
    half_cycle = max(1, round(config.lr_cycle_epochs * steps_per_epoch / 2))
    sched = torch.optim.lr_scheduler.CyclicLR(
        opt,
        base_lr=config.lr_min,
        max_lr=config.lr_max,
        step_size_up=half_cycle,
        mode="triangular",
        cycle_momentum=config.optimizer == "sgd",
    )
    return opt, sched


def _as_tensors(embeddings, y, n_classes: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.as_tensor(np.asarray(embeddings), dtype=torch.float32, device=device)  # (n, D)
    y_t = torch.as_tensor(np.asarray(y), dtype=torch.int64, device=device)  # (n,)
    if x.ndim != 2 or x.shape[0] != y_t.shape[0]:
        raise ConfigError(f"embeddings (n, D) and labels (n,) do not match: {tuple(x.shape)} vs {tuple(y_t.shape)}.")
    if x.shape[0] < 2:
        raise ConfigError(f"training needs at least 2 rows; got {x.shape[0]}.")
    if y_t.min() < 0 or y_t.max() >= n_classes:
        raise ConfigError(f"training labels must be class indices in [0, {n_classes}).")
    return x, y_t


def _check_shared(configs: Sequence[TrainConfig]) -> None:
    if not configs:
        raise ConfigError("fit_stacked needs at least one config.")
    shared = (
        "epochs",
        "batch_size",
        "lr_min",
        "lr_max",
        "lr_cycle_epochs",
        "weight_decay",
        "optimizer",
        "hidden",
        "dropout",
        "device",
    )
    for f in shared:
        values = {getattr(c, f) for c in configs}
        if len(values) > 1:
            raise ConfigError(f"heads trained together must share {f!r}; got {sorted(map(str, values))}.")


def _augmented_batch(x, targets, orders, lo, hi, methods, configs, gens) -> tuple[torch.Tensor, torch.Tensor]:
    """Each head's batch of rows ``orders[k][lo:hi]``, augmented with its own method and generator."""
    xs, ys = [], []
    for order, method, c, g in zip(orders, methods, configs, gens, strict=True):
        idx = order[lo:hi]
        xb, yb = augment_batch(
            method,
            x[idx],
            targets[idx],
            alpha=c.alpha,
            softness=c.softness,
            mass=c.soft_mass,
            generator=g,
            kernel_tau_max=c.kernel_tau_max,
            kernel_tau_std=c.kernel_tau_std,
            stitch_mask=c.stitch_mask,
        )
        xs.append(xb)
        ys.append(yb)
    return torch.stack(xs), torch.stack(ys)  # (K, B, D), (K, B, C)


def _validate(model: StackedMLP, x_val, y_val, configs) -> list[tuple[float, float, float]]:
    if x_val is None:
        return [(math.nan,) * 3] * len(configs)
    with torch.no_grad():
        logits = model(x_val.unsqueeze(0).expand(len(configs), -1, -1))  # (K, m, C)
    return [_accuracies(torch.sigmoid(logits[k].double()), y_val, c.reference_threshold) for k, c in enumerate(configs)]


def _train_loop(x, y_t, n_classes, configs, gens, model, validation, on_epoch) -> list[list[EpochRecord]]:
    """The epochs of :func:`fit_stacked`; returns the K histories."""
    base, k, device = configs[0], len(configs), x.device
    bounds = _batches(x.shape[0], base.batch_size)
    opt, sched = _optimizer_and_schedule(list(model.parameters()), base, len(bounds))
    targets = torch.nn.functional.one_hot(y_t, n_classes).to(torch.float32)  # (n, C)
    methods = [get_method(c.method) for c in configs]
    x_val, y_val = (
        (None, None)
        if validation is None
        else (torch.as_tensor(np.asarray(validation[0]), dtype=torch.float32, device=device), np.asarray(validation[1]))
    )
    histories: list[list[EpochRecord]] = [[] for _ in range(k)]
    start = time.perf_counter()
    for epoch in range(1, base.epochs + 1):
        orders = [torch.randperm(x.shape[0], generator=g, device=device) for g in gens]
        totals = torch.zeros(k, device=device)
        for lo, hi in bounds:
            xb, yb = _augmented_batch(x, targets, orders, lo, hi, methods, configs, gens)
            logits = model(xb, generators=gens)  # (K, B, C)
            # mean over rows and classes per head (as BCEWithLogitsLoss), summed over heads
            per_head = torch.nn.functional.binary_cross_entropy_with_logits(logits, yb, reduction="none").mean(
                dim=(1, 2)
            )
            opt.zero_grad(set_to_none=True)
            per_head.sum().backward()
            opt.step()
            sched.step()
            totals += per_head.detach() * (hi - lo)
        lr, accs, elapsed = (
            opt.param_groups[0]["lr"],
            _validate(model, x_val, y_val, configs),
            time.perf_counter() - start,
        )
        records = [
            EpochRecord(epoch, base.epochs, float(totals[j]) / x.shape[0], lr, *accs[j], elapsed) for j in range(k)
        ]
        for history, record in zip(histories, records, strict=True):
            history.append(record)
        on_epoch(records)
    return histories


def fit_stacked(
    embeddings,
    y,
    n_classes: int,
    configs: Sequence[TrainConfig],
    *,
    validation: tuple | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[MLPHead], list[list[EpochRecord]]]:
    """Train several heads on the same rows at once, with batched matrix products.

    Each head k keeps its own method, alpha, softness and seed, and draws its random numbers
    (initial weights, shuffling, partners, lambdas, stitch masks, dropout) from its own
    generator in the same order as a head trained alone; the heads differ from separately
    trained ones only by floating-point summation order. What runs together must share
    epochs, batch size, learning-rate schedule, optimiser, head shape and device.

    Parameters
    ----------
    embeddings : (n, D);  y : (n,) class indices;  n_classes : int
    configs : K TrainConfigs
    validation : (embeddings (m, D), y (m,) with NONE for "none"), optional, scored per epoch
    progress : callable(epoch, epochs), optional

    Returns
    -------
    (K heads (MLPHead, eval mode), K histories of EpochRecord), in the order of ``configs``
    """
    _check_shared(configs)
    device = resolve_device(configs[0].device)
    x, y_t = _as_tensors(embeddings, y, n_classes, device)
    gens = [torch.Generator(device=device).manual_seed(c.seed) for c in configs]
    heads = [
        MLPHead(x.shape[1], n_classes, c.head_config, generator=g).to(device)
        for c, g in zip(configs, gens, strict=True)
    ]
    model = StackedMLP(heads).to(device)
    histories = _train_loop(
        x,
        y_t,
        n_classes,
        list(configs),
        gens,
        model,
        validation,
        lambda records: progress is not None and progress(records[0].epoch, records[0].epochs),
    )
    return model.write_back(heads), histories


def fit(
    embeddings,
    y,
    n_classes: int,
    config: TrainConfig,
    *,
    validation: tuple | None = None,
    progress: Callable[[EpochRecord], None] | None = None,
) -> tuple[MLPHead, list[EpochRecord]]:
    """Train one head on embeddings (n, D) with class indices y (n,): :func:`fit_stacked` with K = 1.

    Parameters
    ----------
    embeddings : array-like (n, D), float
    y : array-like (n,), int in [0, n_classes)
    n_classes : int
    config : TrainConfig
    validation : (embeddings (m, D), y (m,)) with NONE for "none" rows, optional
        Scored after every epoch at ``config.reference_threshold``.
    progress : callable(EpochRecord), optional
        Called after every epoch. Raising from it aborts training.

    Returns
    -------
    (head on the training device in eval mode, history)
    """
    device = resolve_device(config.device)
    x, y_t = _as_tensors(embeddings, y, n_classes, device)
    gen = torch.Generator(device=device).manual_seed(config.seed)
    head = MLPHead(x.shape[1], n_classes, config.head_config, generator=gen).to(device)
    model = StackedMLP([head]).to(device)
    (history,) = _train_loop(
        x,
        y_t,
        n_classes,
        [config],
        [gen],
        model,
        validation,
        lambda records: progress is not None and progress(records[0]),
    )
    return model.write_back([head])[0], history
