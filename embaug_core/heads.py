"""The classifier head of the paper (Sec. 3.3), built from a frozen config.

``Linear(D, 250) -> Dropout(0.3) -> ReLU -> Linear(250, 250) -> Dropout(0.3) -> ReLU ->
Linear(250, C)``, followed by an element-wise sigmoid ("binomial output") at prediction
time. The module returns *logits*; training uses ``BCEWithLogits`` (the numerically
stable form of sigmoid + binary cross-entropy).

Dropout masks and weight initialisation draw from an explicit ``torch.Generator``;
``nn.Dropout`` cannot take one, so dropout is applied functionally here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .errors import ConfigError

__all__ = ["HeadConfig", "MLPHead"]


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
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
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
        p = self.config.dropout
        for layer in self.layers[:-1]:
            x = layer(x)  # (B, H)
            if self.training and p > 0:
                if generator is None:
                    raise RuntimeError("MLPHead in training mode needs generator= for its dropout masks.")
                keep = torch.rand(x.shape, generator=generator, device=x.device) >= p
                x = x * keep / (1.0 - p)
            x = torch.relu(x)
        return self.layers[-1](x)

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
