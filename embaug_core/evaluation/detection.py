"""Scores of a model's outputs that are *higher for "none"*, and how well a score tells "none" apart.

* :func:`max_prob_none_score` — 1 - the top probability (the paper's);
* :func:`energy_none_score` — the energy of the logits, in the form that matches the model's
  output layer;
* :func:`knn_none_score` — the cosine distance to the k-th nearest training embedding;
* :func:`none_detection` — the AUROC / AUPR of any such score for telling "none" rows from ID rows.

The fitted score family saved with a head (percentiles, Mahalanobis, the fused score) is
:mod:`embaug_core.evaluation.scores`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..jsonio import nan_to_none
from .metrics import NONE

__all__ = [
    "NoneDetection",
    "max_prob_none_score",
    "energy_none_score",
    "knn_none_score",
    "none_detection",
    "separation_auroc",
]


@dataclass(frozen=True)
class NoneDetection:
    """How well a score tells "none" rows (positive) from ID rows: AUROC and AUPR, NaN without both groups."""

    auroc: float
    aupr: float

    def to_dict(self) -> dict:
        return {"auroc": nan_to_none(self.auroc), "aupr": nan_to_none(self.aupr)}

    @classmethod
    def from_dict(cls, d: dict) -> NoneDetection:
        return cls(*(float("nan") if d[k] is None else d[k] for k in ("auroc", "aupr")))


def max_prob_none_score(probs) -> np.ndarray:
    """1 - max probability (higher = more likely "none")."""
    return 1.0 - np.asarray(probs).max(1)


def energy_none_score(logits, *, kind: str = "sigmoid") -> np.ndarray:
    """Energy of the logits (n, C) per row, (n,); higher = more likely "none".

    The form follows the model's output layer:

    * ``"sigmoid"`` (embaug's heads): each output is a binary classifier with logits
      (0, z_c), whose free energy is ``-log(1 + exp(z_c))``; the joint energy of the C
      independent outputs is their sum, ``E = -sum_c softplus(z_c)`` (Wang et al. 2021,
      "Can multi-label classification networks know what they don't know?").
    * ``"softmax"`` (logistic regression): ``E = -logsumexp(z)`` (Liu et al. 2020).
    """
    z = np.asarray(logits, dtype=np.float64)
    if kind == "sigmoid":
        return -(np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))).sum(1)
    if kind != "softmax":
        raise ConfigError(f"kind must be 'sigmoid' or 'softmax'; got {kind!r}.")
    m = z.max(1, keepdims=True)
    return -(m[:, 0] + np.log(np.exp(z - m).sum(1)))


def knn_none_score(train_embeddings, embeddings, *, k: int = 10, batch_size: int = 4096) -> np.ndarray:
    """Cosine distance to the k-th nearest training embedding (higher = more likely "none")."""
    train = np.asarray(train_embeddings, dtype=np.float32)
    x = np.asarray(embeddings, dtype=np.float32)
    k = max(1, min(k, len(train)))
    train = train / np.maximum(np.linalg.norm(train, axis=1, keepdims=True), 1e-12)
    out = np.empty(len(x))
    for i in range(0, len(x), batch_size):
        q = x[i : i + batch_size]
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        sims = q @ train.T  # (b, n_train)
        kth = np.partition(-sims, k - 1, axis=1)[:, k - 1]  # -(k-th largest similarity)
        out[i : i + batch_size] = 1.0 + kth
    return out


def none_detection(y, none_score) -> NoneDetection:
    """AUROC and AUPR of ``none_score`` for telling "none" rows (positive) from ID rows."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    is_none = np.asarray(y) == NONE
    if is_none.all() or not is_none.any():
        return NoneDetection(float("nan"), float("nan"))
    score = np.asarray(none_score, dtype=np.float64)
    return NoneDetection(float(roc_auc_score(is_none, score)), float(average_precision_score(is_none, score)))


def separation_auroc(known: np.ndarray, none: np.ndarray) -> float:
    """AUROC of a none score for telling the "none" rows' scores ``none`` (b,) from the known rows' ``known`` (a,)."""
    from sklearn.metrics import roc_auc_score

    y = np.r_[np.zeros(len(known)), np.ones(len(none))]
    return float(roc_auc_score(y, np.r_[known, none]))
