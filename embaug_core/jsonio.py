"""Every file embaug writes goes through :func:`write_atomic`; JSON values are NaN-free.

* :func:`write_atomic` writes through a temporary file beside the target and renames it
  into place: a reader never sees a half-written file, and an interrupted write leaves the
  old one. :func:`write_json_atomic`, :func:`write_text_atomic` and
  :func:`write_frame_atomic` are its three common uses.
* JSON has no NaN: :func:`jsonable` turns NaN/inf into ``None`` (and numpy scalars into
  Python ones) on the way out, :func:`nan_to_none` does it for one value, and
  :func:`none_to_nan` turns ``None`` back into NaN on the way in.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = [
    "jsonable",
    "nan_to_none",
    "none_to_nan",
    "write_atomic",
    "write_json_atomic",
    "write_text_atomic",
    "write_frame_atomic",
]


def jsonable(obj):
    """``obj`` with NaN/inf turned into ``None`` and numpy scalars/arrays into Python ones."""
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def nan_to_none(value):
    """One value for JSON: NaN/inf -> None, numpy scalars -> Python scalars."""
    return jsonable(value)


def none_to_nan(values) -> np.ndarray:
    """A float64 array (n,) from JSON values, ``None`` -> NaN (a scalar gives shape ())."""
    if isinstance(values, (list, tuple)):
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return np.asarray(np.nan if values is None else values, dtype=np.float64)


def write_atomic(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` for a temporary path beside ``path``, then rename it into place.

    The temporary name keeps the target's suffix (writers such as pandas and safetensors
    choose the format by it). On any error the temporary file is removed and the old
    ``path``, if any, is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) atomically."""
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json_atomic(path: str | Path, obj) -> Path:
    """Write ``jsonable(obj)`` atomically, indented, with no NaN."""
    return write_text_atomic(path, json.dumps(jsonable(obj), indent=2, allow_nan=False))


def write_frame_atomic(path: str | Path, frame) -> Path:
    """Write a pandas DataFrame as CSV (no index) atomically."""
    return write_atomic(path, lambda tmp: frame.to_csv(tmp, index=False))
