"""A trained head on disk: ``head.json`` (what it is, how it was trained), ``head.safetensors`` (its
weights) and ``scores.safetensors`` (its none scores' bank), written atomically and read back without
pickle, every file checked against the checksums head.json keeps.

The model's shape comes from its saved :class:`~embaug_core.training.config.TrainConfig`
(:func:`~embaug_core.training.models.build_model`), so an ensemble or logistic regression loads like one
MLP head.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..device import resolve_device
from ..errors import ModelFileError
from ..jsonio import write_atomic, write_json_atomic
from .config import TrainConfig
from .engine import EpochRecord
from .models import build_model

__all__ = ["MODEL_SCHEMA", "MODEL_SCHEMA_VERSION", "write_head", "read_head", "sha256_of"]

MODEL_SCHEMA = "embaug.head"
MODEL_SCHEMA_VERSION = 1


def write_head(head, directory: str | Path) -> Path:
    """Write ``head.safetensors`` and ``head.json`` into ``directory``.

    Files are written to temporary names and renamed, so an interrupted save never
    leaves a half-written head behind.
    """
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in head.model.state_dict().items()}
    weights = directory / "head.safetensors"
    write_atomic(weights, lambda tmp: save_file(tensors, str(tmp)))
    meta = {
        "schema": MODEL_SCHEMA,
        "version": MODEL_SCHEMA_VERSION,
        "method": head.method,
        "class_names": list(head.class_names),
        "input_dim": head.input_dim,
        "config": head.config.to_dict(),
        "hyperparameters": {
            "alpha": head.config.alpha,
            "softness": head.config.softness,
            "soft_mass": head.config.soft_mass,
        },
        "history": [r.to_dict() for r in head.history],
        "metadata": head.metadata,
        "weights_sha256": sha256_of(weights),
    }
    if head.scores is not None:
        from safetensors.numpy import save_file as save_arrays

        arrays = {k: np.ascontiguousarray(v) for k, v in head.scores.arrays().items()}
        bank = directory / "scores.safetensors"
        write_atomic(bank, lambda tmp: save_arrays(arrays, str(tmp)))
        meta["scores"] = {**head.scores.meta(), "sha256": sha256_of(bank)}
    write_json_atomic(directory / "head.json", meta)
    return directory


def read_head(directory: str | Path, *, device: str = "cpu") -> dict:
    """The fields of a :class:`~embaug_core.training.trained_head.TrainedHead` saved by :func:`write_head`, checked
    against head.json and its checksums; never unpickles anything."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    directory = Path(directory)
    meta_path, weights = directory / "head.json", directory / "head.safetensors"
    if not directory.is_dir():
        raise ModelFileError(f"{directory}: no such model folder (expected head.json and head.safetensors inside).")
    for p in (meta_path, weights):
        if not p.exists():
            raise ModelFileError(f"{directory}: missing {p.name}; this is not a folder written by 'embaug train'.")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{meta_path}: not valid JSON ({exc}).") from None
    if not isinstance(meta, dict) or meta.get("schema") != MODEL_SCHEMA:
        raise ModelFileError(f"{meta_path}: not an embaug head description (schema {MODEL_SCHEMA!r} expected).")
    if meta.get("version") != MODEL_SCHEMA_VERSION:
        raise ModelFileError(
            f"{meta_path}: version {meta.get('version')!r} is not supported (expected {MODEL_SCHEMA_VERSION})."
        )
    try:
        config = TrainConfig.from_dict({**meta["config"], "device": device})
        class_names = tuple(str(c) for c in meta["class_names"])
        input_dim = int(meta["input_dim"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{meta_path}: incomplete or invalid description ({exc}).") from None
    expected = meta.get("weights_sha256")
    if expected and expected != sha256_of(weights):
        raise ModelFileError(
            f"{weights}: the weights do not match head.json (checksum differs); the folder was altered."
        )
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{weights}: not a readable safetensors file ({exc}).") from None
    model = build_model(input_dim, len(class_names), config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelFileError(
            f"{weights}: weights do not fit the described head ({str(exc).splitlines()[0]})."
        ) from None
    model.to(resolve_device(device)).eval()
    history = [EpochRecord.from_dict(r) for r in meta.get("history", [])]
    return dict(
        model=model,
        class_names=class_names,
        config=config,
        input_dim=input_dim,
        history=history,
        metadata=meta.get("metadata", {}),
        scores=_read_scores(directory, meta.get("scores")),
    )


def _read_scores(directory: Path, meta: dict | None):
    """The score bank saved beside a head, checked against head.json; None for a head without one."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file as load_arrays

    from ..evaluation.scores import ScoreBank

    if meta is None:
        return None
    path = directory / "scores.safetensors"
    if not path.exists():
        raise ModelFileError(f"{directory}: missing scores.safetensors, which head.json describes.")
    if meta.get("sha256") != sha256_of(path):
        raise ModelFileError(f"{path}: does not match head.json (checksum differs); the folder was altered.")
    try:
        return ScoreBank.from_saved(load_arrays(str(path)), meta)
    except (SafetensorError, OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{path}: not a readable score bank ({exc}).") from None


def sha256_of(path: Path) -> str:
    """The hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
