"""Which columns of a table are the label, the ids and the embedding.

See :mod:`embaug_core.data` for the rules of embedding-column detection.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .errors import DataError
from .readers import first_bad_row, looks_like_vector_column

__all__ = ["unknown_column", "choose_embedding_columns", "labels_from"]

_DIGITS_AT_END = re.compile(r"\d+$")


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
    numeric = [
        c for c in columns if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]
    if numeric:
        return _numeric_family(frame, columns, numeric, name), None
    vector_like = [c for c in columns if looks_like_vector_column(frame[c])]
    if len(vector_like) == 1:
        return [], vector_like[0]
    if len(vector_like) > 1:
        raise DataError(
            f"{name}: several columns hold vectors ({', '.join(map(repr, vector_like))}); "
            "name one with vector_col / --vector-col."
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
        raise DataError(
            f"{name}: cannot tell which numeric columns are the embedding ({listing}); "
            "name them with embedding_cols / --embedding-cols (a prefix or a comma-separated list)."
        )
    if len(main) == 1:
        vector_like = [c for c in columns if c not in numeric_set and looks_like_vector_column(frame[c])]
        if vector_like:
            raise DataError(
                f"{name}: found one numeric column {main[0]!r} and a vector column {vector_like[0]!r}; "
                "name the embedding with vector_col / --vector-col or embedding_cols / --embedding-cols."
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
