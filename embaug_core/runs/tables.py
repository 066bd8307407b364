"""Stored tables: the data runs were trained on, kept once per content hash, with their owners.

``$EMBAUG_HOME/data/<fingerprint>.npz`` (embeddings, labels and ids; no pickles) and beside it
``<fingerprint>.owners/``, one empty file per user who stored it (named by a hash of the user). Up to
``EMBAUG_DATA_CAP_MB`` (default 2,000 MB) in all; beyond it the least recently used tables are evicted.
:class:`~embaug_core.runs.store.RunStore` stores and reads them for its user; a user reads a table only when
listed among its owners, so keeping one copy of a table two users uploaded tells neither anything.
The same NPZ carries a table to a training's worker process (:func:`write_dataset_npz`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path

import numpy as np

__all__ = ["home", "store_dataset", "load_stored_dataset", "write_dataset_npz", "read_dataset_npz"]


def home() -> Path:
    """``$EMBAUG_HOME`` or ``~/.embaug``: the runs are in its ``runs``, the stored tables in its ``data``."""
    return Path(os.environ.get("EMBAUG_HOME") or Path.home() / ".embaug")


def _data_cap_bytes() -> int:
    return int(float(os.environ.get("EMBAUG_DATA_CAP_MB", "2000")) * 1e6)


def _owners_dir(path: Path) -> Path:
    return path.with_suffix(".owners")


def _owner_file(path: Path, owner: str | None) -> Path:
    """One empty file per owner, named by a hash of the user (None: the machine owner): adding an owner is
    one file created, so two trainings saving the same table at once cannot lose one."""
    name = "machine-owner" if owner is None else hashlib.sha256(str(owner).encode()).hexdigest()
    return _owners_dir(path) / name


def _is_owner(path: Path, owner: str) -> bool:
    return _owner_file(path, owner).exists()


def _add_owner(path: Path, owner: str | None) -> None:
    _owners_dir(path).mkdir(exist_ok=True)
    _owner_file(path, owner).touch()


def store_dataset(dataset, folder: Path, *, owner: str | None = None) -> bool:
    """Keep ``dataset`` (an EmbeddingSet) under ``folder`` by content hash, with ``owner`` among its owners;
    evict the least recently used tables beyond the cap. False when it is the bundled sample or larger
    than the cap."""
    if str(dataset.source).endswith("clinc150_minilm.npz"):
        return False
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{dataset.fingerprint}.npz"
    if path.exists():
        os.utime(path)
        _add_owner(path, owner)
        return True
    size = dataset.embeddings.nbytes + dataset.labels.nbytes + dataset.ids.nbytes
    if size > _data_cap_bytes():
        return False
    tmp = folder / f".tmp-{uuid.uuid4().hex}.npz"
    write_dataset_npz(tmp, dataset)
    _add_owner(path, owner)  # before the table appears: a table is never readable without its owners
    os.replace(tmp, path)
    files = sorted(folder.glob("*.npz"), key=lambda p: p.stat().st_mtime)
    while sum(p.stat().st_size for p in files) > _data_cap_bytes() and len(files) > 1:
        evicted = files.pop(0)  # least recently used first, never the one just saved
        evicted.unlink(missing_ok=True)
        shutil.rmtree(_owners_dir(evicted), ignore_errors=True)
    return True


def load_stored_dataset(fingerprint: str, folder: Path | None = None, *, owner: str | None = None):
    """The EmbeddingSet saved by :func:`store_dataset`, or None when it was evicted. ``owner``: read it
    only when that user is one of its owners (None when not: the same answer as an evicted table)."""
    if folder is None:
        folder = home() / "data"
    path = Path(folder) / f"{fingerprint}.npz"
    if not path.is_file() or (owner is not None and not _is_owner(path, owner)):
        return None
    os.utime(path)
    return read_dataset_npz(path)


def write_dataset_npz(path: Path, dataset, **extra_arrays) -> None:
    """Embeddings, labels (unlabelled rows flagged), ids and source of ``dataset`` as one NPZ (no
    pickles), with ``extra_arrays`` beside them; :func:`read_dataset_npz` reads it back with the same
    fingerprint."""
    np.savez(
        path,
        embeddings=dataset.embeddings,
        labels=np.asarray([("" if v is None else str(v)) for v in dataset.labels], dtype=str),
        unlabelled=np.asarray([v is None for v in dataset.labels]),
        ids=np.asarray([str(v) for v in dataset.ids], dtype=str),
        source=np.asarray(str(dataset.source)),
        **extra_arrays,
    )


def read_dataset_npz(path: Path):
    """The EmbeddingSet of :func:`write_dataset_npz` (embeddings, labels, ids; no extra columns)."""
    import pandas as pd

    from ..data.table import from_dataframe

    with np.load(path, allow_pickle=False) as z:
        emb, labels, unl, ids, source = z["embeddings"], z["labels"], z["unlabelled"], z["ids"], str(z["source"])
    frame = pd.DataFrame(emb, columns=[f"emb_{i}" for i in range(emb.shape[1])])
    frame.insert(0, "label", np.where(unl, None, labels.astype(object)))
    frame.insert(0, "id", ids.astype(object))
    return from_dataframe(frame, label_col="label", id_col="id", min_classes=0, name=source)
