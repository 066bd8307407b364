"""How well groups match true classes: NMI, ARI and the one-action accuracy (scikit-learn's metrics)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..jsonio import nan_to_none
from .groups import UNGROUPED

__all__ = ["GroupingScores", "grouping_scores", "one_action_accuracy"]


def one_action_accuracy(truth, groups, *, ungrouped: int | None = None) -> float:
    """The share of rows that get their true label when every group takes its majority true label
    (ungrouped rows, group number ``ungrouped``, count as wrong)."""
    truth, groups = np.asarray(truth, dtype=object), np.asarray(groups)
    right = 0
    for g in np.unique(groups):
        if ungrouped is not None and g == ungrouped:
            continue
        _, counts = np.unique(truth[groups == g], return_counts=True)
        right += int(counts.max())
    return right / len(truth) if len(truth) else float("nan")


@dataclass(frozen=True)
class GroupingScores:
    """Groups against true classes: ``nmi`` and ``ari`` (every row, the ungrouped ones as one more
    group), ``one_action_accuracy``, the ``ungrouped`` share, the numbers of ``groups`` found and true
    ``classes``, and the ``rows`` scored."""

    nmi: float
    ari: float
    one_action_accuracy: float
    ungrouped: float
    groups: int
    classes: int
    rows: int

    def to_dict(self) -> dict:
        return {k: nan_to_none(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> GroupingScores:
        return cls(**{k: float("nan") if v is None else v for k, v in d.items()})


def grouping_scores(truth, groups, *, ungrouped: int | None = UNGROUPED) -> GroupingScores:
    """Groups ``groups`` (n,) against true classes ``truth`` (n,). Groups are numbered as
    :attr:`Discovery.rows` numbers them (``ungrouped`` = 0 for rows in no group); pass ``ungrouped=-1``
    for :attr:`Grouping.labels`, or None when every row is in a group."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    truth = np.asarray(truth, dtype=object).astype(str)
    groups = np.asarray(groups)
    found = np.unique(groups if ungrouped is None else groups[groups != ungrouped])
    if len(truth) == 0:
        nan = float("nan")
        return GroupingScores(nan, nan, nan, nan, 0, 0, 0)
    return GroupingScores(
        nmi=float(normalized_mutual_info_score(truth, groups)),
        ari=float(adjusted_rand_score(truth, groups)),
        one_action_accuracy=one_action_accuracy(truth, groups, ungrouped=ungrouped),
        ungrouped=0.0 if ungrouped is None else float(np.mean(groups == ungrouped)),
        groups=len(found),
        classes=len(np.unique(truth)),
        rows=len(truth),
    )
