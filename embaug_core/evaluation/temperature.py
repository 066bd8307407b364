"""Post-hoc temperature scaling (Guo et al. 2017): :func:`fit_temperature`, :func:`apply_temperature`.

One scalar T > 0 divides the logits, chosen to minimise the negative log-likelihood of held-out
rows *of the model that T will scale* (never of another model). For a sigmoid head the likelihood
is the summed binary cross-entropy against the one-hot target, and "none" rows count with an
all-zero target, exactly as :func:`~embaug_core.evaluation.metrics.negative_log_likelihood` scores
them. For a softmax model (logistic regression) it is the cross-entropy, which a "none" row cannot
have (no class is right), so those rows are left out there. T is found by golden-section search on
log T in [1e-2, 1e2]: deterministic, no RNG.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError, EmbaugError
from .metrics import NONE, sigmoid, softmax

__all__ = ["fit_temperature", "apply_temperature"]


def _nll(logits: np.ndarray, y: np.ndarray, kind: str, w=None) -> float:
    """Mean NLL of logits (n, C) against y (n,), weighted by ``w`` (n,) when given; sigmoid: NONE rows have an
    all-zero target; top_label: the binary cross-entropy of the top sigmoid output against "the top class is
    right" (NONE rows: never)."""
    if kind == "top_label":
        top = logits.max(1)
        right = (logits.argmax(1) == y) & (y != NONE)
        return float(np.average(np.maximum(top, 0) - top * right + np.log1p(np.exp(-np.abs(top))), weights=w))
    if kind == "sigmoid":
        t = np.zeros_like(logits)
        known = y != NONE
        t[np.flatnonzero(known), y[known]] = 1.0
        # BCE with logits, numerically stable: max(z, 0) - z t + log(1 + exp(-|z|))
        per_row = (np.maximum(logits, 0) - logits * t + np.log1p(np.exp(-np.abs(logits)))).sum(1)
        return float(np.average(per_row, weights=w))
    z = logits - logits.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    return float(np.average(-logp[np.arange(len(y)), y], weights=w))


def fit_temperature(logits, y, *, kind: str = "sigmoid", bounds=(1e-2, 1e2), iters: int = 80, weights=None) -> float:
    """Temperature T minimising the NLL of ``logits / T`` on held-out rows of the same model.

    Parameters
    ----------
    logits : (n, C) array of the model that T will scale
    y : (n,) class indices or :data:`~embaug_core.evaluation.metrics.NONE`
    kind : "sigmoid" (binary cross-entropy per class; NONE rows count with an all-zero
        target), "softmax" (cross-entropy; NONE rows have no class and are left out) or "top_label"
        (binary cross-entropy of the top sigmoid output, the confidence, against "the top class is right";
        NONE rows are never right: :func:`~embaug_core.evaluation.metrics.top_label_nll`)
    weights : (n,) non-negative row weights of the NLL's mean, optional (the auto recipe's ``none_share``)
    """
    if kind not in ("sigmoid", "softmax", "top_label"):
        raise ConfigError(f"kind must be 'sigmoid', 'softmax' or 'top_label'; got {kind!r}.")
    logits = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y)
    use = np.ones(len(y), dtype=bool) if kind in ("sigmoid", "top_label") else y != NONE
    if not use.any():
        raise EmbaugError("temperature scaling needs held-out rows of known classes; there are none.")
    z, t = logits[use], y[use]
    w = None if weights is None else np.asarray(weights, dtype=np.float64)[use]
    lo, hi = math.log(bounds[0]), math.log(bounds[1])
    g = (math.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = _nll(z / math.exp(a), t, kind, w), _nll(z / math.exp(b), t, kind, w)
    for _ in range(iters):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = _nll(z / math.exp(a), t, kind, w)
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = _nll(z / math.exp(b), t, kind, w)
    return float(math.exp((lo + hi) / 2))


def apply_temperature(logits, temperature: float, *, kind: str = "sigmoid") -> np.ndarray:
    """Probabilities (n, C), float64, of ``logits / temperature`` (sigmoid or softmax)."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    return sigmoid(z) if kind == "sigmoid" else softmax(z)
