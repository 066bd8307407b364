"""The optimiser and learning-rate schedule of a training run, and per-head learning rates for heads
trained together (:func:`~embaug_core.training.engine.fit_stacked`).

Why per-head rates: the auto recipe's learning-rate probes (:func:`~embaug_core.training.recipe.choose_lr`)
are one head at three peak rates. Trained one after another they are three runs; stacked, one. Every
optimiser here (AdamW, Adam, SGD with momentum) makes an update that is the learning rate times a
quantity that does not depend on it (Adam's moments, SGD's momentum buffer and the weight decay are
formed from the gradients and weights alone), so head k's update at rate ``s_k * lr`` is its update at
``lr`` times ``s_k``. :class:`HeadRates` applies that after each shared step: the heads are those trained
alone at their own rates, up to floating-point rounding (tests/test_stacked.py). The schedules scale the
same way when every head has the same ``lr_min / lr_max``, which :func:`head_rates` requires. None of
torch's optimisers takes a rate per slice of a parameter, hence this.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ..errors import ConfigError
from .config import TrainConfig

__all__ = ["optimizer_and_schedule", "HeadRates", "head_rates"]


def optimizer_and_schedule(params, config: TrainConfig, steps_per_epoch: int):
    """The optimiser of ``config`` and its learning-rate schedule, stepped after every batch.

    ``lr_schedule``: "cyclic" is the paper's triangular CyclicLR, one full cycle per
    ``lr_cycle_epochs`` epochs; "one_cycle" rises linearly from lr_min to lr_max over the
    first 30 % of all steps and falls linearly to lr_min / 100 at the last; "linear_decay"
    starts at lr_max and falls linearly to 0 at the last step. With ``fused`` (default) AdamW
    and Adam take torch's fused step (one kernel for all parameters; CPU and CUDA): the same
    update up to floating-point rounding.
    """
    fused = {"fused": True} if config.fused and config.optimizer != "sgd" else {}
    if config.optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=config.lr_min, weight_decay=config.weight_decay, **fused)
    elif config.optimizer == "adam":
        opt = torch.optim.Adam(params, lr=config.lr_min, weight_decay=config.weight_decay, **fused)
    else:
        opt = torch.optim.SGD(params, lr=config.lr_min, momentum=0.9, weight_decay=config.weight_decay)
    total = config.epochs * steps_per_epoch
    if config.lr_schedule == "cyclic":
        half_cycle = max(1, round(config.lr_cycle_epochs * steps_per_epoch / 2))
        sched = torch.optim.lr_scheduler.CyclicLR(
            opt,
            base_lr=config.lr_min,
            max_lr=config.lr_max,
            step_size_up=half_cycle,
            mode="triangular",
            cycle_momentum=config.optimizer == "sgd",
        )
    elif config.lr_schedule == "one_cycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt,
            max_lr=config.lr_max,
            total_steps=total + 1,
            pct_start=0.3,
            anneal_strategy="linear",
            div_factor=config.lr_max / config.lr_min,
            final_div_factor=100.0,
            cycle_momentum=False,
        )
    else:  # linear_decay
        for group in opt.param_groups:
            group["lr"] = config.lr_max
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: max(0.0, 1.0 - step / total))
    return opt, sched


class HeadRates:
    """Head k's learning rate is ``scales[k]`` times the shared optimiser's (stacked parameters, head k
    along the first axis). Use: :meth:`before` the optimiser step, :meth:`after` it."""

    def __init__(self, params: Sequence[torch.Tensor], scales: Sequence[float]):
        self.params = list(params)
        self.scales = torch.tensor(scales, dtype=torch.float32, device=self.params[0].device)
        self._old: list[torch.Tensor] = []

    def before(self) -> None:
        self._old = [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def after(self) -> None:
        for p, old in zip(self.params, self._old, strict=True):  # old + s_k * (new - old), head by head
            p.copy_(torch.lerp(old, p, self.scales.view(-1, *([1] * (p.dim() - 1)))))
        self._old = []

    def lr(self, base: float, k: int) -> float:
        """Head k's learning rate when the shared optimiser's is ``base``."""
        return base * float(self.scales[k])


def head_rates(configs: Sequence[TrainConfig]) -> list[float] | None:
    """Each head's peak learning rate over the first head's (None when they are all the same), for heads
    trained together; a ConfigError unless every head has the same ``lr_min / lr_max`` (the schedule's shape)."""
    ratios = [c.lr_min / c.lr_max for c in configs]
    if any(not math.isclose(r, ratios[0], rel_tol=1e-9) for r in ratios):
        shown = sorted({f"{r:.6g}" for r in ratios})
        raise ConfigError(f"heads trained together must share lr_min / lr_max (the schedule's shape); got {shown}.")
    scales = [c.lr_max / configs[0].lr_max for c in configs]
    return None if all(s == 1.0 for s in scales) else scales
