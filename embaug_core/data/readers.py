"""Reading CSV, Parquet and NPZ bytes into DataFrames, and parsing vector cells.

Nothing here decides which columns are which (that is :mod:`embaug_core.data.schema`), and
nothing is ever unpickled: NPZ is read with ``allow_pickle=False``.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = [
    "SUPPORTED_FORMATS",
    "read_bytes",
    "detect_format",
    "csv_frame",
    "parquet_frame",
    "npz_frame",
    "first_bad_row",
    "check_finite",
    "stack_vectors",
    "looks_like_vector_column",
]

SUPPORTED_FORMATS = ("csv", "parquet", "npz")
_VECTOR_SPLIT = re.compile(r"[,\s;]+")


def detect_format(name: str, head: bytes, fmt: str | None) -> str:
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
                f"{name}: the file ends in .csv but its content is a "
                f"{'ZIP/NPZ' if by_magic == 'npz' else 'Parquet'} file; "
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


def read_bytes(source: str | Path | bytes | BinaryIO, name: str | None) -> tuple[bytes, str]:
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


def csv_frame(data: bytes, name: str) -> pd.DataFrame:
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
            raise DataError(
                f"{name}: line {line} has {saw} fields but the header has {want}; "
                "every row needs the same number of columns."
            ) from None
        raise DataError(f"{name}: not a well-formed CSV table ({' '.join(str(exc).split())}).") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def parquet_frame(data: bytes, name: str) -> pd.DataFrame:
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


def npz_frame(data: bytes, name: str, vector_col: str | None) -> tuple[pd.DataFrame, str | None, np.ndarray | None]:
    try:
        archive = np.load(io.BytesIO(data), allow_pickle=False)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise DataError(
            f"{name}: cannot read this NPZ file ({exc}); it may be truncated or not an NPZ archive."
        ) from None
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
                raise DataError(
                    f"{name}: array {key!r} has {arr.ndim} dimensions; "
                    "expected 1-D columns and one 2-D embedding array."
                )
    if vector_col is not None:
        if vector_col not in matrices:
            raise DataError(
                f"{name}: no 2-D array named {vector_col!r}; 2-D arrays present: {sorted(matrices) or 'none'}."
            )
        key = vector_col
    elif len(matrices) == 1:
        key = next(iter(matrices))
    elif not matrices:
        key = None
    else:
        raise DataError(
            f"{name}: several 2-D arrays ({', '.join(sorted(matrices))}); "
            "name the embedding with vector_col / --vector-col."
        )
    matrix = matrices.get(key) if key is not None else None
    n = matrix.shape[0] if matrix is not None else (len(next(iter(columns.values()))) if columns else 0)
    for col, arr in columns.items():
        if len(arr) != n:
            raise DataError(f"{name}: array {col!r} has {len(arr)} entries but the table has {n} rows.")
    frame = pd.DataFrame(
        {k: (v.astype(str) if v.dtype.kind in "US" else v) for k, v in columns.items()}, index=range(n)
    )
    return frame, key, matrix


# ----------------------------------------------------------------------- validation


def first_bad_row(values: pd.Series, column: str, name: str) -> None:
    coerced = pd.to_numeric(values, errors="coerce")
    bad = coerced.isna() & values.notna()
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{name}: column {column!r}, data row {pos + 1}: {values.iloc[pos]!r} is not a number.")


def check_finite(matrix: np.ndarray, columns: Sequence[str], name: str) -> None:
    finite = np.isfinite(matrix)
    if finite.all():
        return
    row, col = np.argwhere(~finite)[0]
    col_name = columns[col] if len(columns) == matrix.shape[1] else f"{columns[0]}[{col}]"
    value = matrix[row, col]
    what = "missing (NaN)" if np.isnan(value) else f"infinite ({value})"
    raise DataError(
        f"{name}: column {col_name!r}, data row {row + 1}: value is {what}; embeddings must be finite numbers."
    )


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


def looks_like_vector_column(series: pd.Series) -> bool:
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


def stack_vectors(series: pd.Series, column: str, name: str) -> np.ndarray:
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
