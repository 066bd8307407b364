"""Embedding-level augmentations of the E-Stitchup paper, as pure tensor functions.

Every random draw takes an explicit ``torch.Generator``; nothing here touches the global
RNG (the dashboard trains for many sessions in one process).

Methods (:data:`METHODS`)
-------------------------
``control``          one-hot targets, no mixing
``soft_control``     softened one-hot targets, no mixing
``e_mixup``          x = lam * x_i + (1 - lam) * x_j ; y = lam * y_i + (1 - lam) * y_j
``e_stitchup``       x[d] = x_i[d] with probability lam, else x_j[d] ; y as in E-Mixup
``soft_e_mixup``     E-Mixup, then label softening of the mixed targets
``soft_e_stitchup``  E-Stitchup, then label softening of the mixed targets
``sk_mixup``         similarity-kernel mixup (Bouniot et al., "Tailoring Mixup to Data for
                     Calibration"): E-Mixup whose lam is warped by the pair's distance
``soft_sk_mixup``    the same, then label softening

``lam ~ Beta(alpha, alpha)`` is drawn anew for every pair; the partner ``j`` of row ``i``
is always a *different* row of the batch (see :func:`draw_partners`). Choices where the
paper is silent: the mixed batch *replaces* the clean batch (as in Mixup), and softening
is applied after mixing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..errors import ConfigError
from .bits import uniform15

__all__ = [
    "Method",
    "METHODS",
    "METHOD_NAMES",
    "PAPER_METHODS",
    "AUTO_METHODS",
    "get_method",
    "kernel_warp",
    "sk_mixup",
    "sample_beta",
    "draw_partners",
    "mix_pairs",
    "stitch_pairs",
    "stitch_keep",
    "e_mixup",
    "e_stitchup",
    "soften_labels",
    "augment_batch",
]


@dataclass(frozen=True)
class Method:
    """One training method: how pairs are mixed and whether targets are softened."""

    name: str
    mixing: str  # "none" | "mixup" | "stitchup" | "kernel"
    soft: bool
    title: str

    @property
    def uses_alpha(self) -> bool:
        return self.mixing != "none"

    @property
    def uses_softness(self) -> bool:
        return self.soft


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("control", "none", False, "Control"),
        Method("soft_control", "none", True, "Soft Control"),
        Method("e_mixup", "mixup", False, "E-Mixup"),
        Method("e_stitchup", "stitchup", False, "E-Stitchup"),
        Method("soft_e_mixup", "mixup", True, "Soft E-Mixup"),
        Method("soft_e_stitchup", "stitchup", True, "Soft E-Stitchup"),
        Method("sk_mixup", "kernel", False, "SK-Mixup"),
        Method("soft_sk_mixup", "kernel", True, "Soft SK-Mixup"),
    )
}
#: The paper's six methods (the default of experiments and of the dashboard).
PAPER_METHODS: tuple[str, ...] = ("control", "soft_control", "e_mixup", "e_stitchup", "soft_e_mixup", "soft_e_stitchup")
METHOD_NAMES: tuple[str, ...] = tuple(METHODS)
#: What the "auto" method chooses from by default: the methods without label softening. Measured on
#: StackOverflow, 10 %, 5 trials: with the softened methods among the candidates "auto" picked them in
#: every trial (validation T about 0.3) and reached ECE 0.159 on the evaluation rows; without them
#: 0.066 (docs/results.md, "The auto method against its peers"). The likely cause, not isolated: a softened head's
#: off-class targets are 1 / (C - 1), so its logit scale depends on the number of classes, and the
#: temperature fitted on the validation head (15 known topics, 10 of them in the validation head)
#: does not carry over to the final head. Pass the methods to include them.
AUTO_METHODS: tuple[str, ...] = ("control", "e_mixup", "e_stitchup")


def get_method(name: str) -> Method:
    """Look a method up by name, with an error listing the valid names."""
    try:
        return METHODS[name]
    except KeyError:
        raise ConfigError(f"unknown method {name!r}; choose one of {', '.join(METHOD_NAMES)}.") from None


def _sample_gamma_log(shape: float, n: int, *, generator: torch.Generator, device, dtype) -> torch.Tensor:
    """log of Gamma(shape, 1) samples, shape (n,), Marsaglia & Tsang (2000).

    For ``shape < 1`` the boost ``G(a) = G(a + 1) * U**(1/a)`` is applied in log space so
    that tiny ``alpha`` never underflows to ``0/0`` when forming a Beta variate.
    """
    a = shape + 1.0 if shape < 1.0 else shape
    d = a - 1.0 / 3.0
    c = 1.0 / (9.0 * d) ** 0.5
    out = torch.empty(n, device=device, dtype=torch.float64)
    filled = 0
    while filled < n:
        m = int((n - filled) * 1.1) + 16  # acceptance rate is > 95 % for a >= 1
        z = torch.randn(m, generator=generator, device=device, dtype=torch.float64)
        u = torch.rand(m, generator=generator, device=device, dtype=torch.float64)
        v = (1.0 + c * z) ** 3
        ok = (v > 0) & (torch.log(u.clamp_min(1e-300)) < 0.5 * z * z + d - d * v + d * torch.log(v.clamp_min(1e-300)))
        accepted = torch.log(d * v[ok])
        take = min(n - filled, accepted.numel())
        out[filled : filled + take] = accepted[:take]
        filled += take
    if shape < 1.0:
        u = torch.rand(n, generator=generator, device=device, dtype=torch.float64)
        out = out + torch.log(u.clamp_min(1e-300)) / shape
    return out.to(dtype)


def sample_beta(alpha: float, n: int, *, generator: torch.Generator, device=None, dtype=torch.float32) -> torch.Tensor:
    """Draw ``n`` values of lam ~ Beta(alpha, alpha), shape (n,).

    ``torch.distributions.Beta`` cannot take a generator, so the variate is built from
    two Gamma draws, ``lam = X / (X + Y)`` with ``X, Y ~ Gamma(alpha)``, computed as
    ``sigmoid(log X - log Y)`` for numerical safety at small ``alpha``.
    """
    if not (alpha > 0 and math.isfinite(alpha)):  # inf would loop forever in the Gamma sampler
        raise ConfigError(f"alpha must be a finite number > 0 for Beta(alpha, alpha); got {alpha}.")
    device = device if device is not None else generator.device
    log_x = _sample_gamma_log(alpha, n, generator=generator, device=device, dtype=torch.float64)
    log_y = _sample_gamma_log(alpha, n, generator=generator, device=device, dtype=torch.float64)
    return torch.sigmoid(log_x - log_y).to(dtype)


def draw_partners(n: int, *, generator: torch.Generator, device=None) -> torch.Tensor:
    """A random partner for every row, never the row itself; shape (n,), int64.

    Rows are put in random order and each is paired with the next one in that order
    (a random cyclic derangement), so ``partner[i] != i`` for every ``i`` when n >= 2.
    """
    if n < 2:
        raise ConfigError(f"mixing needs at least 2 rows in a batch; got {n}.")
    device = device if device is not None else generator.device
    order = torch.randperm(n, generator=generator, device=device)  # (n,)
    partner = torch.empty_like(order)
    partner[order] = torch.roll(order, -1)
    return partner


def mix_pairs(
    x: torch.Tensor, y: torch.Tensor, partner: torch.Tensor, lam: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """E-Mixup with given partners and weights (deterministic).

    Parameters
    ----------
    x : (B, D) embeddings;  y : (B, C) targets;  partner : (B,) int;  lam : (B,)

    Returns
    -------
    (lam * x + (1 - lam) * x[partner], lam * y + (1 - lam) * y[partner])
    """
    lam_col = lam.to(x.dtype).unsqueeze(1)  # (B, 1)
    x_mix = torch.lerp(x[partner], x, lam_col)  # (B, D)
    y_mix = torch.lerp(y[partner], y, lam_col.to(y.dtype))  # (B, C)
    return x_mix, y_mix


def stitch_pairs(
    x: torch.Tensor, y: torch.Tensor, partner: torch.Tensor, lam: torch.Tensor, keep: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """E-Stitchup with given partners, weights and coordinate mask (deterministic).

    ``keep`` (B, D) bool: True takes the coordinate from ``x``, False from ``x[partner]``.
    Targets are mixed with ``lam`` exactly as in :func:`mix_pairs`.
    """
    # lerp with a 0/1 weight is exact (torch computes it as b - (b - a) * (1 - w) for w >= 0.5) and,
    # with the mask read as bytes, 5x faster on a CPU than torch.where on a bool mask
    x_st = torch.lerp(x[partner], x, keep.view(torch.uint8).to(x.dtype))  # (B, D)
    lam_col = lam.to(y.dtype).unsqueeze(1)
    y_mix = torch.lerp(y[partner], y, lam_col)  # (B, C)
    return x_st, y_mix


def e_mixup(
    x: torch.Tensor, y: torch.Tensor, *, alpha: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """E-Mixup of a batch: random partners, lam ~ Beta(alpha, alpha) per pair.

    x : (B, D), y : (B, C) -> mixed (B, D), (B, C)
    """
    partner = draw_partners(x.shape[0], generator=generator, device=x.device)
    lam = sample_beta(alpha, x.shape[0], generator=generator, device=x.device)
    return mix_pairs(x, y, partner, lam)


def stitch_keep(lam: torch.Tensor, dim: int, *, generator: torch.Generator, mask: str = "per_row") -> torch.Tensor:
    """The coordinate mask of E-Stitchup: (B, dim) bool, True where row i keeps its own coordinate.

    ``mask="per_row"``: every coordinate of every row is an independent Bernoulli(lam_i). It is
    drawn from random bits, not from floats (:func:`~embaug_core.training.bits.uniform15`): 15-bit
    uniforms compared with ``floor(lam_i * 2**15)``; drawing half as many words as
    coordinates makes the mask cost less than the first layer's matrix product (on a 3,328-wide
    input, batch 256: 1.5 ms against 2.0 ms; ``torch.rand(B, D) < lam`` was 3.6 ms). The price is
    a keep-probability rounded down to a multiple of 2**-15 (an error below 3.1e-5).
    ``mask="shared"``: one uniform vector u (dim,) per batch, coordinate d of row i kept when
    ``u_d < lam_i``: within each row the coordinates are still independent Bernoulli(lam_i), so
    every stitched row has exactly the per-row distribution; only rows of the same batch become
    correlated. It draws dim instead of B x dim random numbers.

    lam : (B,) in [0, 1]  ->  (B, dim) bool
    """
    lam_col = lam.unsqueeze(1)  # (B, 1)
    if mask == "shared":
        return torch.rand(dim, generator=generator, device=lam.device) < lam_col
    if mask != "per_row":
        raise ConfigError(f"stitch mask must be 'per_row' or 'shared'; got {mask!r}.")
    halves = uniform15(lam.shape[0], dim, generator=generator, device=lam.device)  # (B, dim) in [0, 2**15)
    # keep when halves < floor(lam * 2**15), written as <= that minus 1 so that lam = 1 (2**15) fits int16
    last_kept = (torch.floor(lam_col.double() * 2**15) - 1).to(torch.int16)  # (B, 1) in [-1, 2**15 - 1]
    return halves <= last_kept


def e_stitchup(
    x: torch.Tensor, y: torch.Tensor, *, alpha: float, generator: torch.Generator, mask: str = "per_row"
) -> tuple[torch.Tensor, torch.Tensor]:
    """E-Stitchup of a batch: each coordinate kept from row i with probability lam_i.

    The mask is :func:`stitch_keep`'s (``mask``: "per_row" or "shared").
    x : (B, D), y : (B, C) -> stitched (B, D), mixed targets (B, C)
    """
    partner = draw_partners(x.shape[0], generator=generator, device=x.device)
    lam = sample_beta(alpha, x.shape[0], generator=generator, device=x.device)
    keep = stitch_keep(lam, x.shape[1], generator=generator, mask=mask)
    return stitch_pairs(x, y, partner, lam, keep)


def kernel_warp(lam: torch.Tensor, dist: torch.Tensor, *, tau_max: float = 1.0, tau_std: float = 0.5) -> torch.Tensor:
    """Warp mixing weights by pair distance (similarity-kernel mixup).

    ``w = 1 / (tau_max * exp(-(d / mean(d) - 1) / (2 tau_std^2)))`` per pair, then
    ``lam' = BetaCDF(lam; w, w)``. Close pairs (small d) get w < 1, which pulls lam' towards
    0.5 (strong mixing); distant pairs get w > 1, which pushes lam' towards 0 or 1 (little
    mixing). With ``tau_std = inf`` and ``tau_max = 1`` every w is 1, the CDF is the
    identity and the method is E-Mixup exactly. Parameters follow the torch-uncertainty
    reference implementation (``kernel_tau_max``, ``kernel_tau_std``).

    lam : (B,) in [0, 1];  dist : (B,) squared distances >= 0  ->  (B,)
    """
    import numpy as np
    from scipy.special import betainc

    d = dist.detach().double().cpu().numpy()
    mean = d.mean()
    rel = d / mean if mean > 0 else np.ones_like(d)
    with np.errstate(over="ignore"):
        rate = (
            tau_max * np.exp(-(rel - 1.0) / (2.0 * tau_std * tau_std))
            if np.isfinite(tau_std)
            else np.full_like(d, tau_max)
        )
    w = np.clip(1.0 / np.maximum(rate, 1e-12), 1e-6, 1e6)
    warped = betainc(w, w, lam.detach().double().cpu().numpy())
    return torch.as_tensor(warped, dtype=lam.dtype, device=lam.device)


def sk_mixup(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    alpha: float,
    generator: torch.Generator,
    tau_max: float = 1.0,
    tau_std: float = 0.5,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Similarity-kernel mixup of a batch: E-Mixup with lam warped by :func:`kernel_warp`.

    Distances are squared Euclidean distances between the paired embeddings.
    x : (B, D), y : (B, C) -> mixed (B, D), (B, C)
    """
    partner = draw_partners(x.shape[0], generator=generator, device=x.device)
    lam = sample_beta(alpha, x.shape[0], generator=generator, device=x.device)
    dist = ((x - x[partner]) ** 2).sum(dim=1)  # (B,)
    return mix_pairs(x, y, partner, kernel_warp(lam, dist, tau_max=tau_max, tau_std=tau_std))


def soften_labels(targets: torch.Tensor, softness: float, *, mass: float = 1.0) -> torch.Tensor:
    """Label softening of the paper (Sec. 2.4), row by row.

    For each row: every class with a non-zero target loses ``softness`` (clamped at 0);
    a total of ``mass`` is spread evenly over the classes whose target was zero. Rows
    with no zero-target class only lose ``softness``. Targets need not sum to one: the
    head has sigmoid outputs.

    Parameters
    ----------
    targets : (B, C) tensor with values in [0, 1]
    softness : float in [0, 1]
    mass : float in [0, 1], default 1.0 (the paper's "a total probability of one"). Capped
        at 1 so that no target can exceed 1: with a single zero-target class it gets the
        whole mass, and a sigmoid target above 1 has no meaning.

    Returns
    -------
    (B, C) tensor with values in [0, 1]; ``soften_labels(t, 0, mass=0)`` is ``t``.
    """
    if not (0 <= softness <= 1 and 0 <= mass <= 1):
        raise ConfigError(f"softness and mass must be in [0, 1]; got softness={softness}, mass={mass}.")
    nonzero = targets > 0  # (B, C)
    n_zero = (~nonzero).sum(dim=1, keepdim=True)  # (B, 1)
    share = torch.where(
        n_zero > 0, mass / n_zero.clamp_min(1).to(targets.dtype), torch.zeros_like(n_zero, dtype=targets.dtype)
    )
    return torch.where(nonzero, (targets - softness).clamp_min(0.0), share.expand_as(targets))


def augment_batch(
    method: Method | str,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    alpha: float,
    softness: float,
    mass: float = 1.0,
    generator: torch.Generator,
    kernel_tau_max: float = 1.0,
    kernel_tau_std: float = 0.5,
    stitch_mask: str = "per_row",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply ``method`` to a clean batch x (B, D), one-hot y (B, C)."""
    method = get_method(method) if isinstance(method, str) else method
    if method.mixing == "mixup" and x.shape[0] >= 2:
        x, y = e_mixup(x, y, alpha=alpha, generator=generator)
    elif method.mixing == "kernel" and x.shape[0] >= 2:
        x, y = sk_mixup(x, y, alpha=alpha, generator=generator, tau_max=kernel_tau_max, tau_std=kernel_tau_std)
    elif method.mixing == "stitchup" and x.shape[0] >= 2:
        x, y = e_stitchup(x, y, alpha=alpha, generator=generator, mask=stitch_mask)
    if method.soft:
        y = soften_labels(y, softness, mass=mass)
    return x, y
