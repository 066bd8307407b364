"""The labelling queue: what a person should label next (the paper's Sec. 6 argument).

Rows the head never trained on (the trial's evaluation rows and every unlabelled row)
are ranked by confidence, lowest first: rows routed to "none" come first, then the
accepted rows the head is least sure about. The queue is a CSV with an empty
``new_label`` column; :func:`read_queue_labels` reads it back once a person has filled
some cells, and the dashboard retrains with those rows added to training.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import numpy as np
import pandas as pd

from .data.table import EmbeddingSet
from .discovery import UNGROUPED
from .errors import DataError
from .evaluation import metrics
from .evaluation.thresholds import NONE_ANSWER, route

__all__ = [
    "labelling_queue",
    "queue_rows",
    "read_queue_labels",
    "read_group_labels",
    "group_names",
    "QUEUE_LABEL_COLUMN",
    "STILL_NONE",
]

QUEUE_LABEL_COLUMN = "new_label"


def labelling_queue(
    dataset: EmbeddingSet,
    head,
    *,
    threshold: float,
    rows: np.ndarray | None = None,
    top_k: int = 3,
    only_none: bool = False,
    limit: int | None = None,
    labelled_ids: Iterable[str] = (),
) -> pd.DataFrame:
    """Rank rows for labelling.

    Parameters
    ----------
    dataset : EmbeddingSet
    head : TrainedHead
    threshold : rows with confidence < threshold are routed to "none"
    rows : dataset rows to consider (default: every row); unlabelled rows are always added
    top_k : top guesses listed per row
    only_none : keep only rows routed to "none"
    limit : keep the first ``limit`` rows of the ranking
    labelled_ids : ids labelled through the queue already (they train from now on): left out

    Returns
    -------
    DataFrame with ``rank, id, label, routed_to, confidence, guess1, prob1, ...``, the
    dataset's extra columns and an empty ``new_label`` column, lowest confidence first.
    """
    candidates = queue_rows(dataset, rows, labelled_ids)
    if candidates.size == 0:
        return pd.DataFrame(columns=["rank", "id", "label", "routed_to", "confidence", QUEUE_LABEL_COLUMN])
    probs = head.predict_proba(dataset.embeddings[candidates])  # (m, C) float64
    idx, top = metrics.top_k(probs, top_k)  # (m, k) each
    names = np.array(head.class_names, dtype=object)
    frame = pd.DataFrame(
        {
            "id": dataset.ids[candidates],
            "label": ["" if v is None else v for v in dataset.labels[candidates]],
            "routed_to": route(probs, threshold, head.class_names),
            "confidence": top[:, 0],
        }
    )
    for j in range(idx.shape[1]):
        frame[f"guess{j + 1}"] = names[idx[:, j]]
        frame[f"prob{j + 1}"] = top[:, j]
    for col in dataset.extra.columns:
        if col not in frame.columns:
            frame[col] = dataset.extra[col].to_numpy()[candidates]
    frame[QUEUE_LABEL_COLUMN] = ""
    frame = frame.sort_values("confidence", kind="stable").reset_index(drop=True)
    if only_none:
        frame = frame[frame["routed_to"] == NONE_ANSWER].reset_index(drop=True)
    if limit is not None:
        frame = frame.head(limit)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return frame


def queue_rows(dataset: EmbeddingSet, rows=None, labelled_ids: Iterable[str] = ()) -> np.ndarray:
    """The rows a queue ranks: ``rows`` (default every row) and every unlabelled row, without the rows
    labelled through the queue already (``labelled_ids``); sorted positions in ``dataset``."""
    candidates = np.arange(dataset.n_samples) if rows is None else np.asarray(rows)
    unlabelled = np.flatnonzero(~dataset.labeled_mask)
    candidates = np.union1d(candidates, unlabelled).astype(np.int64)
    return candidates[~np.isin(dataset.ids[candidates], np.asarray(list(labelled_ids), dtype=object))]


def read_queue_labels(source: bytes | str, dataset: EmbeddingSet, *, name: str = "queue.csv") -> dict[str, str]:
    """Read a filled-in labelling queue: ``{id: new label}`` for every non-empty ``new_label``.

    Raises :class:`DataError` when the file is not a queue (a groups CSV included: it is read by
    :func:`read_group_labels`), names unknown ids or has no filled-in label.
    """
    frame = _read_csv(source, name)
    if "group" in frame.columns:
        raise DataError(
            f"{name}: a groups CSV (it has a 'group' column); upload it in the Groups view, where a name "
            "given to a group labels all its rows."
        )
    given = frame[QUEUE_LABEL_COLUMN].str.strip()
    return _labels(frame, given, dataset, name)


def read_group_labels(source: bytes | str, dataset: EmbeddingSet, *, name: str = "groups.csv") -> dict[str, str]:
    """Read a filled-in groups CSV (``id, group, new_label``, as the Groups view and ``embaug discover``
    write it): ``{id: new label}``.

    A name written on any row of a group (``group`` 1, 2, ...) names every row of that group; a group
    given two different names is refused. A ``new_label`` of "still none" (or "none") keeps that row
    unlabelled, in the pool; so does changing its ``group`` to 0 (ungrouped), where only rows with their
    own name are labelled. Raises :class:`DataError` as :func:`read_queue_labels` does.
    """
    frame = _read_csv(source, name, extra=("group",))
    return _labels(frame, group_names(frame, name=name), dataset, name)


def group_names(frame: pd.DataFrame, *, name: str = "groups.csv") -> pd.Series:
    """Each row's label in a groups frame (``id, group, new_label``), "" for a row left unlabelled: a name on
    any row of a group (1, 2, ...) names the group's rows, "still none" keeps a row out, a row of group 0
    has only its own name. The one reading of such a frame: the Groups view's retrain and download and
    :func:`read_group_labels` all use it. Raises :class:`DataError` for a group with two names."""
    group = frame["group"].astype(str)
    given = frame[QUEUE_LABEL_COLUMN].astype(str).str.strip()
    kept_out = given.str.lower().isin(STILL_NONE)
    named = given.where(~kept_out, "")
    for g, names in named[named != ""].groupby(group):
        if g in ("", str(UNGROUPED)):
            continue
        distinct = sorted(set(names))
        if len(distinct) > 1:
            shown = ", ".join(repr(v) for v in distinct[:3])
            raise DataError(f"{name}: group {g} has {len(distinct)} names ({shown}); give each group one name.")
        named = named.where(~((group == g) & ~kept_out), distinct[0])
    return named


#: What a person writes to keep a row (or a whole group) in the "none" pool.
STILL_NONE = frozenset({NONE_ANSWER, f"still {NONE_ANSWER}"})


def _read_csv(source, name: str, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    data = source.encode() if isinstance(source, str) else bytes(source)
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    except UnicodeDecodeError:
        raise DataError(f"{name}: not UTF-8 text; save the file as a UTF-8 CSV.") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{name}: not a readable CSV ({exc}).") from None
    for col in ("id", *extra, QUEUE_LABEL_COLUMN):
        if col not in frame.columns:
            raise DataError(
                f"{name}: no {col!r} column; upload the CSV exported here, with {QUEUE_LABEL_COLUMN!r} filled in."
            )
    return frame


def _labels(frame: pd.DataFrame, given: pd.Series, dataset: EmbeddingSet, name: str) -> dict[str, str]:
    """``{id: label}`` of the rows of ``frame`` whose ``given`` label is not empty, checked."""
    filled = frame[given != ""]
    if filled.empty:
        raise DataError(f"{name}: no row has a class in {QUEUE_LABEL_COLUMN!r}; fill in at least one label.")
    known = set(dataset.ids)
    out: dict[str, str] = {}
    for pos, (row_id, label) in enumerate(zip(filled["id"], given[given != ""], strict=True)):
        if row_id not in known:
            raise DataError(f"{name}: id {row_id!r} (data row {filled.index[pos] + 1}) is not in the current data.")
        if label.lower() == NONE_ANSWER:
            raise DataError(
                f"{name}: data row {filled.index[pos] + 1} is labelled 'none'; leave it empty or give a class name."
            )
        out[row_id] = label
    return out
