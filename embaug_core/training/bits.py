"""Uniform 15-bit integers from random words: the cheap Bernoulli masks of training (E-Stitchup's
coordinate mask, :func:`~embaug_core.training.augment.stitch_keep`, and dropout,
:func:`~embaug_core.training.heads.mlp_forward`).

Why: a mask needs one comparison per element, and drawing a float per element (``torch.rand``) is
most of its cost on a CPU. One 31-bit random word gives two 15-bit uniforms (bits 0-14 and 16-30),
so half as many draws are made. Measured on the 2-core CI machine, a dropout mask of 512 x 250:
496 us from floats, 238 us from words (a fifth of a training step's time went into dropout's floats
at the auto recipe's batch of 512). The price is a probability that is a multiple of 2**-15.
"""

from __future__ import annotations

import torch

__all__ = ["LEVELS", "uniform15", "dropout_keep"]

#: The number of values :func:`uniform15` takes (0 .. LEVELS - 1).
LEVELS = 2**15


def uniform15(rows: int, cols: int, *, generator: torch.Generator, device=None) -> torch.Tensor:
    """(rows, cols) int16, independent and uniform on [0, 2**15), drawn as rows x ceil(cols / 2) words."""
    words = torch.empty(rows, (cols + 1) // 2, dtype=torch.int32, device=device)
    words.random_(generator=generator)  # uniform on [0, 2**31): 31 random bits each
    # the low 15 bits of each 16-bit half, i.e. bits 0-14 and 16-30 of the word (either byte order)
    return words.view(torch.int16)[:, :cols] & 0x7FFF


def dropout_keep(rows: int, cols: int, p: float, *, generator: torch.Generator, device=None):
    """Dropout's keep mask (rows, cols) bool and the scale of the kept values: each element is dropped
    with probability ``round(p * 2**15) / 2**15`` (within 1.6e-5 of ``p``), and the scale is the inverse
    of the exact keep probability, so that the expected value is unchanged."""
    level = min(round(p * LEVELS), LEVELS - 1)  # p within 2**-16 of 1 drops all but 1 in 2**15
    return uniform15(rows, cols, generator=generator, device=device) >= level, LEVELS / (LEVELS - level)
