"""The training loop, :class:`FitLoop`: batches in, steps, budget and stopping; everything else is a callback.

The loop owns its counters and its stop condition (the pattern of Lightning's
``loops/fit_loop.py``): the step count lives in the training state, the budget
(``total_steps``), the clock, a callback's stop request, stop signals and the
first-batch range check live here. It calls nothing of the trainer: the
trainer builds it from its parts and hands callbacks the trainer itself.

Per step: the next ``d_steps_per_g_step`` batches of the epoch, one call of
the step (:class:`cganzoo.training.step.TrainStep`), the losses recorded on the
device, then every callback's ``on_step_end``. At log and checkpoint steps the
loss window is read back once (the only host sync) and checked for NaN and
infinity. Time spent in callbacks (writing files, evaluating) is left out of
``images_per_s``.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import torch

from cganzoo.errors import DataError
from cganzoo.training.signals import StopRequest, stop_signals_handled

#: Real images may exceed [-1, 1] by this much (float rounding) before the first-batch check objects.
RANGE_TOLERANCE = 1e-3


@dataclass(frozen=True)
class StepEnd:
    """What ``on_step_end`` is told about the step just made.

    Attributes:
        step: Steps done, this one included (1-based).
        epoch: Epoch of this step (0-based).
        d_loss: This step's discriminator loss, 0-dim on the device (reading it syncs).
        g_loss: This step's generator loss, 0-dim on the device.
        losses: float64 ``(n, 2)`` on the CPU, ``(d_loss, g_loss)`` per step of the
            log window, averaged over ranks: read at log and checkpoint steps, else ``None``.
        log: A log step (every ``log_interval`` steps, and the last).
        checkpoint: A checkpoint is due (interval, epoch end, the last step, or a stop).
        finished: The budget is reached.
        stopping: SIGINT or SIGTERM arrived (on any rank): training stops after this step.
    """

    step: int
    epoch: int
    d_loss: torch.Tensor
    g_loss: torch.Tensor
    losses: torch.Tensor | None
    log: bool
    checkpoint: bool
    finished: bool
    stopping: bool


class Clock:
    """Wall time of a ``fit``, and the part of it spent training (callbacks' time left out)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.paused_s = 0.0

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def training(self) -> float:
        return self.elapsed() - self.paused_s

    @contextmanager
    def paused(self) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.paused_s += time.perf_counter() - began


class FitLoop:
    """Train until the budget (``epochs``, ``max_steps``) or until a callback calls :meth:`request_stop`.

    Per step: the next ``d_steps_per_g_step`` batches of the epoch, one call of
    ``step``, the losses recorded on the device, then every callback's
    ``on_step_end``. At log and checkpoint steps the loss window is read back
    once (the only host sync) and checked for NaN and infinity.

    Args:
        host: What callbacks receive as ``trainer`` (the :class:`cganzoo.training.Trainer`).
        state: The :class:`cganzoo.training.TrainingState` the steps change.
        batches: Epoch batches: ``len(batches)`` steps per epoch, ``batches.epoch(epoch, start)``
            yields ``(real, labels)`` from step ``start`` of ``epoch``.
        step: One training step, ``step(real, labels) -> (d_loss, g_loss)`` on the device.
        callbacks: The run's :class:`cganzoo.training.CallbackList`.
        dist: The process context (seeding per step, the mean over ranks).
        recovery: Checks losses and says how to go on after a stop (:class:`~cganzoo.training.recovery.Recovery`).
        seed: The run's seed (each step's RNG is seeded from it and the step).
        log_interval: Steps between log steps.
        checkpoint_interval: Steps between checkpoints; ``None``: the run writes none.
        total_steps: The budget in steps.
        dataset_name: Named in the first-batch range error.
    """

    def __init__(self, host: Any, *, state: Any, batches: Any, step: Callable[..., tuple[torch.Tensor, torch.Tensor]],
                 callbacks: Any, dist: Any, recovery: Any, seed: int, log_interval: int,
                 checkpoint_interval: int | None, total_steps: int, dataset_name: str) -> None:
        self.host, self.state, self.batches, self.step, self.callbacks = host, state, batches, step, callbacks
        self.dist, self.recovery, self.seed = dist, recovery, seed
        self.log_interval, self.checkpoint_interval, self.total_steps = log_interval, checkpoint_interval, total_steps
        self.dataset_name = dataset_name
        self.clock = Clock()
        self.stop_requested = False
        self._range_checked = False

    def request_stop(self) -> None:
        """Return after the current step (a callback's way to end training early)."""
        self.stop_requested = True

    def run(self) -> None:
        """Train from ``state.step`` to the budget or a stop.

        Raises:
            TrainingInterrupted: SIGINT or SIGTERM arrived; the step was finished and
                the callbacks (the checkpoint among them) ran first.
            TrainingDivergedError: a loss became NaN or infinite (named by step and player).
            DataError: the first batch of real images lies outside ``[-1, 1]``.
        """
        state, per_epoch = self.state, len(self.batches)
        self.clock = Clock()
        self.stop_requested = False
        self.callbacks.on_fit_start(self.host)
        try:
            with stop_signals_handled() as stop:
                while state.step < self.total_steps and not self.stop_requested:
                    epoch, start = divmod(state.step, per_epoch)
                    for real, labels in self.batches.epoch(epoch, start):
                        self._check_real_range(real)
                        self.dist.seed_step(self.seed, state.step)
                        d_loss, g_loss = self.step(real, labels)
                        state.losses.record(d_loss, g_loss)
                        state.step += 1
                        end = self._step_end(stop, epoch, d_loss, g_loss)
                        with self.clock.paused():
                            self.callbacks.on_step_end(self.host, end)
                        if end.stopping and not end.finished:
                            raise self.recovery.interrupted(stop, state.step)
                        if end.finished or self.stop_requested:
                            break
        finally:
            self.callbacks.on_fit_end(self.host)

    def _step_end(self, stop: StopRequest, epoch: int, d_loss: torch.Tensor, g_loss: torch.Tensor) -> StepEnd:
        step = self.state.step
        finished = step >= self.total_steps
        stopping = self._stopping(stop)
        log = step % self.log_interval == 0 or finished
        checkpoint = self.checkpoint_interval is not None and (
            step % self.checkpoint_interval == 0 or step % len(self.batches) == 0 or finished or stopping)
        losses = None
        if log or checkpoint:
            losses = self.dist.mean(self.state.losses.read())  # the only host sync
            self.recovery.check_losses(losses, step)
            if log and step % self.log_interval == 0:
                # Logged: a checkpoint of this step starts the next window empty. A final partial
                # window (the budget ended between log steps) is kept and carries on at resume.
                self.state.losses.clear()
        return StepEnd(step, epoch, d_loss, g_loss, losses, log, checkpoint, finished, stopping)

    def _stopping(self, stop: StopRequest) -> bool:
        """Whether a stop signal arrived; under DDP, whether one arrived on any rank.

        Ranks may see a signal at different steps and every rank must stop at the
        same one, so with several ranks the flag is reduced over ranks at log steps
        only (one small collective per ``log_interval`` steps).
        """
        local = stop.signum is not None
        if not self.dist.enabled:
            return local
        if self.state.step % self.log_interval and self.state.step < self.total_steps:
            return False
        flag = torch.tensor([1.0 if local else 0.0], device=self.dist.device)
        return bool(self.dist.mean(flag).item() > 0)

    def _check_real_range(self, real: torch.Tensor) -> None:
        """The first batch must lie in ``[-1, 1]``, the range every generator's output layer produces.

        Raises:
            DataError: it does not (the message gives the range found and how to scale).
        """
        if self._range_checked:
            return
        lo, hi = (v.item() for v in torch.aminmax(real.detach().float()))
        if lo < -1 - RANGE_TOLERANCE or hi > 1 + RANGE_TOLERANCE:
            raise DataError(
                f"real images of data set {self.dataset_name!r} lie in [{lo:.3f}, {hi:.3f}], but generators produce "
                f"[-1, 1] (tanh): the discriminator would tell real from fake by range alone. Scale images to "
                f"[-1, 1] (x / 127.5 - 1 for uint8), not by a mean/std normalisation"
            )
        self._range_checked = True
