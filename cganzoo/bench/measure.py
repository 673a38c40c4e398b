"""Steady-state throughput and peak memory of a training loop.

:func:`measure_fit` times the training loop ``cganzoo run`` uses
(:meth:`cganzoo.training.Trainer.fit`) through a :class:`Stopwatch` callback;
:func:`measure_loop` times a bare step function (the reference pipeline's).
"""

from __future__ import annotations

import math
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from cganzoo.interfaces import Callback

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


class Stopwatch(Callback):
    """Times a ``fit`` at steady state and ends it (``trainer.request_stop()``) when the window is long enough.

    The first ``warmup_steps`` steps are untimed; then steps run until both
    ``min_seconds`` and ``min_steps`` are reached. The clock is read between
    steps only (no device synchronisation per step).
    """

    state_key = "stopwatch"

    def __init__(self, device: torch.device, warmup_steps: int, min_seconds: float, min_steps: int) -> None:
        self.device, self.warmup_steps = device, warmup_steps
        self.min_seconds, self.min_steps = min_seconds, min_steps
        self.memory = PeakMemory(device)
        self.seen = self.steps = 0
        self.began = self.start = self.cpu_start = self.warmup_s = 0.0

    def on_fit_start(self, trainer: Any) -> None:
        self.seen = self.steps = 0
        self.began = time.perf_counter()
        if self.warmup_steps == 0:
            self._start_timing(trainer)

    def _start_timing(self, trainer: Any) -> None:
        _read_back(trainer)  # the warm-up's losses, as the run's log interval would
        synchronize(self.device)
        self.warmup_s = time.perf_counter() - self.began
        self.memory.reset()
        self.start, self.cpu_start = time.perf_counter(), time.process_time()

    def on_step_end(self, trainer: Any, end: Any) -> None:
        self.seen += 1
        if self.seen <= self.warmup_steps:
            if self.seen == self.warmup_steps:
                self._start_timing(trainer)
            return
        self.steps += 1
        if self.steps >= self.min_steps and time.perf_counter() - self.start >= self.min_seconds:
            trainer.request_stop()


def _read_back(trainer: Any) -> float:
    """Read back and clear the losses recorded since the last log step (a host sync)."""
    values = trainer.state.losses.read()
    trainer.state.losses.clear()
    return float(values.sum())


def measure_fit(trainer: Any, *, warmup_steps: int, min_seconds: float, min_steps: int) -> Measurement:
    """Time ``trainer`` (a :class:`cganzoo.training.Trainer` built without a run directory) at steady state.

    Continues the trainer's state from where the last window left it.

    Raises:
        FloatingPointError: the losses are not finite.
    """
    watch = Stopwatch(trainer.device, warmup_steps, min_seconds, min_steps)
    trainer.callbacks.callbacks.append(watch)
    trainer.state.generator.train()
    trainer.state.discriminator.train()
    try:
        trainer.fit()
    finally:
        trainer.callbacks.callbacks.remove(watch)
    value = _read_back(trainer)  # inside the timed window, as a run's log step
    synchronize(trainer.device)
    seconds, cpu_seconds = time.perf_counter() - watch.start, time.process_time() - watch.cpu_start
    if not math.isfinite(value):
        raise FloatingPointError(f"losses became {value} during the benchmark")
    images = watch.steps * trainer.config.batch_size * trainer.config.d_steps_per_g_step
    return Measurement(images_per_s=images / seconds, step_ms=seconds / watch.steps * 1e3, steps=watch.steps,
                       seconds=seconds, warmup_s=watch.warmup_s, peak_memory_mib=watch.memory.peak_mib(),
                       memory_kind=watch.memory.kind, cpu_seconds=cpu_seconds)
