"""Steady-state throughput and peak memory of a training loop."""

from __future__ import annotations

import math
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass(frozen=True)
class Measurement:
    """One timed training loop.

    Attributes:
        images_per_s: Training images per second over the timed steps.
        step_ms: Mean wall time of one step (G update + D update), ms.
        steps: Steps timed (after warm-up).
        seconds: Wall time of the timed steps, s.
        warmup_s: Wall time of the warm-up steps (includes compilation or graph capture), s.
        peak_memory_mib: Peak during the timed steps: process resident set size on
            CPU (VmHWM, reset before timing where Linux allows it), max allocated on CUDA; MiB.
        memory_kind: What ``peak_memory_mib`` measures.
        cpu_seconds: Processor time of the whole process (all threads) over the timed
            steps, s. On a shared machine, ``steps * batch / cpu_seconds`` (images
            per CPU-second) is far less disturbed by other work than wall-clock
            images/s; it is not a substitute for a quiet machine.
    """

    images_per_s: float
    step_ms: float
    steps: int
    seconds: float
    warmup_s: float
    peak_memory_mib: float
    memory_kind: str
    cpu_seconds: float


class PeakMemory:
    """Peak memory of this process on ``device`` since :meth:`reset`."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.kind = "CUDA max allocated" if device.type == "cuda" else "process peak RSS"

    def reset(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            return
        try:  # "5" resets VmHWM to the current RSS (Linux >= 4.0)
            _CLEAR_REFS.write_text("5")
        except OSError:
            self.kind = "process peak RSS (since start)"

    def peak_mib(self) -> float:
        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.device) / 2**20
        try:
            for line in _STATUS.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def synchronize(device: torch.device) -> None:
    """Wait for queued work on ``device`` (a no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_loop(step: Callable[[], None], finish: Callable[[], float], *, batch_size: int, device: torch.device,
                 warmup_steps: int, min_seconds: float, min_steps: int) -> Measurement:
    """Time ``step()`` at steady state.

    Runs ``warmup_steps`` untimed steps, then steps until both ``min_seconds``
    and ``min_steps`` are reached. The clock is only read between steps (no
    device synchronisation per step); ``finish()`` is called once at the end,
    inside the timed window, and must read back the accumulated losses (the
    host sync a run does at its log interval) and return a float.

    Raises:
        FloatingPointError: the accumulated losses are not finite.
    """
    memory = PeakMemory(device)
    start = time.perf_counter()
    for _ in range(warmup_steps):
        step()
    finish()
    synchronize(device)
    warmup_s = time.perf_counter() - start
    memory.reset()
    steps, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while steps < min_steps or time.perf_counter() - start < min_seconds:
        step()
        steps += 1
    value = finish()
    synchronize(device)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    if not math.isfinite(value):
        raise FloatingPointError(f"losses became {value} during the benchmark")
    return Measurement(images_per_s=steps * batch_size / seconds, step_ms=seconds / steps * 1e3, steps=steps,
                       seconds=seconds, warmup_s=warmup_s, peak_memory_mib=memory.peak_mib(),
                       memory_kind=memory.kind, cpu_seconds=cpu_seconds)
