"""What the benchmark ran on: processor, accelerator, memory, software, and how busy the machine was."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import torch

from cganzoo.training.build import package_versions

#: CPU flags that decide the speed of fp32 and bf16 matrix products.
_CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16")


def _cpuinfo() -> dict[str, str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    info: dict[str, str] = {}
    for line in text.splitlines():
        if ":" in line:
            key, value = (part.strip() for part in line.split(":", 1))
            info.setdefault(key, value)
    return info


def _mem_total_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def load_average() -> tuple[float, float, float] | None:
    """1, 5 and 15-minute load averages (runnable processes), or ``None`` where unknown."""
    try:
        return os.getloadavg()
    except OSError:
        return None


def format_threads(count: int) -> str:
    """``1`` -> ``"1 thread"``, ``2`` -> ``"2 threads"``."""
    return f"{count} thread{'' if count == 1 else 's'}"


def format_load(value: tuple[float, float, float] | None) -> str:
    """``(1.5, 2.0, 2.25)`` -> ``"1.50, 2.00, 2.25"`` (the 1, 5 and 15 minute averages); ``"unknown"`` if absent."""
    return ", ".join(f"{v:.2f}" for v in value) if value else "unknown"


def describe_machine(device: torch.device) -> dict[str, Any]:
    """A JSON-able description of the machine and the software benchmarked.

    Keys: ``processor``, ``logical_cpus``, ``torch_threads``, ``cpu_flags``,
    ``cpu_capability`` (the SIMD level PyTorch dispatches to), ``memory_gib``,
    ``accelerator`` (CUDA device name, capability and memory, or ``None``),
    ``platform``, ``versions``, ``load_average_start``, ``bf16`` (``{"native": bool,
    "detail": str}``: whether bf16 matrix products run natively on the device).
    """
    from cganzoo.training import fastpath

    cpu = _cpuinfo()
    flags = set(cpu.get("flags", "").split())
    accelerator = None
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        accelerator = {"name": props.name, "capability": f"{props.major}.{props.minor}",
                       "memory_gib": round(props.total_memory / 2**30, 1), "cuda": torch.version.cuda}
    return {
        "processor": cpu.get("model name") or platform.processor() or platform.machine(),
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cpu_flags": [f for f in _CPU_FLAGS if f in flags],
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "memory_gib": _mem_total_gib(),
        "accelerator": accelerator,
        "platform": platform.platform(),
        "versions": package_versions(),
        "load_average_start": load_average(),
        "bf16": dict(zip(("native", "detail"), fastpath.bf16_support(device))),
    }
