"""Peers the augmented heads must beat, and other "none" scores.

* :func:`fit_temperature` — post-hoc temperature scaling (Guo et al. 2017): one scalar
  T > 0 dividing the logits, chosen to minimise the negative log-likelihood of held-out
  rows *of the model that T will scale* (never of another model). For a sigmoid head the
  likelihood is the summed binary cross-entropy against the one-hot target, and "none"
  rows count with an all-zero target, exactly as :func:`~embaug_core.metrics.negative_log_likelihood`
  scores them. For a softmax model (logistic regression) it is the cross-entropy, which a
  "none" row cannot have (no class is right), so those rows are left out there. T is
  found by golden-section search on log T in [1e-2, 1e2]: deterministic, no RNG.
* :class:`LogisticRegressionBaseline` — scikit-learn multinomial logistic regression on
  the same embeddings (standardised), a strong, cheap peer.
* :func:`energy_none_score`, :func:`knn_none_score` — scores that are *higher for
  "none"*: the energy of the logits in the form that matches the model's output (see
  :func:`energy_none_score`) and the cosine distance to the k-th nearest training
  embedding. :func:`none_detection` gives the AUROC
  / AUPR of any such score for telling "none" rows from ID rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import ConfigError, EmbaugError
from .metrics import NONE, sigmoid, softmax

__all__ = [
    "fit_temperature",
    "apply_temperature",
    "LogisticRegressionBaseline",
    "energy_none_score",
    "knn_none_score",
    "max_prob_none_score",
    "none_detection",
]


def _nll(logits: np.ndarray, y: np.ndarray, kind: str) -> float:
    """Mean NLL of logits (n, C) against y (n,); sigmoid: NONE rows have an all-zero target."""
    if kind == "sigmoid":
        t = np.zeros_like(logits)
        known = y != NONE
        t[np.flatnonzero(known), y[known]] = 1.0
        # BCE with logits, numerically stable: max(z, 0) - z t + log(1 + exp(-|z|))
        return float((np.maximum(logits, 0) - logits * t + np.log1p(np.exp(-np.abs(logits)))).sum(1).mean())
    z = logits - logits.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    return float(-logp[np.arange(len(y)), y].mean())


def fit_temperature(logits, y, *, kind: str = "sigmoid", bounds=(1e-2, 1e2), iters: int = 80) -> float:
    """Temperature T minimising the NLL of ``logits / T`` on held-out rows of the same model.

    Parameters
    ----------
    logits : (n, C) array of the model that T will scale
    y : (n,) class indices or :data:`~embaug_core.metrics.NONE`
    kind : "sigmoid" (binary cross-entropy per class; NONE rows count with an all-zero
        target) or "softmax" (cross-entropy; NONE rows have no class and are left out)
    """
    if kind not in ("sigmoid", "softmax"):
        raise ConfigError(f"kind must be 'sigmoid' or 'softmax'; got {kind!r}.")
    logits = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y)
    use = np.ones(len(y), dtype=bool) if kind == "sigmoid" else y != NONE
    if not use.any():
        raise EmbaugError("temperature scaling needs held-out rows of known classes; there are none.")
    z, t = logits[use], y[use]
    lo, hi = math.log(bounds[0]), math.log(bounds[1])
    g = (math.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = _nll(z / math.exp(a), t, kind), _nll(z / math.exp(b), t, kind)
    for _ in range(iters):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = _nll(z / math.exp(a), t, kind)
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = _nll(z / math.exp(b), t, kind)
    return float(math.exp((lo + hi) / 2))


def apply_temperature(logits, temperature: float, *, kind: str = "sigmoid") -> np.ndarray:
    """Probabilities (n, C), float64, of ``logits / temperature`` (sigmoid or softmax)."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    return sigmoid(z) if kind == "sigmoid" else softmax(z)


@dataclass
class LogisticRegressionBaseline:
    """Multinomial logistic regression on standardised embeddings (scikit-learn, lbfgs).

    ``C`` is the inverse regularisation strength; ``max_iter`` bounds the solver.
    """

    C: float = 1.0
    max_iter: int = 1000

    def fit(self, x, y, n_classes: int) -> LogisticRegressionBaseline:
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        self.n_classes = n_classes
        self.scaler = StandardScaler().fit(x)
        self.model = LogisticRegression(C=self.C, max_iter=self.max_iter)
        self.model.fit(self.scaler.transform(x), y)
        return self

    def predict_logits(self, x) -> np.ndarray:
        """(n, n_classes) decision values; classes absent from training get -inf-like logits."""
        scores = self.model.decision_function(self.scaler.transform(x))
        if scores.ndim == 1:  # two classes: scikit-learn returns one column
            scores = np.column_stack([-scores / 2, scores / 2])
        out = np.full((len(scores), self.n_classes), -1e9)
        out[:, self.model.classes_] = scores
        return out

    def predict_proba(self, x) -> np.ndarray:
        return softmax(self.predict_logits(x))


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


def none_detection(y, none_score) -> dict:
    """AUROC and AUPR of ``none_score`` for telling "none" rows (positive) from ID rows."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    is_none = np.asarray(y) == NONE
    if is_none.all() or not is_none.any():
        return {"auroc": None, "aupr": None}
    score = np.asarray(none_score, dtype=np.float64)
    return {"auroc": float(roc_auc_score(is_none, score)), "aupr": float(average_precision_score(is_none, score))}
