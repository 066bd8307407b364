"""The classifier head of the paper (Sec. 3.3), built from a frozen config.

``Linear(D, 250) -> Dropout(0.3) -> ReLU -> Linear(250, 250) -> Dropout(0.3) -> ReLU ->
Linear(250, C)``, followed by an element-wise sigmoid ("binomial output") at prediction
time. The module returns *logits*; training uses ``BCEWithLogits`` (the numerically
stable form of sigmoid + binary cross-entropy).

Dropout masks and weight initialisation draw from an explicit ``torch.Generator``;
``nn.Dropout`` cannot take one, so dropout is applied functionally here.

One forward pass, :func:`mlp_forward`, serves every path: :class:`MLPHead` (one head,
inference and single-head use) and :class:`StackedMLP` (K heads trained together as
batched matrix products, the training engine's model).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ConfigError
from .bits import dropout_keep

__all__ = ["HeadConfig", "MLPHead", "StackedMLP", "mlp_forward"]


@dataclass(frozen=True)
class HeadConfig:
    """Shape of the MLP head.

    Attributes
    ----------
    hidden : tuple of int, default (250, 250)
    dropout : float in [0, 1), default 0.3
    """

    hidden: tuple[int, ...] = (250, 250)
    dropout: float = 0.3

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if any(h < 1 for h in self.hidden):
            raise ConfigError(f"hidden layer sizes must be >= 1; got {self.hidden}.")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1); got {self.dropout}.")


def mlp_forward(h: torch.Tensor, weights, biases, *, dropout: float = 0.0, generators=None) -> torch.Tensor:
    """Logits of the MLP: ``Linear -> Dropout -> ReLU`` per hidden layer, then ``Linear``.

    Parameters
    ----------
    h : (B, D) for one head, or (K, B, D) for K heads
    weights : per layer (in, out), or (K, in, out)
    biases : per layer (out,), or (K, 1, out)
    dropout : drop probability of the hidden layers; applied only when ``generators`` is given
    generators : None (no dropout), or one ``torch.Generator`` per head (K, or 1 for 2-D ``h``).
        Head k's mask is drawn from generator k with shape (B, H), layer by layer, in the
        same order for one head and for K heads, so stacking does not change the draws; it is
        made from random bits (:func:`~embaug_core.training.bits.dropout_keep`: a drop probability
        within 1.6e-5 of ``dropout``, the kept values scaled by the inverse of the exact keep probability).

    Returns
    -------
    (B, C) or (K, B, C) logits
    """
    last = len(weights) - 1
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        h = torch.baddbmm(b, h, w) if h.dim() == 3 else torch.addmm(b, h, w)  # (K, B, out) / (B, out)
        if i < last:
            if generators is not None and dropout > 0:
                masks = [dropout_keep(*h.shape[-2:], dropout, generator=g, device=h.device) for g in generators]
                keep = torch.stack([m for m, _ in masks])
                h = h * (keep if h.dim() == 3 else keep[0]) * masks[0][1]
            h = torch.relu(h)
    return h


class MLPHead(nn.Module):
    """Fully connected head: input (B, D) -> logits (B, C).

    Parameters
    ----------
    input_dim : int
    n_classes : int
    config : HeadConfig
    generator : torch.Generator, optional
        Used for the initial weights (PyTorch's default scheme: Kaiming-uniform weights,
        uniform biases in +-1/sqrt(fan_in)). Without one the weights are left as
        ``nn.Linear`` made them (useful only before :meth:`load_state_dict`).
    """

    def __init__(self, input_dim: int, n_classes: int, config: HeadConfig = HeadConfig(), *, generator=None):
        super().__init__()
        if input_dim < 1 or n_classes < 1:
            raise ConfigError(f"input_dim and n_classes must be >= 1; got {input_dim}, {n_classes}.")
        self.config = config
        sizes = (input_dim, *config.hidden, n_classes)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        if generator is not None:
            self.reset_parameters(generator)

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator) -> None:
        for layer in self.layers:
            nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            bound = 1.0 / math.sqrt(layer.in_features)
            nn.init.uniform_(layer.bias, -bound, bound, generator=generator)

    def forward(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Logits (B, C). In training mode with dropout > 0 a ``generator`` is required."""
        drops = self.training and self.config.dropout > 0
        if drops and generator is None:
            raise RuntimeError("MLPHead in training mode needs generator= for its dropout masks.")
        return mlp_forward(
            x,
            [layer.weight.t() for layer in self.layers],
            [layer.bias for layer in self.layers],
            dropout=self.config.dropout,
            generators=[generator] if drops else None,
        )

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor, *, batch_size: int = 8192) -> torch.Tensor:
        """Sigmoid outputs (B, C) in eval mode, in batches."""
        was_training = self.training
        self.eval()
        try:
            parts = [torch.sigmoid(self(x[i : i + batch_size])) for i in range(0, x.shape[0], batch_size)]
        finally:
            self.train(was_training)
        if not parts:
            return torch.empty(0, self.layers[-1].out_features, device=x.device)
        return torch.cat(parts)


class StackedMLP(nn.Module):
    """K heads of the same shape as one module: weights (K, in, out), biases (K, 1, out).

    Built from K :class:`MLPHead` s (their initial weights are copied), trained as batched
    matrix products, and written back with :meth:`write_back`.
    """

    def __init__(self, heads: list[MLPHead]):
        super().__init__()
        self.dropout = heads[0].config.dropout
        n_layers = len(heads[0].layers)
        self.weights = nn.ParameterList(
            nn.Parameter(torch.stack([h.layers[i].weight.detach().t() for h in heads]).contiguous())
            for i in range(n_layers)
        )
        self.biases = nn.ParameterList(
            nn.Parameter(torch.stack([h.layers[i].bias.detach() for h in heads]).unsqueeze(1).contiguous())
            for i in range(n_layers)
        )

    def forward(self, h: torch.Tensor, *, generators=None) -> torch.Tensor:
        """(K, B, D) -> logits (K, B, C); dropout only with ``generators`` (one per head)."""
        return mlp_forward(h, list(self.weights), list(self.biases), dropout=self.dropout, generators=generators)

    @torch.no_grad()
    def write_back(self, heads: list[MLPHead]) -> list[MLPHead]:
        """Copy head k's trained weights into ``heads[k]`` and put them in eval mode."""
        for k, head in enumerate(heads):
            for i, layer in enumerate(head.layers):
                layer.weight.copy_(self.weights[i][k].t())
                layer.bias.copy_(self.biases[i][k, 0])
            head.eval()
        return heads
