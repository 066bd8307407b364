"""Grouping rows without being told how many groups there are.

The rule (docs/discovery.md says why this one, with the measurements):

1. Rows are compared by cosine similarity (each row scaled to unit length), as sentence and image
   embeddings are meant to be.
2. Ward's linkage is built on a seeded sample of at most ``sample_rows`` rows (SciPy). Every cut of
   that tree from 2 groups up to ``sample / min_mean_size`` groups is scored by the mean cosine
   silhouette, and the best cut is kept. The cap keeps groups worth labelling at once: where the
   rows have no group structure, the silhouette keeps rising as groups shrink to a few rows.
3. k-means (scikit-learn), started from that cut's centres, places every row.
4. Groups smaller than ``min_group_size`` rows are dissolved: their rows are *ungrouped* (label -1).
   When no cut has a positive silhouette (rows that all point the same way), the rows are one group;
   when no group keeps ``min_group_size`` rows, every row is ungrouped.

The silhouette is computed here rather than with :func:`sklearn.metrics.silhouette_score`: on unit
rows, the mean cosine distance from a row to a group is ``1 - x . sum(group) / |group|``, so one
cut costs O(n k d) instead of O(n^2 d), and the search over every cut stays within the page's time.
``tests/test_discovery.py`` checks it against scikit-learn's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DataError

__all__ = [
    "Grouping",
    "CutCurve",
    "group_embeddings",
    "cut_curve",
    "place",
    "highest",
    "cosine_silhouette",
    "unit_rows",
    "MIN_POOL_ROWS",
]

#: Fewer rows than this are not grouped: the caller falls back to the flat list.
MIN_POOL_ROWS = 20


def unit_rows(x) -> np.ndarray:
    """Rows scaled to unit length (float64); an all-zero row stays zero."""
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def cosine_silhouette(z: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette of ``labels`` (n,) over unit rows ``z`` (n, D), with cosine distance.

    A row alone in its group scores 0, as in scikit-learn. Needs at least two groups.
    """
    _, inv, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if len(counts) < 2:
        raise ValueError("the silhouette needs at least two groups")
    sums = np.zeros((len(counts), z.shape[1]))
    np.add.at(sums, inv, z)
    sim = z @ sums.T  # (n, k): each row's summed similarity to each group, itself included
    rows = np.arange(len(z))
    own = counts[inv]
    a = (own - sim[rows, inv]) / np.maximum(own - 1, 1)  # mean distance to the rest of its group
    mean_distance = 1.0 - sim / counts
    mean_distance[rows, inv] = np.inf
    b = mean_distance.min(axis=1)  # to the nearest other group
    s = (b - a) / np.maximum(np.maximum(a, b), 1e-12)
    s[own == 1] = 0.0
    return float(s.mean())


@dataclass(frozen=True, eq=False)
class Grouping:
    """Groups of rows: ``labels`` (n,) in 0..k-1, largest group first, -1 for ungrouped rows;
    ``centres`` (k, D) unit vectors; ``similarity`` (n,) each row's cosine similarity to its group's
    centre (to the nearest centre for an ungrouped row); ``silhouette`` of the chosen cut on the sample;
    ``curve`` the (groups, silhouette) of every cut tried."""

    labels: np.ndarray
    centres: np.ndarray
    similarity: np.ndarray
    silhouette: float
    curve: tuple[tuple[int, float], ...]

    @property
    def n_groups(self) -> int:
        return len(self.centres)

    @property
    def ungrouped(self) -> int:
        return int((self.labels < 0).sum())


@dataclass(frozen=True, eq=False)
class CutCurve:
    """Every cut of the Ward tree of a pool's sample, scored: ``sample`` (m,) the rows of the pool the tree
    was built on, ``cuts`` {groups: (m,) group of each sample row}, ``curve`` ((groups, mean cosine
    silhouette), ...) in increasing number of groups."""

    sample: np.ndarray
    cuts: dict
    curve: tuple[tuple[int, float], ...]


def cut_curve(z: np.ndarray, *, seed: int = 0, min_mean_size: int = 20, max_groups: int = 300, sample_rows: int = 2000):
    """Step 2 of the rule on unit rows ``z`` (n, D): the Ward tree of a seeded sample of at most
    ``sample_rows`` rows and the silhouette of every cut from 2 groups up to ``sample / min_mean_size``
    (at most ``max_groups``). :func:`group_embeddings` keeps the best cut; benchmarks/discovery_rules.py
    compares it with other ways of choosing one."""
    from scipy.cluster.hierarchy import fcluster, linkage

    n = len(z)
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, sample_rows, replace=False)) if n > sample_rows else np.arange(n)
    tree = linkage(z[sample], method="ward")
    top = max(2, min(len(sample) // min_mean_size, max_groups))
    cuts, curve = {}, []
    for k in range(2, top + 1):
        cut = fcluster(tree, k, criterion="maxclust")
        groups = len(np.unique(cut))
        if groups < 2:
            continue
        cuts[groups] = cut
        curve.append((int(groups), cosine_silhouette(z[sample], cut)))
    return CutCurve(sample, cuts, tuple(curve))


def highest(curve) -> int | None:
    """The rule's choice on a cut curve ((groups, silhouette), ...): the cut with the highest silhouette,
    the first of equal ones; None for an empty curve."""
    return max(curve, key=lambda c: c[1])[0] if curve else None


def place(z: np.ndarray, curve: CutCurve, groups: int | None, *, seed: int = 0, min_group_size: int = 5) -> Grouping:
    """Steps 3 and 4 of the rule for the cut of ``curve`` with ``groups`` groups (None, or a cut whose
    silhouette is not positive: the rows are one group): k-means started from its centres places every row
    of ``z``; small groups are dissolved."""
    from sklearn.cluster import KMeans

    if groups is not None and groups not in curve.cuts:
        raise ValueError(f"no cut of this curve has {groups} groups (it has {sorted(curve.cuts)})")
    silhouette = dict(curve.curve)[groups] if groups is not None else 0.0
    if groups is None or silhouette <= 0:  # no cut beats none (rows all alike, or no structure): one group
        return _finish(z, np.zeros(len(z), dtype=np.int64), min_group_size, 0.0, curve.curve)
    cut, rows = curve.cuts[groups], z[curve.sample]
    start = np.stack([rows[cut == g].mean(axis=0) for g in np.unique(cut)])
    km = KMeans(len(start), init=start, n_init=1, random_state=seed).fit(z)
    return _finish(z, km.labels_, min_group_size, silhouette, curve.curve)


def group_embeddings(
    x,
    *,
    seed: int = 0,
    min_group_size: int = 5,
    min_mean_size: int = 20,
    max_groups: int = 300,
    sample_rows: int = 2000,
) -> Grouping:
    """Group the rows of ``x`` (n, D) without a number of groups (see the module's docstring).

    Deterministic for a seed. Raises :class:`~embaug_core.errors.DataError` below
    :data:`MIN_POOL_ROWS` rows or when a row has a NaN or infinite value.
    """
    z = unit_rows(x)
    n = len(z)
    if n < MIN_POOL_ROWS:
        raise DataError(f"{n} rows are too few to group (at least {MIN_POOL_ROWS} are needed).")
    if not np.isfinite(z).all():
        raise DataError("rows with NaN or infinite values cannot be grouped.")
    curve = cut_curve(z, seed=seed, min_mean_size=min_mean_size, max_groups=max_groups, sample_rows=sample_rows)
    return place(z, curve, highest(curve.curve), seed=seed, min_group_size=min_group_size)


def _finish(z, labels, min_group_size, silhouette, curve) -> Grouping:
    """Dissolve small groups, number the rest largest first, and measure each row against its centre."""
    ids, counts = np.unique(labels, return_counts=True)
    keep = ids[counts >= min_group_size]
    order = keep[np.argsort(-counts[counts >= min_group_size], kind="stable")]
    renumber = np.full(labels.max() + 1, -1)
    renumber[order] = np.arange(len(order))
    out = renumber[labels]
    if len(order) == 0:  # no group big enough: every row ungrouped
        return Grouping(out.astype(np.int64), np.empty((0, z.shape[1])), np.full(len(z), np.nan), silhouette, curve)
    centres = unit_rows(np.stack([z[out == g].mean(axis=0) for g in range(len(order))]))
    sim = z @ centres.T  # (n, k)
    similarity = np.where(out >= 0, sim[np.arange(len(z)), np.maximum(out, 0)], sim.max(axis=1))
    return Grouping(out.astype(np.int64), centres, similarity, float(silhouette), curve)
