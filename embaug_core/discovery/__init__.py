"""From "none" to new classes: the rows a head refuses, grouped so that a person names a group at once.

* :func:`discover` — a head's "none" pool on a table, grouped and described (the CLI's
  ``embaug discover``, the Labelling queue page's Groups view, the experiment's per-trial check);
* :func:`discover_groups` — the same for any rows: :class:`Discovery` of :class:`Group` records;
* :func:`group_embeddings` — the grouping alone (:class:`Grouping`), and :func:`cosine_silhouette`;
* :func:`grouping_scores` — NMI, ARI and the one-action accuracy against true classes.
"""

from .grouping import MIN_POOL_ROWS, Grouping, cosine_silhouette, group_embeddings
from .groups import UNGROUPED, Discovery, Group, discover_groups, group_keywords
from .pool import discover, none_pool, text_column
from .quality import GroupingScores, grouping_scores

__all__ = [
    "MIN_POOL_ROWS",
    "UNGROUPED",
    "Discovery",
    "Group",
    "Grouping",
    "GroupingScores",
    "cosine_silhouette",
    "discover",
    "discover_groups",
    "group_embeddings",
    "group_keywords",
    "grouping_scores",
    "none_pool",
    "text_column",
]
