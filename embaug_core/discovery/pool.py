"""The "none" pool of a head on a table, grouped: :func:`discover`, the one call the CLI, the dashboard
and the experiment make."""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from ..evaluation.thresholds import is_accepted
from .groups import Discovery, discover_groups

__all__ = ["discover", "none_pool", "text_column"]


def none_pool(confidence, *, threshold: float | None = None, least_confident: int | None = None) -> np.ndarray:
    """Positions of the pool among rows with ``confidence`` (n,): those routed to "none" at
    ``threshold``, or the ``least_confident`` rows (lowest confidence first either way)."""
    confidence = np.asarray(confidence, dtype=np.float64)
    order = np.argsort(confidence, kind="stable")
    if least_confident is not None:
        return order[: max(int(least_confident), 0)]
    if threshold is None:
        raise DataError("give a threshold or a number of least confident rows.")
    return order[~is_accepted(confidence[order], threshold)]


def text_column(dataset, text_col: str | None, *, flag: str = "--text-col") -> np.ndarray | None:
    """The texts of ``dataset``'s rows: column ``text_col``, else a column named "text" when there is one."""
    if text_col is None:
        return dataset.extra["text"].to_numpy() if "text" in dataset.extra.columns else None
    if text_col not in dataset.extra.columns:
        have = ", ".join(map(str, dataset.extra.columns)) or "none besides the label, id and embedding"
        raise DataError(f"{flag} {text_col!r}: no such column (other columns: {have}).")
    return dataset.extra[text_col].to_numpy()


def discover(
    head,
    dataset,
    *,
    threshold: float | None = None,
    score: str = "max_prob",
    rows=None,
    least_confident: int | None = None,
    text_col: str | None = None,
    seed: int = 0,
    min_group_size: int = 5,
) -> tuple[Discovery, np.ndarray]:
    """Group what ``head`` refuses among ``dataset``'s rows (``rows``: positions, default every row).

    The pool is the rows whose ``score`` confidence is below ``threshold`` (routed to "none"), or the
    ``least_confident`` rows. The head's training class means (kept with its none scores) and its top
    class name each known class. Returns the :class:`Discovery` and the pool's positions in ``dataset``.
    """
    rows = np.arange(dataset.n_samples) if rows is None else np.asarray(rows, dtype=np.int64)
    x = dataset.embeddings[rows]
    logits = head.predict_logits(x)
    confidence = head.confidence(x, score, logits=logits)
    local = none_pool(confidence, threshold=threshold, least_confident=least_confident)
    pool = rows[local]
    texts = text_column(dataset, text_col)
    means = None if getattr(head, "scores", None) is None else head.scores.class_means
    names = np.asarray(head.class_names, dtype=object)
    top = names[logits[local].argmax(axis=1)]
    found = discover_groups(
        dataset.embeddings[pool],
        dataset.ids[pool],
        texts=None if texts is None else texts[pool],
        class_means=means,
        class_names=names if means is not None else None,
        top_class=top,
        seed=seed,
        min_group_size=min_group_size,
    )
    return found, pool
