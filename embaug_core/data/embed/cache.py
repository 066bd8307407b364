"""The on-disk embedding cache: ``<key>.npy`` files keyed by a SHA-256 of inputs and model."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ...jsonio import write_atomic

__all__ = ["EmbeddingCache", "Progress", "device"]

Progress = Callable[[int, int], None]


def device(name: str):
    """A torch device from a name (``auto``, ``cpu``, ``cuda``), validated."""
    from ...device import resolve_device

    return resolve_device(name)


class EmbeddingCache:
    """Embeddings on disk as ``<key>.npy``, keyed by a SHA-256 of inputs and model.

    Files are written atomically and read with ``allow_pickle=False``.
    """

    def __init__(self, directory: str | Path | None = None):
        default = os.environ.get("EMBAUG_CACHE_DIR") or Path.home() / ".cache" / "embaug"
        self.directory = Path(directory or default)

    @staticmethod
    def key(*parts) -> str:
        h = hashlib.sha256()
        for part in parts:
            if isinstance(part, (bytes, bytearray)):
                h.update(part)
            else:
                h.update(json.dumps(part, sort_keys=True, default=str).encode())
            h.update(b"\x1e")
        return h.hexdigest()

    def get(self, key: str) -> np.ndarray | None:
        path = self.directory / f"{key}.npy"
        if not path.exists():
            return None
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None  # a damaged cache entry is recomputed

    def put(self, key: str, array: np.ndarray) -> None:
        try:
            write_atomic(
                self.directory / f"{key}.npy", lambda tmp: np.save(tmp, np.ascontiguousarray(array), allow_pickle=False)
            )
        except OSError:
            pass  # a read-only cache must not stop the work
