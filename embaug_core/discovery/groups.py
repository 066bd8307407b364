"""What a person needs to name a group of refused rows at once: :class:`Group` and :class:`Discovery`.

:func:`discover_groups` groups rows (:func:`~embaug_core.discovery.grouping.group_embeddings`) and
describes each group: its size, its most typical rows (nearest the centre), their texts and the
group's keywords when there is a text column, how tight it is, and the known class it is closest to.

Known rows sitting in the pool are flagged row by row: a row *looks like* class X when X's mean
(of the head's training rows) is the class mean nearest to it, the head's own top class for it is X,
and it is closer to X's mean than to its group's centre. The rule is strict on purpose: a wrong
"looks like" sends a new intent back into an old class (docs/discovery.md gives its measured
precision and recall).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import DataError
from .grouping import MIN_POOL_ROWS, Grouping, group_embeddings, unit_rows
from .report import discovery_markdown

__all__ = ["Group", "Discovery", "discover_groups", "group_keywords", "UNGROUPED"]

#: The group number of a row that belongs to no group (the groups are numbered 1, 2, ... largest first).
UNGROUPED = 0
TYPICAL_ROWS = 5
KEYWORDS = 5


@dataclass(frozen=True)
class Group:
    """One group of the pool. ``group`` is its number (1 = the largest); ``typical_ids`` the ids of the
    rows nearest its centre, most typical first, and ``texts`` their texts (empty without a text
    column); ``keywords`` its top class-based TF-IDF terms; ``tightness`` the mean cosine similarity of
    its rows to its centre (1 = identical rows); ``nearest_class`` the known class whose mean is nearest
    its centre, with that ``nearest_class_similarity`` (None without class means); ``looks_known`` how
    many of its rows are flagged as looking like a known class."""

    group: int
    size: int
    typical_ids: tuple[str, ...]
    texts: tuple[str, ...]
    keywords: tuple[str, ...]
    tightness: float
    nearest_class: str | None
    nearest_class_similarity: float | None
    looks_known: int


@dataclass(frozen=True, eq=False)
class Discovery:
    """The grouped pool. ``rows``: one row per pool row, ``id, group, distance, nearest_class,
    looks_like`` (and ``text``): ``group`` 1, 2, ... (1 the largest) or 0 (:data:`UNGROUPED`),
    ``distance`` 1 - the cosine similarity to its group's centre (an ungrouped row's: to the nearest
    centre), ``looks_like`` a known class name or ""; ``groups`` largest first; ``fallback`` says why the
    pool has no group (too few rows, or no group of ``min_group_size`` rows: every row is then ungrouped
    and ``groups`` is empty)."""

    rows: pd.DataFrame
    groups: tuple[Group, ...]
    silhouette: float | None
    fallback: str | None
    seed: int

    @property
    def n_ungrouped(self) -> int:
        return int((self.rows["group"] == UNGROUPED).sum())

    def label_frame(self, names: dict[int, str] | None = None) -> pd.DataFrame:
        """``id, group, new_label``: the CSV a person fills in elsewhere; ``names`` {group: label} pre-fills
        whole groups."""
        names = names or {}
        return pd.DataFrame(
            {
                "id": self.rows["id"],
                "group": self.rows["group"],
                "new_label": [names.get(int(g), "") for g in self.rows["group"]],
            }
        )

    def to_markdown(self) -> str:
        return discovery_markdown(self)


def discover_groups(
    embeddings,
    ids,
    *,
    texts=None,
    class_means=None,
    class_names=None,
    top_class=None,
    seed: int = 0,
    min_group_size: int = 5,
) -> Discovery:
    """Group pool rows ``embeddings`` (n, D) with ``ids`` (n,) and describe each group.

    ``texts`` (n,) optional; ``class_means`` (C, D) the known classes' mean training embeddings with
    their ``class_names`` (C,), and ``top_class`` (n,) the head's top class name per row, for the
    nearest known class and the "looks like" flag (see the module docstring). Fewer than
    :data:`~embaug_core.discovery.grouping.MIN_POOL_ROWS` rows: a :class:`Discovery` whose ``fallback``
    says so.
    """
    x = np.asarray(embeddings)
    ids = np.asarray(ids, dtype=object)
    if len(x) != len(ids):
        raise DataError(f"{len(x)} embeddings but {len(ids)} ids.")
    texts = None if texts is None else np.asarray(["" if t is None else str(t) for t in texts], dtype=object)
    if len(x) < MIN_POOL_ROWS:
        return _ungrouped(ids, texts, seed, f"{len(x)} rows are too few to group (at least {MIN_POOL_ROWS}).")
    grouping = group_embeddings(x, seed=seed, min_group_size=min_group_size)
    if grouping.n_groups == 0:
        return _ungrouped(ids, texts, seed, f"no group of at least {min_group_size} rows was found.")
    z = unit_rows(x)
    nearest, looks = _known_classes(z, grouping, class_means, class_names, top_class)
    rows = pd.DataFrame(
        {
            "id": ids,
            "group": grouping.labels + 1,  # 0 = ungrouped
            "distance": 1.0 - grouping.similarity,
            "nearest_class": nearest,
            "looks_like": looks,
        }
    )
    if texts is not None:
        rows["text"] = texts
    groups = _describe(rows, grouping, texts, class_means, class_names)
    return Discovery(rows, groups, grouping.silhouette, None, seed)


def _ungrouped(ids, texts, seed: int, why: str) -> Discovery:
    rows = pd.DataFrame({"id": ids, "group": UNGROUPED, "distance": np.nan, "nearest_class": "", "looks_like": ""})
    if texts is not None:
        rows["text"] = texts
    return Discovery(rows, (), None, why, seed)


def _known_classes(z, grouping: Grouping, class_means, class_names, top_class):
    """Per row: the nearest class mean's name, and the class it looks like ("" when it does not)."""
    n = len(z)
    if class_means is None or class_names is None:
        return np.full(n, "", dtype=object), np.full(n, "", dtype=object)
    means = unit_rows(class_means)
    sim = z @ means.T  # (n, C)
    names = np.asarray(class_names, dtype=object)
    nearest = names[sim.argmax(axis=1)]
    closer = sim.max(axis=1) > grouping.similarity  # nearer the class's mean than its own group's centre
    agrees = np.ones(n, dtype=bool) if top_class is None else np.asarray(top_class, dtype=object) == nearest
    return nearest, np.where(closer & agrees, nearest, "").astype(object)


def _describe(rows: pd.DataFrame, grouping: Grouping, texts, class_means, class_names) -> tuple[Group, ...]:
    keywords = group_keywords(texts, grouping.labels) if texts is not None else {}
    centre_class, centre_sim = [None] * grouping.n_groups, [None] * grouping.n_groups
    if class_means is not None and class_names is not None:
        sim = grouping.centres @ unit_rows(class_means).T  # (k, C)
        centre_class = [str(class_names[j]) for j in sim.argmax(axis=1)]
        centre_sim = [float(v) for v in sim.max(axis=1)]
    out = []
    for g in range(grouping.n_groups):
        members = np.flatnonzero(grouping.labels == g)
        typical = members[np.argsort(-grouping.similarity[members], kind="stable")[:TYPICAL_ROWS]]
        out.append(
            Group(
                group=g + 1,
                size=len(members),
                typical_ids=tuple(str(v) for v in rows["id"].to_numpy()[typical]),
                texts=tuple(str(t) for t in texts[typical]) if texts is not None else (),
                keywords=keywords.get(g, ()),
                tightness=float(grouping.similarity[members].mean()),
                nearest_class=centre_class[g],
                nearest_class_similarity=centre_sim[g],
                looks_known=int((rows["looks_like"].to_numpy()[members] != "").sum()),
            )
        )
    return tuple(out)


def group_keywords(texts, labels, top: int = KEYWORDS) -> dict[int, tuple[str, ...]]:
    """Each group's top terms by class-based TF-IDF: a group's texts are one document, and a term
    weighs 1 + log of its count in the group by how few groups use it (scikit-learn's CountVectorizer
    and TfidfTransformer with sublinear tf, English stop words removed). ``labels`` are numbered as
    :attr:`Grouping.labels` (0, 1, ...; rows labelled -1, ungrouped, are left out); the keys are the same
    numbers."""
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

    labels = np.asarray(labels)
    groups = [g for g in np.unique(labels) if g >= 0]
    docs = [" ".join(str(t) for t in np.asarray(texts, dtype=object)[labels == g]) for g in groups]
    try:
        counts = CountVectorizer(stop_words="english", token_pattern=r"(?u)\b[^\W\d_][\w'-]+\b").fit(docs)
    except ValueError:  # no word at all (empty texts, or only stop words)
        return {int(g): () for g in groups}
    weights = TfidfTransformer(sublinear_tf=True).fit_transform(counts.transform(docs)).toarray()
    vocab = counts.get_feature_names_out()
    out = {}
    for row, g in zip(weights, groups, strict=True):
        order = np.argsort(-row, kind="stable")[:top]
        out[int(g)] = tuple(str(vocab[j]) for j in order if row[j] > 0)
    return out
