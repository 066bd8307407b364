"""Where tensors live: :func:`resolve_device`, shared by training and the embedding models."""

from __future__ import annotations

import torch

from .errors import ConfigError

__all__ = ["resolve_device", "fast_bfloat16"]


def resolve_device(device: str, *, check_only: bool = False) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; validates explicit names."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N.") from None
    if dev.type == "cuda" and not check_only and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} was requested but CUDA is not available here; use auto or cpu.")
    if dev.type not in ("cpu", "cuda"):
        raise ConfigError(f"unsupported device {device!r}; use auto, cpu, cuda or cuda:N.")
    return dev


def fast_bfloat16(device: str) -> bool:
    """Whether ``device`` multiplies bfloat16 matrices natively (AVX512-BF16 or AMX on a CPU, compute
    capability 8.0 or newer on CUDA), so that mixed precision makes training faster, not slower (on a CPU
    without them, bfloat16 is emulated)."""
    dev = resolve_device(device)
    if dev.type == "cuda":
        return torch.cuda.is_bf16_supported()
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)
