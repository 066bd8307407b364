"""Each head's random draws for an epoch, and its augmented batches: the per-step data side of
:mod:`embaug_core.training.engine`.

A head's row order, batch-local partners and Beta weights for a whole epoch are drawn before its
first step (:class:`EpochPlan`), from its own generator; per step only the stitch mask is drawn
(:func:`~embaug_core.training.augment.stitch_keep`, cheaper than the first layer's matrix product).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .augment import kernel_warp, mix_pairs, sample_beta, soften_labels, stitch_keep, stitch_pairs
from .config import TrainConfig

__all__ = ["EpochPlan", "augmented_batch"]


@dataclass(frozen=True, eq=False)
class EpochPlan:
    """One head's random draws for a whole epoch, made before its first step.

    order : (n,) the epoch's row order; batch b is ``order[lo:hi]``
    partner : (n,) for mixing methods, the batch-local position of each position's partner
        (a random cyclic derangement within every batch, as :func:`~embaug_core.training.augment.draw_partners`)
    lam : (n,) for mixing methods, Beta(alpha, alpha) weights, one per position
    """

    order: torch.Tensor
    partner: torch.Tensor | None
    lam: torch.Tensor | None

    @classmethod
    def draw(
        cls, n: int, bounds, method, config: TrainConfig, generator: torch.Generator, device, rows=None
    ) -> EpochPlan:
        """The plan of an epoch of ``n`` positions; ``rows`` (m >= n,) restricts it to those rows: the first
        ``n`` of them in a random order (with n = m, the same draws as a head trained alone on ``x[rows]``)."""
        if rows is None:
            order = torch.randperm(n, generator=generator, device=device)
        else:
            order = rows[torch.randperm(len(rows), generator=generator, device=device)[:n]]
        if method.mixing == "none":
            return cls(order, None, None)
        keys = torch.rand(n, generator=generator, device=device)  # sorting them orders every batch at random
        partner = torch.empty(n, dtype=torch.int64, device=device)
        sizes = {hi - lo for lo, hi in bounds}
        full = bounds[0][1] - bounds[0][0]
        n_full = sum(1 for lo, hi in bounds if hi - lo == full) if len(sizes) > 1 else len(bounds)
        spans = [(0, n_full * full, full)] + [(lo, hi, hi - lo) for lo, hi in bounds[n_full:]]
        for lo, hi, size in spans:  # the equal-size batches at once, then the one odd last batch
            perm = torch.argsort(keys[lo:hi].view(-1, size), dim=1)  # (batches, size)
            local = torch.empty_like(perm)
            local.scatter_(1, perm, perm.roll(-1, dims=1))
            partner[lo:hi] = local.reshape(-1)
        lam = sample_beta(config.alpha, n, generator=generator, device=device)
        return cls(order, partner, lam)


def augmented_batch(x, targets, plans, lo, hi, methods, configs, gens) -> tuple[torch.Tensor, torch.Tensor]:
    """Each head's batch ``lo:hi`` of its epoch plan, augmented with its own method: (K, B, D), (K, B, C);
    with ``regmixup`` (shared by the heads) the clean rows come first, then the augmented: (K, 2B, ...)."""
    xs, ys = [], []
    for plan, method, c, g in zip(plans, methods, configs, gens, strict=True):
        rows = plan.order[lo:hi]
        xb, yb = x[rows], targets[rows]
        clean = (xb, yb) if c.regmixup else None
        if method.mixing != "none":
            partner, lam = plan.partner[lo:hi], plan.lam[lo:hi]
            if method.mixing == "mixup":
                xb, yb = mix_pairs(xb, yb, partner, lam)
            elif method.mixing == "stitchup":
                xb, yb = stitch_pairs(
                    xb, yb, partner, lam, stitch_keep(lam, xb.shape[1], generator=g, mask=c.stitch_mask)
                )
            else:  # kernel
                dist = ((xb - xb[partner]) ** 2).sum(dim=1)
                lam = kernel_warp(lam, dist, tau_max=c.kernel_tau_max, tau_std=c.kernel_tau_std)
                xb, yb = mix_pairs(xb, yb, partner, lam)
        if clean is not None:  # RegMixup: the clean rows, then the augmented ones, in one batch of 2B rows
            xb, yb = torch.cat([clean[0], xb]), torch.cat([clean[1], yb])
        if method.soft:  # an outlier's all-zero target (outlier exposure) stays all-zero
            outlier = yb.sum(dim=1, keepdim=True) == 0
            yb = torch.where(outlier, yb, soften_labels(yb, c.softness, mass=c.soft_mass))
        xs.append(xb)
        ys.append(yb)
    if len(xs) == 1:  # one head: a view, not a copy
        return xs[0].unsqueeze(0), ys[0].unsqueeze(0)
    return torch.stack(xs), torch.stack(ys)
