"""Distances in the embedding space, which the kNN and Mahalanobis none scores are made of: the cosine
distance to the k-th nearest bank row, Ledoit-Wolf shrunk precisions, squared Mahalanobis distances,
and relative Mahalanobis scored out of fold (for a percentile scale of rows the fit did not see)."""

from __future__ import annotations

import numpy as np

__all__ = ["normalise", "knn_distance", "shrunk_precision", "mahalanobis_terms", "out_of_fold_mahalanobis"]


def normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def knn_distance(
    bank: np.ndarray, x, k: int, *, skip_self: bool = False, skip_identical: bool = False, batch_size: int = 2048
) -> np.ndarray:
    """Cosine distance (n,) of rows ``x`` (n, D) to their k-th nearest row of ``bank`` (m, D),
    both L2-normalised here (``bank`` may already be). ``skip_self``: ``x`` are rows of the bank,
    and each one's own entry is not counted (leave-one-out). ``skip_identical``: the same for the
    rows of ``x`` that are in the bank (their nearest entry is identical) and not for the others."""
    bank = normalise(bank)
    q_all = normalise(x)
    extra = int(skip_self or skip_identical)
    kk = min(k + extra, len(bank))
    out = np.empty(len(q_all))
    for i in range(0, len(q_all), batch_size):
        sims = q_all[i : i + batch_size] @ bank.T  # (b, m)
        if skip_identical:
            top = -np.sort(np.partition(-sims, kk - 1, axis=1)[:, :kk], axis=1)  # (b, kk) similarities, nearest first
            inside = top[:, 0] >= 1.0 - 1e-6  # the row itself is in the bank
            kth = np.where(inside, top[:, kk - 1], top[:, min(k, kk) - 1])
        else:
            kth = -np.partition(-sims, kk - 1, axis=1)[:, kk - 1]
        out[i : i + batch_size] = 1.0 - kth.astype(np.float64)
    return out


def shrunk_precision(centered: np.ndarray) -> np.ndarray:
    from sklearn.covariance import LedoitWolf

    cov = LedoitWolf(assume_centered=True).fit(centered).covariance_
    return np.linalg.inv(cov)


def mahalanobis_terms(x: np.ndarray, means: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis distances (n, K) of rows x (n, D) to each of means (K, D)."""
    xp = x @ precision  # (n, D)
    return (xp * x).sum(1, keepdims=True) - 2 * xp @ means.T + ((means @ precision) * means).sum(1)[None, :]


def out_of_fold_mahalanobis(x, y, n_classes: int, rows, rng, folds: int = 5) -> np.ndarray:
    """Relative Mahalanobis scores (m,) of the rows ``x[rows]``, each under class means and covariances
    fitted without the fifth of the training rows it is in: what a new known row meets, where scoring
    the rows a bank was fitted on would put them closer than any new row."""
    fold = rng.permutation(len(x)) % folds  # (n,)
    out = np.empty(len(rows))
    for f in range(folds):
        here = np.flatnonzero(fold[rows] == f)  # positions in rows
        fit = fold != f
        if not len(here) or fit.sum() < 2:
            continue
        xf, yf = x[fit], y[fit]
        means = np.stack([xf[yf == c].mean(0) if (yf == c).any() else xf.mean(0) for c in range(n_classes)])
        q = x[rows[here]]
        within = mahalanobis_terms(q, means, shrunk_precision(xf - means[yf])).min(1)
        background = mahalanobis_terms(q, xf.mean(0)[None, :], shrunk_precision(xf - xf.mean(0)))[:, 0]
        out[here] = within - background
    return out
