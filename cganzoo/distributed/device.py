"""Device resolution, once for every command: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``."""

from __future__ import annotations

import torch

from cganzoo.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> CUDA if available, else CPU; any other name is checked against this machine.

    Raises:
        ConfigError: not a CPU or CUDA device name, or CUDA was asked for but is not available.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError(f"device {name!r} is not a device; use auto, cpu, cuda or cuda:N") from None
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"device {name!r} is not supported; use auto, cpu, cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available here; use --device cpu or auto")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s) present")
    return device
