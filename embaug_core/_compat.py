"""The single place that works around a broken torchvision install.

Why: on machines with the CPU-only build of torch (``torch==2.13.0+cpu``) pip can only
install the CUDA build of ``torchvision==0.28.0`` (there is no CPU wheel). Its compiled
operators then fail to load, and ``import torchvision`` dies at import time with
``RuntimeError: operator torchvision::nms does not exist``, because
``torchvision/_meta_registrations.py`` registers fake kernels for ``torchvision::nms``
and ``torchvision::qnms`` unconditionally. ``timm`` imports torchvision, and so does
``transformers`` whenever torchvision is installed, so neither could be used.

What: only when that exact failure happens, the two operator *schemas* are defined with
``torch.library`` and the import is retried. The compiled detection kernels (NMS, RoI
align...) stay unavailable; embaug never calls them (it needs torchvision only for the
image transforms timm uses).
"""

from __future__ import annotations

import sys

_SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}
_library = None  # keeps the torch.library.Library alive (its definitions die with it)


def ensure_torchvision() -> bool:
    """Make ``import torchvision`` work if it can; return whether torchvision imports.

    Call before importing ``timm`` or ``transformers`` model classes.
    """
    global _library
    try:
        import torchvision

        return True
    except ModuleNotFoundError:
        return False  # not installed: transformers works without it
    except RuntimeError as exc:
        if "torchvision::" not in str(exc) or "does not exist" not in str(exc):
            raise
    import torch

    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]  # drop the half-imported package before retrying
    _library = torch.library.Library("torchvision", "FRAGMENT")
    for op, schema in _SCHEMAS.items():
        if not torch._C._dispatch_has_kernel(f"torchvision::{op}") and not _has_schema(op):
            _library.define(schema)
    import torchvision  # noqa: F401

    return True


def _has_schema(op: str) -> bool:
    import torch

    try:
        getattr(torch.ops.torchvision, op)
        return True
    except (AttributeError, RuntimeError):
        return False
