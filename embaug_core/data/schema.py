"""Which columns of a table are the label, the ids and the embedding.

See :mod:`embaug_core.data.table` for the rules of embedding-column detection.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ColumnChoiceError, DataError
from .readers import first_bad_row, looks_like_vector_column

__all__ = [
    "unknown_column",
    "choose_embedding_columns",
    "detect_id_columns",
    "detect",
    "resolve_columns",
    "Detected",
    "labels_from",
    "LABEL_NAMES",
]

_DIGITS_AT_END = re.compile(r"\d+$")
#: Names that say "identifier": id, ID, row_id, item-id, Unnamed: 0 (pandas' saved index), index, uuid, ...
_ID_NAME = re.compile(r"^(ids?|index|idx|key|uuid|guid|row|row[_ ]?(id|number|nr)|unnamed: ?\d+|.*[_\-. ]ids?)$", re.I)
#: Column names taken for the label when the user names none (the Data page's first guess).
LABEL_NAMES = ("label", "labels", "intent", "category", "class", "y", "target", "topic", "tag")


def _integer_valued(values: pd.Series) -> bool:
    if pd.api.types.is_integer_dtype(values):
        return True
    if not pd.api.types.is_float_dtype(values):
        return False
    v = values.to_numpy(dtype=np.float64)
    return bool(np.isfinite(v).all() and (v == np.round(v)).all())


def detect_id_columns(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """Columns among ``columns`` that identify rows rather than hold coordinates, best first.

    A column is an identifier when its values are unique per row and either its name says
    so (``id``, ``ID``, ``*_id``, ``Unnamed: 0`` from pandas' ``to_csv``, ``index``, ...)
    or it is an integer column that sits apart from the embedding: its name is not of the
    largest family of numeric columns (``e0 ... e383``). Named ones come first: ``id`` itself,
    then other id-like names, then pandas' saved index (``Unnamed: 0``).
    """
    numeric = [c for c in columns if _is_number_column(frame[c])]
    families: dict[str, list[str]] = {}
    for c in numeric:
        families.setdefault(_DIGITS_AT_END.sub("", c), []).append(c)
    main = max(families.items(), key=lambda kv: len(kv[1]))[0] if families else None
    named = sorted((c for c in columns if _ID_NAME.match(str(c)) and frame[c].is_unique), key=_id_rank)
    integer = [
        c
        for c in numeric
        if c not in named and _DIGITS_AT_END.sub("", c) != main and _integer_valued(frame[c]) and frame[c].is_unique
    ]
    return named + integer


@dataclass(frozen=True)
class Detected:
    """What detection finds in a table for a given label column (the Data page shows it).

    ``problem`` holds the message of a table whose embedding cannot be told without a choice.
    """

    id_col: str | None
    embedding: tuple[str, ...]
    vector_col: str | None
    problem: str | None = None

    def describe(self) -> str:
        if self.problem:
            return self.problem
        ident = f"id column {self.id_col!r}" if self.id_col else "no id column (row numbers are used)"
        if self.vector_col:
            return f"{ident}; the embedding is the vectors in column {self.vector_col!r}"
        first, last = self.embedding[0], self.embedding[-1]
        span = first if len(self.embedding) == 1 else f"{first} … {last}"
        return f"{ident}; the embedding is {len(self.embedding)} numeric columns ({span})"


def resolve_columns(
    frame: pd.DataFrame,
    *,
    label_col: str | None,
    id_col: str | None = None,
    embedding_cols=None,
    vector_col: str | None = None,
    with_embedding: bool = True,
    name: str = "the table",
) -> tuple[Detected, tuple[str, ...]]:
    """The columns loading ``frame`` uses: the one place where the user's choices meet detection.

    Named columns are checked to exist; an id column is detected when none is named; detected
    identifiers never count as embedding columns. ``with_embedding=False`` skips the embedding
    (an NPZ brings its own array). Returns the choice and every detected identifier column.
    Raises :class:`DataError` (:class:`ColumnChoiceError` when the user must choose).
    """
    reserved = set()
    for kind, col in (("label", label_col), ("id", id_col)):
        if col is not None:
            if col not in frame.columns:
                raise unknown_column(kind, col, frame.columns, name)
            reserved.add(col)
    ids = tuple(detect_id_columns(frame, [c for c in frame.columns if c not in reserved]))
    id_col = id_col if id_col is not None else (ids[0] if ids else None)
    if not with_embedding:
        return Detected(id_col, (), None), ids
    numeric, vector = choose_embedding_columns(frame, reserved | set(ids), embedding_cols, vector_col, name)
    return Detected(id_col, tuple(numeric), vector), ids


def detect(frame: pd.DataFrame, label_col: str | None) -> Detected:
    """What loading ``frame`` with only ``label_col`` would use; a table that needs a choice says so in ``problem``."""
    try:
        return resolve_columns(frame, label_col=label_col)[0]
    except DataError as exc:
        ids = detect_id_columns(frame, [c for c in frame.columns if c != label_col])
        return Detected(ids[0] if ids else None, (), None, str(exc))


def _id_rank(column: str) -> int:
    """0 for ``id`` itself, 2 for pandas' saved index ``Unnamed: 0``, 1 for the other id-like names."""
    name = str(column).lower()
    return 0 if name in ("id", "ids") else 2 if name.startswith("unnamed") else 1


def _is_number_column(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def unknown_column(kind: str, col: str, columns: Sequence[str], name: str) -> DataError:
    close = difflib.get_close_matches(col, list(columns), n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    shown = ", ".join(map(repr, list(columns)[:20])) + (" ..." if len(columns) > 20 else "")
    return DataError(f"{name}: no {kind} column {col!r}.{hint} Columns are: {shown}.")


def choose_embedding_columns(
    frame: pd.DataFrame, reserved: set[str], embedding_cols, vector_col, name: str
) -> tuple[list[str], str | None]:
    """Return (numeric column names, vector column name); exactly one is non-empty."""
    columns = [c for c in frame.columns if c not in reserved]  # reserved is a set
    if vector_col is not None:
        if vector_col not in frame.columns:
            raise unknown_column("vector", vector_col, frame.columns, name)
        return [], vector_col
    if embedding_cols is not None:
        return _named_columns(frame, columns, embedding_cols, name)
    numeric = [c for c in columns if _is_number_column(frame[c])]
    if numeric:
        return _numeric_family(frame, columns, numeric, name), None
    vector_like = [c for c in columns if looks_like_vector_column(frame[c])]
    if len(vector_like) == 1:
        return [], vector_like[0]
    if len(vector_like) > 1:
        raise ColumnChoiceError(
            f"{name}: several columns hold vectors ({', '.join(map(repr, vector_like))}).", choice="vector"
        )
    raise DataError(
        f"{name}: no embedding found: no numeric columns and no column of vectors besides the label/id columns. "
        f"Columns are: {', '.join(map(repr, frame.columns[:20]))}."
    )


def _named_columns(frame: pd.DataFrame, columns: list[str], embedding_cols, name: str) -> tuple[list[str], str | None]:
    """The columns the user named: a prefix (a single vector column counts) or a list."""
    if isinstance(embedding_cols, str):
        chosen = [c for c in columns if c.startswith(embedding_cols)]
        if not chosen:
            raise DataError(f"{name}: no column starts with the embedding prefix {embedding_cols!r}.")
        if len(chosen) == 1 and looks_like_vector_column(frame[chosen[0]]):
            return [], chosen[0]
        return chosen, None
    chosen = list(embedding_cols)
    missing = [c for c in chosen if c not in frame.columns]
    if missing:
        raise unknown_column("embedding", missing[0], frame.columns, name)
    return chosen, None


def _numeric_family(frame: pd.DataFrame, columns: list[str], numeric: list[str], name: str) -> list[str]:
    """The one family of numeric columns (same name up to trailing digits) that is the embedding."""
    numeric_set = set(numeric)
    groups: dict[str, list[str]] = {}
    for c in numeric:
        groups.setdefault(_DIGITS_AT_END.sub("", c), []).append(c)
    main_prefix, main = max(groups.items(), key=lambda kv: len(kv[1]))
    # Columns named like the embedding columns but read as text hold a non-number somewhere.
    for c in columns:
        if c not in numeric_set and _DIGITS_AT_END.search(c) and _DIGITS_AT_END.sub("", c) == main_prefix:
            first_bad_row(frame[c], c, name)
            raise DataError(f"{name}: column {c!r} is not numeric.")
    if len(groups) > 1:
        listing = "; ".join(f"{p or '<digits>'}* ({len(cs)} columns)" for p, cs in groups.items())
        raise ColumnChoiceError(
            f"{name}: cannot tell which numeric columns are the embedding ({listing}).", choice="embedding"
        )
    if len(main) == 1:
        vector_like = [c for c in columns if c not in numeric_set and looks_like_vector_column(frame[c])]
        if vector_like:
            raise ColumnChoiceError(
                f"{name}: found one numeric column {main[0]!r} and a vector column {vector_like[0]!r}.",
                choice="vector",
            )
    return main


def labels_from(series: pd.Series) -> np.ndarray:
    out = np.empty(len(series), dtype=object)
    for i, value in enumerate(series.tolist()):
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
            out[i] = None
            continue
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # a numeric label column read with NaNs becomes float: "3.0" -> "3"
        text = str(value).strip()
        out[i] = text if text else None
    return out
