"""A 2-D projection of embeddings for a preview (PCA)."""

from __future__ import annotations

import numpy as np

__all__ = ["project_2d"]


def project_2d(embeddings: np.ndarray, *, max_rows: int = 5000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """PCA to 2-D for a preview: (rows used (m,), points (m, 2)); at most ``max_rows`` rows."""
    from sklearn.decomposition import PCA

    n = embeddings.shape[0]
    rows = np.arange(n) if n <= max_rows else np.sort(np.random.default_rng(seed).choice(n, max_rows, replace=False))
    if n < 2 or embeddings.shape[1] < 2:
        return rows, np.zeros((len(rows), 2))
    return rows, PCA(n_components=2, random_state=seed).fit_transform(embeddings[rows])
