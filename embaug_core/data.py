"""Loading and validating embedding tables.

An *embedding table* is a CSV, Parquet or NPZ file with

* one **label column** (name chosen by the user; an empty cell means an unlabelled row),
* an optional **id column** (unique per row; row numbers are used when absent),
* the **embedding**, either as many numeric columns (``emb_0 ... emb_383``) or as one
  column holding a whole vector per cell (``"[0.1, -0.2, ...]"`` in CSV, a list column
  in Parquet, a 2-D array in NPZ),
* any number of other columns (source text, URLs, ...), kept beside the embedding in
  :attr:`EmbeddingSet.extra` and ignored by training.

Embedding-column detection when the user names none (``embedding_cols=None`` and
``vector_col=None``):

1. numeric columns other than the label / id columns are grouped by their name with
   trailing digits removed (``emb_12`` -> ``emb_``);
2. if exactly one group exists it is the embedding; if several exist (``emb_*`` and
   ``price``, say) the table is *ambiguous* and a :class:`DataError` asks the user to
   name a prefix or a list;
3. if there are no numeric columns, a single column whose cells parse as vectors is
   the embedding.

Row numbers in error messages are 1-based *data rows* (the header is not counted), so
data row 1 is line 2 of a CSV file.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO, Sequence

import numpy as np
import pandas as pd

from .errors import DataError

__all__ = ["EmbeddingSet", "RawTable", "read_table", "load_embeddings", "from_dataframe", "save_embeddings", "embeddings_bytes", "SUPPORTED_FORMATS"]

SUPPORTED_FORMATS = ("csv", "parquet", "npz")
_DIGITS_AT_END = re.compile(r"\d+$")
_VECTOR_SPLIT = re.compile(r"[,\s;]+")


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

    def subset(self, index: np.ndarray) -> "EmbeddingSet":
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

    def with_labels(self, updates: dict[str, str]) -> "EmbeddingSet":
        """A copy whose rows with the given ids get new labels (id -> label)."""
        index = {v: i for i, v in enumerate(self.ids)}
        unknown = [k for k in updates if k not in index]
        if unknown:
            raise DataError(f"{len(unknown)} id(s) are not in the data, e.g. {unknown[0]!r}; keep the id column unchanged.")
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


# --------------------------------------------------------------------------- reading


def _detect_format(name: str, head: bytes, fmt: str | None) -> str:
    if fmt is not None:
        fmt = fmt.lower().lstrip(".")
        if fmt not in SUPPORTED_FORMATS:
            raise DataError(f"{name}: unknown format {fmt!r}; use one of {', '.join(SUPPORTED_FORMATS)}.")
        return fmt
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix in ("pq", "parq"):
        suffix = "parquet"
    if suffix in ("tsv", "txt"):
        suffix = "csv"
    by_magic = None
    if head.startswith(b"PAR1"):
        by_magic = "parquet"
    elif head.startswith(b"PK\x03\x04"):
        by_magic = "npz"
    if suffix in SUPPORTED_FORMATS:
        if suffix == "csv" and by_magic is not None:
            raise DataError(
                f"{name}: the file ends in .csv but its content is a {'ZIP/NPZ' if by_magic == 'npz' else 'Parquet'} file; "
                "rename it or export the table as CSV."
            )
        if suffix in ("parquet", "npz") and by_magic != suffix:
            raise DataError(
                f"{name}: the file ends in .{suffix} but is not a valid {suffix.upper()} file "
                "(wrong signature: truncated or a different format)."
            )
        return suffix
    if by_magic is not None:
        return by_magic
    return "csv"


def _read_bytes(source: str | Path | bytes | BinaryIO, name: str | None) -> tuple[bytes, str]:
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise DataError(f"{path}: no such file.")
        if path.is_dir():
            raise DataError(f"{path}: is a folder; give the path of a CSV, Parquet or NPZ file.")
        return path.read_bytes(), name or str(path)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), name or "<upload>"
    data = source.read()
    return data, name or getattr(source, "name", "<upload>")


def _csv_frame(data: bytes, name: str) -> pd.DataFrame:
    if not data.strip():
        raise DataError(f"{name}: the file is empty; it needs a header row and at least one data row.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{name}: line {line} is not valid UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8."
        ) from None
    if not text.strip():
        raise DataError(f"{name}: the file is empty; it needs a header row and at least one data row.")
    first_line = text.splitlines()[0]
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    header = next(csv.reader([first_line], delimiter=delimiter))
    dupes = [c for c, k in Counter(h.strip() for h in header).items() if k > 1]
    if dupes:
        raise DataError(f"{name}: duplicate column name(s) in the header: {', '.join(map(repr, dupes))}; rename them.")
    try:
        frame = pd.read_csv(io.StringIO(text), sep=delimiter, dtype=None, keep_default_na=True, skipinitialspace=True)
    except pd.errors.ParserError as exc:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if found:
            want, line, saw = found.groups()
            raise DataError(f"{name}: line {line} has {saw} fields but the header has {want}; "
                            "every row needs the same number of columns.") from None
        raise DataError(f"{name}: not a well-formed CSV table ({' '.join(str(exc).split())}).") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _parquet_frame(data: bytes, name: str) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(f"{name}: cannot read this Parquet file ({exc}); it may be truncated or corrupt.") from None
    dupes = [c for c, k in Counter(table.column_names).items() if k > 1]
    if dupes:
        raise DataError(f"{name}: duplicate column name(s): {', '.join(map(repr, dupes))}; rename them.")
    return table.to_pandas()


def _npz_frame(data: bytes, name: str, vector_col: str | None) -> tuple[pd.DataFrame, str | None, np.ndarray | None]:
    try:
        archive = np.load(io.BytesIO(data), allow_pickle=False)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise DataError(f"{name}: cannot read this NPZ file ({exc}); it may be truncated or not an NPZ archive.") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{name}: holds a single array, not an NPZ archive of named arrays.")
    columns: dict[str, np.ndarray] = {}
    matrices: dict[str, np.ndarray] = {}
    with archive:
        for key in archive.files:
            try:
                arr = archive[key]
            except ValueError:
                raise DataError(
                    f"{name}: array {key!r} holds Python objects, which are never unpickled; "
                    "save strings with a fixed-width string dtype (e.g. labels.astype(str))."
                ) from None
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise DataError(f"{name}: array {key!r} cannot be read ({exc}); the file may be truncated.") from None
            if arr.ndim == 2:
                matrices[key] = arr
            elif arr.ndim == 1:
                columns[key] = arr
            else:
                raise DataError(f"{name}: array {key!r} has {arr.ndim} dimensions; expected 1-D columns and one 2-D embedding array.")
    if vector_col is not None:
        if vector_col not in matrices:
            raise DataError(f"{name}: no 2-D array named {vector_col!r}; 2-D arrays present: {sorted(matrices) or 'none'}.")
        key = vector_col
    elif len(matrices) == 1:
        key = next(iter(matrices))
    elif not matrices:
        key = None
    else:
        raise DataError(
            f"{name}: several 2-D arrays ({', '.join(sorted(matrices))}); name the embedding with vector_col / --vector-col."
        )
    matrix = matrices.get(key) if key is not None else None
    n = matrix.shape[0] if matrix is not None else (len(next(iter(columns.values()))) if columns else 0)
    for col, arr in columns.items():
        if len(arr) != n:
            raise DataError(f"{name}: array {col!r} has {len(arr)} entries but the table has {n} rows.")
    frame = pd.DataFrame({k: (v.astype(str) if v.dtype.kind in "US" else v) for k, v in columns.items()}, index=range(n))
    return frame, key, matrix


# ----------------------------------------------------------------------- validation


def _first_bad_row(values: pd.Series, column: str, name: str) -> None:
    coerced = pd.to_numeric(values, errors="coerce")
    bad = coerced.isna() & values.notna()
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{name}: column {column!r}, data row {pos + 1}: {values.iloc[pos]!r} is not a number."
        )


def _check_finite(matrix: np.ndarray, columns: Sequence[str], name: str) -> None:
    finite = np.isfinite(matrix)
    if finite.all():
        return
    row, col = np.argwhere(~finite)[0]
    col_name = columns[col] if len(columns) == matrix.shape[1] else f"{columns[0]}[{col}]"
    value = matrix[row, col]
    what = "missing (NaN)" if np.isnan(value) else f"infinite ({value})"
    raise DataError(f"{name}: column {col_name!r}, data row {row + 1}: value is {what}; embeddings must be finite numbers.")


def _parse_vector_cell(cell, column: str, row: int, name: str) -> np.ndarray:
    if isinstance(cell, (list, tuple, np.ndarray)):
        try:
            return np.asarray(cell, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            raise DataError(f"{name}: column {column!r}, data row {row + 1}: the vector holds a non-number.") from None
    if cell is None or (isinstance(cell, float) and np.isnan(cell)):
        raise DataError(f"{name}: column {column!r}, data row {row + 1}: the vector is missing.")
    text = str(cell).strip().strip("[]()").strip()
    if not text:
        raise DataError(f"{name}: column {column!r}, data row {row + 1}: the vector is empty.")
    parts = [p for p in _VECTOR_SPLIT.split(text) if p]
    try:
        return np.array([float(p) for p in parts], dtype=np.float64)
    except ValueError:
        bad = next(p for p in parts if not _is_float(p))
        raise DataError(f"{name}: column {column!r}, data row {row + 1}: {bad!r} is not a number.") from None


def _is_float(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _looks_like_vector_column(series: pd.Series) -> bool:
    sample = series.dropna().head(5)
    if sample.empty:
        return False
    for cell in sample:
        if isinstance(cell, (list, tuple, np.ndarray)):
            continue
        text = str(cell).strip()
        if not (text.startswith("[") or text.count(",") >= 1 or text.count(" ") >= 2):
            return False
        parts = [p for p in _VECTOR_SPLIT.split(text.strip("[]()")) if p]
        if len(parts) < 2 or not all(_is_float(p) for p in parts[:8]):
            return False
    return True


def _stack_vectors(series: pd.Series, column: str, name: str) -> np.ndarray:
    vectors = [_parse_vector_cell(cell, column, i, name) for i, cell in enumerate(series.tolist())]
    lengths = np.array([len(v) for v in vectors])
    common = Counter(lengths.tolist()).most_common(1)[0][0]
    odd = np.flatnonzero(lengths != common)
    if odd.size:
        row = int(odd[0])
        raise DataError(
            f"{name}: column {column!r} holds vectors of different lengths: {common} in most rows but "
            f"{lengths[row]} in data row {row + 1}; every embedding must have the same dimension."
        )
    return np.asarray(np.stack(vectors), dtype=np.float32)


def _unknown_column(kind: str, col: str, columns: Sequence[str], name: str) -> DataError:
    close = difflib.get_close_matches(col, list(columns), n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    shown = ", ".join(map(repr, list(columns)[:20])) + (" ..." if len(columns) > 20 else "")
    return DataError(f"{name}: no {kind} column {col!r}.{hint} Columns are: {shown}.")


def _choose_embedding_columns(
    frame: pd.DataFrame, reserved: set[str], embedding_cols, vector_col, name: str
) -> tuple[list[str], str | None]:
    """Return (numeric column names, vector column name); exactly one is non-empty."""
    columns = [c for c in frame.columns if c not in reserved]  # reserved is a set
    if vector_col is not None:
        if vector_col not in frame.columns:
            raise _unknown_column("vector", vector_col, frame.columns, name)
        return [], vector_col
    if embedding_cols is not None:
        if isinstance(embedding_cols, str):
            chosen = [c for c in columns if c.startswith(embedding_cols)]
            if not chosen:
                raise DataError(f"{name}: no column starts with the embedding prefix {embedding_cols!r}.")
            if len(chosen) == 1 and _looks_like_vector_column(frame[chosen[0]]):
                return [], chosen[0]
        else:
            chosen = list(embedding_cols)
            missing = [c for c in chosen if c not in frame.columns]
            if missing:
                raise _unknown_column("embedding", missing[0], frame.columns, name)
        return chosen, None
    numeric = [c for c in columns if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]
    numeric_set = set(numeric)
    groups: dict[str, list[str]] = {}
    for c in numeric:
        groups.setdefault(_DIGITS_AT_END.sub("", c), []).append(c)
    if numeric:
        main_prefix, main = max(groups.items(), key=lambda kv: len(kv[1]))
        # Columns named like the embedding columns but read as text hold a non-number somewhere.
        for c in columns:
            if c not in numeric_set and _DIGITS_AT_END.search(c) and _DIGITS_AT_END.sub("", c) == main_prefix:
                _first_bad_row(frame[c], c, name)
                raise DataError(f"{name}: column {c!r} is not numeric.")
        if len(groups) > 1:
            listing = "; ".join(f"{p or '<digits>'}* ({len(cs)} columns)" for p, cs in groups.items())
            raise DataError(
                f"{name}: cannot tell which numeric columns are the embedding ({listing}); "
                "name them with embedding_cols / --embedding-cols (a prefix or a comma-separated list)."
            )
        if len(main) == 1:
            vector_like = [c for c in columns if c not in numeric_set and _looks_like_vector_column(frame[c])]
            if vector_like:
                raise DataError(
                    f"{name}: found one numeric column {main[0]!r} and a vector column {vector_like[0]!r}; "
                    "name the embedding with vector_col / --vector-col or embedding_cols / --embedding-cols."
                )
        return main, None
    vector_like = [c for c in columns if _looks_like_vector_column(frame[c])]
    if len(vector_like) == 1:
        return [], vector_like[0]
    if len(vector_like) > 1:
        raise DataError(
            f"{name}: several columns hold vectors ({', '.join(map(repr, vector_like))}); name one with vector_col / --vector-col."
        )
    raise DataError(
        f"{name}: no embedding found: no numeric columns and no column of vectors besides the label/id columns. "
        f"Columns are: {', '.join(map(repr, frame.columns[:20]))}."
    )


def _labels_from(series: pd.Series) -> np.ndarray:
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
        Column of unique row identifiers.
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
    if len(frame.columns) == 0 and _matrix is None:
        raise DataError(f"{name}: the file has no columns.")
    cols = [str(c) for c in frame.columns]
    dupes = [c for c, k in Counter(cols).items() if k > 1]
    if dupes:
        raise DataError(f"{name}: duplicate column name(s): {', '.join(map(repr, dupes))}; rename them.")
    frame = frame.copy(deep=False)
    frame.columns = cols
    if len(frame) == 0:
        raise DataError(f"{name}: the table has a header but no data rows.")
    reserved: set[str] = set()
    if label_col is not None:
        if label_col not in frame.columns:
            raise _unknown_column("label", label_col, frame.columns, name)
        reserved.add(label_col)
    if id_col is not None:
        if id_col not in frame.columns:
            raise _unknown_column("id", id_col, frame.columns, name)
        reserved.add(id_col)

    if _matrix is not None:
        matrix = np.ascontiguousarray(_matrix, dtype=np.float32) if _matrix.dtype.kind in "fiu" else None
        if matrix is None:
            raise DataError(f"{name}: array {_matrix_name!r} is not numeric (dtype {_matrix.dtype}).")
        emb_names: tuple[str, ...] = (_matrix_name or "embeddings",)
    else:
        numeric_cols, vcol = _choose_embedding_columns(frame, reserved, embedding_cols, vector_col, name)
        if vcol is not None:
            matrix = _stack_vectors(frame[vcol], vcol, name)
            emb_names = (vcol,)
        else:
            for c in numeric_cols:
                if not pd.api.types.is_numeric_dtype(frame[c]):
                    _first_bad_row(frame[c], c, name)
            matrix = np.ascontiguousarray(frame[numeric_cols].to_numpy(dtype=np.float32, na_value=np.nan))
            emb_names = tuple(numeric_cols)
        reserved.update(emb_names)
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise DataError(f"{name}: the embedding has no dimensions.")
    _check_finite(matrix, emb_names, name)

    labels = _labels_from(frame[label_col]) if label_col is not None else np.full(len(frame), None, dtype=object)
    if id_col is not None:
        ids = np.array([str(v) for v in frame[id_col].tolist()], dtype=object)
        seen: dict[str, int] = {}
        for i, v in enumerate(ids):
            if v in seen:
                raise DataError(
                    f"{name}: id column {id_col!r} repeats {v!r} in data rows {seen[v] + 1} and {i + 1}; ids must be unique."
                )
            seen[v] = i
    else:
        ids = np.array([str(i) for i in range(len(frame))], dtype=object)
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
        ids=ids,
        extra=extra,
        embedding_columns=emb_names,
        label_column=label_col,
        id_column=id_col,
        source=name,
    )


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
            return from_dataframe(self.frame, name=self.name, _matrix=self.matrix, _matrix_name=self.matrix_name, **kwargs)
        return from_dataframe(self.frame, name=self.name, **kwargs)


def read_table(
    source: str | Path | bytes | BinaryIO, *, fmt: str | None = None, name: str | None = None,
    vector_col: str | None = None,
) -> RawTable:
    """Parse a CSV, Parquet or NPZ file without validating the embedding.

    Raises :class:`DataError` for unreadable files (wrong format, truncated, not UTF-8,
    duplicate column names, pickled arrays).
    """
    data, display = _read_bytes(source, name)
    kind = _detect_format(display, data[:8], fmt)
    if kind == "csv":
        return RawTable(_csv_frame(data, display), display, kind)
    if kind == "parquet":
        return RawTable(_parquet_frame(data, display), display, kind)
    frame, key, matrix = _npz_frame(data, display, vector_col)
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
    return raw.to_embeddings(label_col=label_col, id_col=id_col, embedding_cols=embedding_cols,
                             vector_col=vector_col, min_classes=min_classes)


def embeddings_bytes(dataset: EmbeddingSet, fmt: str = "parquet") -> bytes:
    """The table as file bytes (for a download button): ``fmt`` is csv, parquet or npz."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return save_embeddings(dataset, Path(tmp) / f"embeddings.{fmt}").read_bytes()


def save_embeddings(dataset: EmbeddingSet, path: str | Path) -> Path:
    """Write ``dataset`` as CSV, Parquet or NPZ, chosen by the file extension, atomically."""
    from .jsonio import write_atomic

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
