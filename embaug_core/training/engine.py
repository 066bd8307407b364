"""The training engine: :func:`fit` (one head) and :func:`fit_stacked` (K heads at once).

Both run the same loop (:func:`_train_loop`) over a :class:`~embaug_core.training.heads.StackedMLP`
of K heads (K = 1 for :func:`fit`), so there is one forward pass, one loss and one
optimiser step for every path. Each head draws its random numbers (initial weights,
shuffling, partners, lambdas, stitch masks, dropout) from its own ``torch.Generator`` in
a fixed order; the same seed, data, device and thread count give bit-identical heads.

Per step there is no Python work that can be batched: each head's row order, batch-local
partners and Beta weights for a whole epoch are drawn before its first step
(:class:`~embaug_core.training.draws.EpochPlan`); what is left per step is the stitch mask (cheaper than the first
layer's matrix product, :func:`~embaug_core.training.augment.stitch_keep`), the dropout masks and one
fused optimiser step for all parameters of all heads.

Validation rows, when given, are scored after every epoch at ``reference_threshold``
through :class:`~embaug_core.evaluation.thresholds.ThresholdSweep`, so the accept rule is the one of
:mod:`embaug_core.evaluation.thresholds`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..device import resolve_device
from ..errors import ConfigError
from .augment import get_method
from .config import TrainConfig
from .draws import EpochPlan, augmented_batch
from .heads import MLPHead, StackedMLP, mlp_forward
from .optim import HeadRates, head_rates, optimizer_and_schedule

__all__ = ["EpochRecord", "fit", "fit_stacked", "steps_per_epoch"]


@dataclass(frozen=True)
class EpochRecord:
    """One epoch of training history.

    ``val_*`` are the accuracies at ``reference_threshold`` on the validation rows
    (NaN when no validation set was given or the group is empty); ``monitor_nll`` is the
    mean binary cross-entropy on the monitor rows (NaN without them).
    """

    epoch: int
    epochs: int
    train_loss: float
    lr: float
    val_overall_accuracy: float
    val_id_accuracy: float
    val_none_accuracy: float
    elapsed_s: float
    monitor_nll: float = math.nan

    def to_dict(self) -> dict:
        from ..jsonio import jsonable

        return jsonable(asdict(self))

    @classmethod
    def from_dict(cls, d: dict) -> EpochRecord:
        return cls(**{k: (math.nan if v is None else v) for k, v in d.items()})  # the inverse of jsonable


#: One history per head trained together, each a list of its epochs.
Histories = list[list[EpochRecord]]


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Optimiser steps in one epoch over ``n`` rows (a last batch of one row joins the one before it)."""
    return len(_batches(n, batch_size))


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
    from ..evaluation.metrics import NONE
    from ..evaluation.thresholds import accuracies_at

    conf, pred = probs.max(dim=1)
    is_none = y_val == NONE
    correct = (pred.cpu().numpy() == y_val) & ~is_none
    return accuracies_at(conf.double().cpu().numpy(), correct, is_none, threshold)


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
    shared = ("epochs", "batch_size", "lr_cycle_epochs", "weight_decay", "optimizer", "fused", "lr_schedule")
    shared += ("patience", "regmixup", "hidden", "dropout", "device", "precision")  # rates: optim.head_rates
    for f in shared:
        values = {getattr(c, f) for c in configs}
        if len(values) > 1:
            raise ConfigError(f"heads trained together must share {f!r}; got {sorted(map(str, values))}.")
    head_rates(configs)


def _validate(model: StackedMLP, x_val, y_val, configs, scored: int | None = None) -> list[tuple[float, float, float]]:
    """Every head's accuracies on the validation rows; only the first ``scored`` heads' (the rest NaN) when
    given: the forward pass over the rows is the cost, each epoch."""
    n = len(configs) if scored is None else min(scored, len(configs))
    if x_val is None or n == 0:
        return [(math.nan,) * 3] * len(configs)
    with torch.no_grad():  # the first n heads, without dropout: (n, m, C)
        logits = mlp_forward(
            x_val.unsqueeze(0).expand(n, -1, -1), [w[:n] for w in model.weights], [b[:n] for b in model.biases]
        )
    accs = [_accuracies(torch.sigmoid(logits[k].double()), y_val, configs[k].reference_threshold) for k in range(n)]
    return accs + [(math.nan,) * 3] * (len(configs) - n)


def _monitor_nll(model: StackedMLP, x_mon, t_mon, k: int) -> torch.Tensor:
    """Mean binary cross-entropy (K,) of every head on the monitor rows (one-hot targets)."""
    with torch.no_grad():
        logits = model(x_mon.unsqueeze(0).expand(k, -1, -1))  # (K, m, C)
        return torch.nn.functional.binary_cross_entropy_with_logits(
            logits, t_mon.unsqueeze(0).expand_as(logits), reduction="none"
        ).mean(dim=(1, 2))


class _Best:
    """Per head, the weights of the epoch with the lowest monitor NLL (or of its ``stop_epoch``),
    and when to stop."""

    def __init__(self, model: StackedMLP, k: int, patience: int):
        self.nll = torch.full((k,), math.inf)
        self.epoch = [0] * k
        self.patience = patience
        self.state = [p.detach().clone() for p in model.parameters()]

    def update(self, model: StackedMLP, nll: torch.Tensor, epoch: int) -> None:
        better = (nll.cpu() < self.nll).nonzero().flatten().tolist()
        for j in better:
            self.nll[j] = float(nll[j])
        self.keep(model, better, epoch)

    def keep(self, model: StackedMLP, heads: list[int], epoch: int) -> None:
        """Save the current weights of ``heads`` as theirs."""
        for j in heads:
            self.epoch[j] = epoch
            for saved, p in zip(self.state, model.parameters(), strict=True):
                saved[j].copy_(p.detach()[j])

    def stale(self, epoch: int) -> bool:
        """Every head has gone ``patience`` epochs without a better monitor NLL."""
        return self.patience > 0 and all(epoch - e >= self.patience for e in self.epoch)

    @torch.no_grad()
    def restore(self, model: StackedMLP) -> None:
        for saved, p in zip(self.state, model.parameters(), strict=True):
            p.copy_(saved)


def _as_validation(validation, device):
    """The validation rows (embeddings on the device, labels as a NumPy array), or (None, None)."""
    if validation is None:
        return None, None
    return torch.as_tensor(np.asarray(validation[0]), dtype=torch.float32, device=device), np.asarray(validation[1])


def _as_monitor(monitor, n_classes: int, device):
    if monitor is None:
        return None, None
    from ..evaluation.metrics import NONE

    x_mon = torch.as_tensor(np.asarray(monitor[0]), dtype=torch.float32, device=device)
    y_mon = torch.as_tensor(np.asarray(monitor[1]), dtype=torch.int64, device=device)
    if x_mon.ndim != 2 or len(x_mon) != len(y_mon) or len(y_mon) == 0:
        raise ConfigError("monitor rows must be (m, D) embeddings with m >= 1 class indices.")
    # "none" rows (NONE) have an all-zero target: the NLL that Table 2 reports and temperature scaling fits
    targets = torch.nn.functional.one_hot(y_mon.clamp_min(0), n_classes).to(torch.float32)
    return x_mon, targets * (y_mon != NONE).unsqueeze(1)


def _step(model: StackedMLP, opt, sched, xb, yb, gens, precision: str = "float32", rates=None) -> torch.Tensor:
    """One optimiser step on batches xb (K, B, D), yb (K, B, C); the K losses (detached). ``precision``
    "bfloat16": the forward pass's matrix products under autocast; the loss is taken on float32 logits.
    ``rates``: a :class:`~embaug_core.training.optim.HeadRates` when the heads' learning rates differ."""
    with torch.autocast(xb.device.type, dtype=torch.bfloat16, enabled=precision == "bfloat16"):
        logits = model(xb, generators=gens).float()  # (K, B, C); float32 already without bfloat16
    # mean over rows and classes per head (as BCEWithLogitsLoss), summed over heads
    per_head = torch.nn.functional.binary_cross_entropy_with_logits(logits, yb, reduction="none").mean(dim=(1, 2))
    opt.zero_grad(set_to_none=True)
    per_head.sum().backward()
    if rates is not None:
        rates.before()
    opt.step()
    if rates is not None:
        rates.after()
    sched.step()
    return per_head.detach()


def _train_loop(
    x, y_t, n_classes, configs, gens, model, validation, on_epoch, monitor=None, scored=None, rows=None
) -> Histories:
    """The epochs of :func:`fit_stacked`; returns the K histories (and restores the best epoch's weights per
    head when ``monitor`` rows are given). ``rows``: each head's training rows (:func:`_head_rows`) or None."""
    base, k, device = configs[0], len(configs), x.device
    n_epoch = x.shape[0] if rows is None else min(len(r) for r in rows)  # positions each head sees an epoch
    bounds = _batches(n_epoch, base.batch_size)
    opt, sched = optimizer_and_schedule(list(model.parameters()), base, len(bounds))
    scales = head_rates(configs)  # heads at other learning rates than the first (the auto recipe's probes)
    rates = None if scales is None else HeadRates(list(model.parameters()), scales)
    # (n, C); outliers (label NONE, outlier exposure) have an all-zero target
    targets = torch.nn.functional.one_hot(y_t.clamp_min(0), n_classes).to(torch.float32) * (y_t >= 0).unsqueeze(1)
    methods = [get_method(c.method) for c in configs]
    x_val, y_val = _as_validation(validation, device)
    x_mon, t_mon = _as_monitor(monitor, n_classes, device)
    best = _Best(model, k, base.patience) if x_mon is not None else None
    stops = [c.stop_epoch or c.epochs for c in configs]
    stopped = _Best(model, k, 0) if len(set(stops)) > 1 else None  # heads that stop before the others
    histories: list[list[EpochRecord]] = [[] for _ in range(k)]
    start = time.perf_counter()
    for epoch in range(1, max(stops) + 1):
        plans = [
            EpochPlan.draw(n_epoch, bounds, m, c, g, device, rows=None if rows is None else rows[j])
            for j, (m, c, g) in enumerate(zip(methods, configs, gens, strict=True))
        ]
        totals = torch.zeros(k, device=device)
        for lo, hi in bounds:
            xb, yb = augmented_batch(x, targets, plans, lo, hi, methods, configs, gens)
            totals += _step(model, opt, sched, xb, yb, gens, base.precision, rates) * (hi - lo)
        nll = _monitor_nll(model, x_mon, t_mon, k) if best is not None else None
        if best is not None:
            best.update(model, nll, epoch)
        accs, elapsed = _validate(model, x_val, y_val, configs, scored), time.perf_counter() - start
        records = [
            EpochRecord(
                epoch,
                base.epochs,
                float(totals[j]) / n_epoch,
                opt.param_groups[0]["lr"] * (1.0 if scales is None else scales[j]),
                *accs[j],
                elapsed,
                monitor_nll=math.nan if nll is None else float(nll[j]),
            )
            for j in range(k)
        ]
        for j, (history, record) in enumerate(zip(histories, records, strict=True)):
            if epoch <= stops[j]:
                history.append(record)
        on_epoch(records)
        if stopped is not None:
            stopped.keep(model, [j for j in range(k) if stops[j] == epoch], epoch)
        if best is not None and best.stale(epoch):
            break
    if best is not None:
        best.restore(model)
    elif stopped is not None:
        stopped.restore(model)
    return histories


@contextmanager
def _flush_denormals():
    """Subnormal floats flushed to zero while training (CPU; the calling thread's setting, restored).

    Why: over a long run some weights, gradients and Adam moments decay into the subnormal range
    (below 1.2e-38), where x86 arithmetic is many times slower. Measured on the six paper methods
    stacked (sample's 10 % split, batch 64): 48 epochs took 7.9 s at the start and 9.5 s by epoch 240
    without flushing, a flat 6.2 s with it. Results change only in values below 1.2e-38.
    """
    supported = torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if supported:
            torch.set_flush_denormal(False)


def _head_rows(head_rows, k: int, n: int, n_out: int, device) -> list[torch.Tensor] | None:
    """``fit_stacked``'s ``head_rows`` checked and as index tensors, the outliers (rows ``n .. n + n_out - 1``)
    added to every head's; None stays None. Each head's partners are drawn among its own rows. An epoch is as
    many rows as the smallest of them has: a head with more leaves a different random few out of each epoch."""
    if head_rows is None:
        return None
    arrays = [np.asarray(r) for r in head_rows]
    if len(arrays) != k or any(a.ndim != 1 or a.dtype.kind not in "iu" for a in arrays):  # not masks
        raise ConfigError(f"head_rows must be {k} lists of at least 2 row indices in [0, {n}).")
    out = [torch.as_tensor(a, dtype=torch.int64, device=device) for a in arrays]
    if any(len(r) < 2 or r.min() < 0 or r.max() >= n for r in out):
        raise ConfigError(f"head_rows must be {k} lists of at least 2 row indices in [0, {n}).")
    extra = torch.arange(n, n + n_out, device=device)
    return [torch.cat([r, extra]) for r in out]


def _fit(embeddings, y, n_classes, configs, validation, monitor, on_epoch, outliers=None, scored=None, rows=None):
    with _flush_denormals():
        return _fit_flushed(embeddings, y, n_classes, configs, validation, monitor, on_epoch, outliers, scored, rows)


def _fit_flushed(
    embeddings, y, n_classes, configs, validation, monitor, on_epoch, outliers=None, scored=None, rows=None
):
    _check_shared(configs)
    device = resolve_device(configs[0].device)
    x, y_t = _as_tensors(embeddings, y, n_classes, device)
    n = x.shape[0]
    if outliers is not None and len(outliers):  # outlier exposure: rows with an all-zero target (label NONE)
        from ..evaluation.metrics import NONE

        x_out = torch.as_tensor(np.asarray(outliers), dtype=torch.float32, device=device)
        if x_out.ndim != 2 or x_out.shape[1] != x.shape[1]:
            raise ConfigError(f"none examples must be (b, {x.shape[1]}) embeddings; got {tuple(x_out.shape)}.")
        x = torch.cat([x, x_out])
        y_t = torch.cat([y_t, torch.full((len(x_out),), NONE, dtype=torch.int64, device=device)])
    gens = [torch.Generator(device=device).manual_seed(c.seed) for c in configs]
    heads = [
        MLPHead(x.shape[1], n_classes, c.head_config, generator=g).to(device)
        for c, g in zip(configs, gens, strict=True)
    ]
    model = StackedMLP(heads).to(device)
    rows = _head_rows(rows, len(configs), n, x.shape[0] - n, device)
    histories = _train_loop(x, y_t, n_classes, list(configs), gens, model, validation, on_epoch, monitor, scored, rows)
    return model.write_back(heads), histories


def fit_stacked(
    embeddings,
    y,
    n_classes: int,
    configs: Sequence[TrainConfig],
    *,
    validation: tuple | None = None,
    monitor: tuple | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_epoch: Callable[[list[EpochRecord]], None] | None = None,
    outliers=None,
    scored_heads: int | None = None,
    head_rows: Sequence | None = None,
) -> tuple[list[MLPHead], list[list[EpochRecord]]]:
    """Train several heads on the same rows at once, with batched matrix products.

    Each head k keeps its own method, alpha, softness and seed, and draws its random numbers (initial weights,
    shuffling, partners, lambdas, stitch masks, dropout) from its own generator in the same order as a head
    trained alone; the heads differ from separately trained ones only by floating-point summation order. What
    runs together must share epochs, batch size, the learning-rate schedule's shape (``lr_min / lr_max``; the
    peak rates may differ, :class:`~embaug_core.training.optim.HeadRates`), optimiser, head shape and device.

    Parameters
    ----------
    embeddings : (n, D);  y : (n,) class indices;  n_classes : int
    configs : K TrainConfigs
    validation : (embeddings (m, D), y (m,) with NONE for "none"), optional, scored per epoch
        (accuracies only: it never changes the heads)
    monitor : (embeddings (m, D), y (m,) class indices), optional: rows the heads do not train on. Their
        mean binary cross-entropy is computed after every epoch; each head ends with the weights of its epoch
        with the lowest one, and training stops early once every head has gone ``patience`` epochs without
        improving (``patience`` 0: never).
    progress : callable(epoch, epochs), optional
    on_epoch : callable(K EpochRecords), optional, after every epoch (beside ``progress``)
    outliers : (b, D) rows known to be out of scope, optional: trained on with an all-zero sigmoid
        target (outlier exposure), shuffled and mixed with the other rows
    scored_heads : only the first this many heads are scored on ``validation`` (the others' accuracies are
        NaN), for callers that keep only their histories (an ensemble keeps its first member's); None: all
    head_rows : K arrays of row indices, optional: head k trains on those rows only (and every outlier), as
        if alone on them (:func:`_head_rows`; :func:`~embaug_core.training.models.cross_fit`). None: all rows

    Returns
    -------
    (K heads (MLPHead, eval mode), K histories of EpochRecord), in the order of ``configs``
    """
    return _fit(
        embeddings,
        y,
        n_classes,
        configs,
        validation,
        monitor,
        lambda records: (
            (progress is not None and progress(records[0].epoch, records[0].epochs))
            or (on_epoch is not None and on_epoch(records))
        ),
        outliers,
        scored_heads,
        head_rows,
    )


def fit(
    embeddings,
    y,
    n_classes: int,
    config: TrainConfig,
    *,
    validation: tuple | None = None,
    monitor: tuple | None = None,
    progress: Callable[[EpochRecord], None] | None = None,
    outliers=None,
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
    monitor : (embeddings (m, D), y (m,)), optional; see :func:`fit_stacked`
    progress : callable(EpochRecord), optional
        Called after every epoch. Raising from it aborts training.
    outliers : (b, D) out-of-scope rows trained on with an all-zero target, optional; see :func:`fit_stacked`

    Returns
    -------
    (head on the training device in eval mode, history)
    """
    (head,), (history,) = _fit(
        embeddings,
        y,
        n_classes,
        [config],
        validation,
        monitor,
        lambda records: progress is not None and progress(records[0]),
        outliers,
    )
    return head, history
