"""Loading and validating embedding tables.

An *embedding table* is a CSV, Parquet or NPZ file with

* one **label column** (name chosen by the user; an empty cell means an unlabelled row),
* an optional **id column** (unique per row; row numbers are used when absent),
* the **embedding**, either as many numeric columns (``emb_0 ... emb_383``) or as one
  column holding a whole vector per cell (``"[0.1, -0.2, ...]"`` in CSV, a list column
  in Parquet, a 2-D array in NPZ),
* any number of other columns (source text, URLs, ...), kept beside the embedding in
  :attr:`EmbeddingSet.extra` and ignored by training.

Column detection when the user names none (``id_col``, ``embedding_cols`` and
``vector_col`` left out), in :mod:`embaug_core.data.schema`:

1. identifier columns are found first: unique per row, and named like one (``id``, ``ID``,
   ``*_id``, ``Unnamed: 0`` from pandas' ``to_csv``, ``index``) or an integer column apart
   from the embedding's family; the first becomes the id column, and none of them is ever
   part of the embedding;
2. the remaining numeric columns other than the label / id columns are grouped by their
   name with trailing digits removed (``emb_12`` -> ``emb_``); if exactly one group exists it
   is the embedding; if several exist (``emb_*`` and ``price``, say) the table is
   *ambiguous* and a :class:`~embaug_core.errors.ColumnChoiceError` asks the user to name
   the embedding (each surface says how: a flag in the CLI, a field on the Data page);
3. if there are no numeric columns, a single column whose cells parse as vectors is
   the embedding.

Row numbers in error messages are 1-based *data rows* (the header is not counted), so
data row 1 is line 2 of a CSV file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from ..errors import DataError
from .readers import (
    check_finite,
    csv_frame,
    detect_format,
    first_bad_row,
    npz_frame,
    parquet_frame,
    read_bytes,
    stack_vectors,
)
from .schema import labels_from, resolve_columns

__all__ = [
    "EmbeddingSet",
    "RawTable",
    "read_table",
    "load_embeddings",
    "from_dataframe",
    "save_embeddings",
    "embeddings_bytes",
]


@dataclass(frozen=True, eq=False)
class EmbeddingSet:
    """A validated embedding table.

    Attributes
    ----------
    embeddings : np.ndarray, shape (n_samples, dim), float32
        C-contiguous embedding matrix.
    labels : np.ndarray, shape (n_samples,), object
        Class name (``str``) per row, or ``None`` for an unlabelled row.
    ids : np.ndarray, shape (n_samples,), object
        Unique row identifiers as strings.
    extra : pandas.DataFrame
        The other columns of the file (n_samples rows), untouched.
    embedding_columns : tuple of str
        Column names the embedding came from (one name for a vector column).
    label_column, id_column : str or None
        The columns used for labels and ids.
    source : str
        File name or description, for messages.
    """

    embeddings: np.ndarray
    labels: np.ndarray
    ids: np.ndarray
    extra: pd.DataFrame = field(repr=False)
    embedding_columns: tuple[str, ...] = ()
    label_column: str | None = None
    id_column: str | None = None
    source: str = "<memory>"

    @property
    def n_samples(self) -> int:
        return int(self.embeddings.shape[0])

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    @property
    def labeled_mask(self) -> np.ndarray:
        """Boolean mask, shape (n_samples,): True where the row has a label."""
        return np.array([lab is not None for lab in self.labels], dtype=bool)

    @property
    def classes(self) -> tuple[str, ...]:
        """Sorted distinct labels (unlabelled rows excluded)."""
        return tuple(sorted({lab for lab in self.labels if lab is not None}))

    def class_counts(self) -> dict[str, int]:
        """Rows per class, largest first."""
        counts = Counter(lab for lab in self.labels if lab is not None)
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def subset(self, index: np.ndarray) -> EmbeddingSet:
        """Rows ``index`` (integer positions or a boolean mask) as a new set."""
        index = np.asarray(index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        return EmbeddingSet(
            embeddings=np.ascontiguousarray(self.embeddings[index]),
            labels=self.labels[index],
            ids=self.ids[index],
            extra=self.extra.iloc[index].reset_index(drop=True),
            embedding_columns=self.embedding_columns,
            label_column=self.label_column,
            id_column=self.id_column,
            source=self.source,
        )

    @property
    def fingerprint(self) -> str:
        """SHA-1 of embeddings, labels and ids: a cache key for results computed from this set."""
        import hashlib

        h = hashlib.sha1(self.embeddings.tobytes())
        h.update("\x1f".join("\x00" if v is None else v for v in self.labels).encode())
        h.update("\x1f".join(self.ids).encode())
        return h.hexdigest()

    @property
    def rows_fingerprint(self) -> str:
        """SHA-1 of embeddings and ids, not labels: the same rows after some were (re)labelled, so results
        of the set before :meth:`with_labels` still index its rows."""
        import hashlib

        h = hashlib.sha1(self.embeddings.tobytes())
        h.update("\x1f".join(self.ids).encode())
        return h.hexdigest()

    def with_labels(self, updates: dict[str, str]) -> EmbeddingSet:
        """A copy whose rows with the given ids get new labels (id -> label)."""
        index = {v: i for i, v in enumerate(self.ids)}
        unknown = [k for k in updates if k not in index]
        if unknown:
            raise DataError(
                f"{len(unknown)} id(s) are not in the data, e.g. {unknown[0]!r}; keep the id column unchanged."
            )
        labels = self.labels.copy()
        for k, v in updates.items():
            labels[index[k]] = v
        return replace(self, labels=labels)

    def summary(self) -> dict:
        """Rows, dimension, classes and unlabelled rows, as plain Python values."""
        return {
            "rows": self.n_samples,
            "dim": self.dim,
            "classes": len(self.classes),
            "unlabelled_rows": int((~self.labeled_mask).sum()),
            "class_counts": self.class_counts(),
        }

    def to_dataframe(self, *, vector_prefix: str = "emb_") -> pd.DataFrame:
        """The table with id, label, extra columns and one column per dimension."""
        cols = {}
        cols[self.id_column or "id"] = self.ids
        cols[self.label_column or "label"] = self.labels
        out = pd.DataFrame(cols)
        for name in self.extra.columns:
            if name not in out.columns:
                out[name] = self.extra[name].to_numpy()
        emb = pd.DataFrame(self.embeddings, columns=[f"{vector_prefix}{i}" for i in range(self.dim)])
        return pd.concat([out, emb], axis=1)


# long: 41 of its 65 lines are the keyword signature and the numpydoc docstring
def from_dataframe(
    frame: pd.DataFrame,
    *,
    label_col: str | None,
    id_col: str | None = None,
    embedding_cols: str | Sequence[str] | None = None,
    vector_col: str | None = None,
    min_classes: int = 2,
    name: str = "<table>",
    _matrix: np.ndarray | None = None,
    _matrix_name: str | None = None,
) -> EmbeddingSet:
    """Validate a DataFrame and build an :class:`EmbeddingSet`.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table; see the module docstring for the expected layout.
    label_col : str or None
        Label column. ``None`` means the table has no labels (prediction only); then
        ``min_classes`` is not checked.
    id_col : str, optional
        Column of unique row identifiers. When omitted, an identifier column is detected
        (:func:`~embaug_core.data.schema.detect_id_columns`: ``id``, ``*_id``, ``Unnamed: 0``, or
        a unique integer column apart from the embedding) and used; none found: row numbers.
        Detected identifiers never count as embedding columns.
    embedding_cols : str or sequence of str, optional
        A prefix (``"emb_"``) or a list of column names holding the embedding.
    vector_col : str, optional
        A single column holding one whole vector per cell.
    min_classes : int, default 2
        Fewest distinct labels required (0 to skip the check).
    name : str
        File name used in error messages.

    Raises
    ------
    DataError
        With the column and data row of the first problem found.
    """
    frame = _checked_frame(frame, name, has_matrix=_matrix is not None)
    found, _ = resolve_columns(
        frame,
        label_col=label_col,
        id_col=id_col,
        embedding_cols=embedding_cols,
        vector_col=vector_col,
        with_embedding=_matrix is None,
        name=name,
    )
    id_col = found.id_col
    matrix, emb_names = _embedding_matrix(frame, found, name, _matrix, _matrix_name)
    reserved = {c for c in (label_col, id_col, *emb_names) if c is not None}
    labels = labels_from(frame[label_col]) if label_col is not None else np.full(len(frame), None, dtype=object)
    if label_col is not None and min_classes:
        n_classes = len({lab for lab in labels if lab is not None})
        if n_classes < min_classes:
            raise DataError(
                f"{name}: label column {label_col!r} has {n_classes} distinct class(es) among labelled rows; "
                f"at least {min_classes} are needed to train a classifier."
            )
    extra = frame[[c for c in frame.columns if c not in reserved]].reset_index(drop=True)
    return EmbeddingSet(
        embeddings=matrix,
        labels=labels,
        ids=_row_ids(frame, id_col, name),
        extra=extra,
        embedding_columns=emb_names,
        label_column=label_col,
        id_column=id_col,
        source=name,
    )


def _checked_frame(frame: pd.DataFrame, name: str, *, has_matrix: bool) -> pd.DataFrame:
    """The frame with string column names, refusing no columns, duplicate names and no rows."""
    if len(frame.columns) == 0 and not has_matrix:
        raise DataError(f"{name}: the file has no columns.")
    cols = [str(c) for c in frame.columns]
    dupes = [c for c, k in Counter(cols).items() if k > 1]
    if dupes:
        raise DataError(f"{name}: duplicate column name(s): {', '.join(map(repr, dupes))}; rename them.")
    frame = frame.copy(deep=False)
    frame.columns = cols
    if len(frame) == 0:
        raise DataError(f"{name}: the table has a header but no data rows.")
    return frame


def _embedding_matrix(frame, found, name, matrix, matrix_name):
    """(embeddings (n, D) float32, the column names they came from), validated finite.

    ``found`` is the :class:`~embaug_core.data.schema.Detected` choice of columns; ``matrix`` an
    NPZ's 2-D array, which takes its place."""
    if matrix is not None:
        if matrix.dtype.kind not in "fiu":
            raise DataError(f"{name}: array {matrix_name!r} is not numeric (dtype {matrix.dtype}).")
        out, names = np.ascontiguousarray(matrix, dtype=np.float32), (matrix_name or "embeddings",)
    else:
        numeric_cols, vcol = list(found.embedding), found.vector_col
        if vcol is not None:
            out, names = stack_vectors(frame[vcol], vcol, name), (vcol,)
        else:
            for c in numeric_cols:
                if not pd.api.types.is_numeric_dtype(frame[c]):
                    first_bad_row(frame[c], c, name)
            out = np.ascontiguousarray(frame[numeric_cols].to_numpy(dtype=np.float32, na_value=np.nan))
            names = tuple(numeric_cols)
    if out.ndim != 2 or out.shape[1] == 0:
        raise DataError(f"{name}: the embedding has no dimensions.")
    check_finite(out, names, name)
    return out, names


def _row_ids(frame: pd.DataFrame, id_col: str | None, name: str) -> np.ndarray:
    """Row ids as strings (n,): the id column, checked unique, or row numbers."""
    if id_col is None:
        return np.array([str(i) for i in range(len(frame))], dtype=object)
    ids = np.array([str(v) for v in frame[id_col].tolist()], dtype=object)
    seen: dict[str, int] = {}
    for i, v in enumerate(ids):
        if v in seen:
            raise DataError(
                f"{name}: id column {id_col!r} repeats {v!r} in data rows {seen[v] + 1} and {i + 1}; "
                "ids must be unique."
            )
        seen[v] = i
    return ids


@dataclass(frozen=True, eq=False)
class RawTable:
    """A parsed but not yet validated table: what the user picks columns from."""

    frame: pd.DataFrame
    name: str
    fmt: str
    matrix: np.ndarray | None = None  # NPZ only: the 2-D embedding array
    matrix_name: str | None = None

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.frame.columns]

    @property
    def n_rows(self) -> int:
        return int(self.matrix.shape[0]) if self.matrix is not None else len(self.frame)

    def to_embeddings(self, **kwargs) -> EmbeddingSet:
        """Validate with the column choices of :func:`from_dataframe` (keyword arguments)."""
        if self.matrix is not None:
            kwargs.pop("embedding_cols", None)
            kwargs.pop("vector_col", None)
            return from_dataframe(
                self.frame, name=self.name, _matrix=self.matrix, _matrix_name=self.matrix_name, **kwargs
            )
        return from_dataframe(self.frame, name=self.name, **kwargs)


def read_table(
    source: str | Path | bytes | BinaryIO,
    *,
    fmt: str | None = None,
    name: str | None = None,
    vector_col: str | None = None,
) -> RawTable:
    """Parse a CSV, Parquet or NPZ file without validating the embedding.

    Raises :class:`DataError` for unreadable files (wrong format, truncated, not UTF-8,
    duplicate column names, pickled arrays).
    """
    data, display = read_bytes(source, name)
    kind = detect_format(display, data[:8], fmt)
    if kind == "csv":
        return RawTable(csv_frame(data, display), display, kind)
    if kind == "parquet":
        return RawTable(parquet_frame(data, display), display, kind)
    frame, key, matrix = npz_frame(data, display, vector_col)
    return RawTable(frame, display, kind, matrix, key)


def load_embeddings(
    source: str | Path | bytes | BinaryIO,
    *,
    label_col: str | None,
    id_col: str | None = None,
    embedding_cols: str | Sequence[str] | None = None,
    vector_col: str | None = None,
    fmt: str | None = None,
    name: str | None = None,
    min_classes: int = 2,
) -> EmbeddingSet:
    """Load and validate an embedding table from CSV, Parquet or NPZ.

    Parameters
    ----------
    source : path, bytes or binary file
        The file. Uploaded bytes are parsed, never unpickled or executed.
    label_col, id_col, embedding_cols, vector_col, min_classes
        See :func:`from_dataframe`. For NPZ, ``vector_col`` names the 2-D array when
        there are several; 1-D arrays are the columns.
    fmt : {"csv", "parquet", "npz"}, optional
        Overrides detection from the file name and its first bytes.
    name : str, optional
        Name used in messages (defaults to the path).

    Returns
    -------
    EmbeddingSet

    Raises
    ------
    DataError
    """
    raw = read_table(source, fmt=fmt, name=name, vector_col=vector_col)
    return raw.to_embeddings(
        label_col=label_col,
        id_col=id_col,
        embedding_cols=embedding_cols,
        vector_col=vector_col,
        min_classes=min_classes,
    )


def embeddings_bytes(dataset: EmbeddingSet, fmt: str = "parquet") -> bytes:
    """The table as file bytes (for a download button): ``fmt`` is csv, parquet or npz."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return save_embeddings(dataset, Path(tmp) / f"embeddings.{fmt}").read_bytes()


def save_embeddings(dataset: EmbeddingSet, path: str | Path) -> Path:
    """Write ``dataset`` as CSV, Parquet or NPZ, chosen by the file extension, atomically."""
    from ..jsonio import write_atomic

    path = Path(path)
    kind = path.suffix.lower().lstrip(".")
    if kind == "npz":
        arrays = {"embeddings": dataset.embeddings, dataset.id_column or "id": dataset.ids.astype(str)}
        arrays[dataset.label_column or "label"] = np.array(["" if v is None else v for v in dataset.labels], dtype=str)
        for col in dataset.extra.columns:
            arrays[col] = dataset.extra[col].to_numpy().astype(str)
        return write_atomic(path, lambda tmp: np.savez_compressed(tmp, **arrays))
    if kind not in ("parquet", "csv"):
        raise DataError(f"{path}: unknown output format {path.suffix!r}; use .csv, .parquet or .npz.")
    frame = dataset.to_dataframe()
    if kind == "parquet":
        return write_atomic(path, lambda tmp: frame.to_parquet(tmp, index=False))
    return write_atomic(path, lambda tmp: frame.to_csv(tmp, index=False))
