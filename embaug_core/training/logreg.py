"""Logistic regression, the cheap and strong peer every head is measured against."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..evaluation.metrics import softmax

__all__ = ["LogisticRegressionBaseline"]


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
