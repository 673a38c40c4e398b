"""The training loop, ``fit``: batches in, steps, budget and stopping; everything else is a callback.

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
from typing import TYPE_CHECKING, Iterator

import torch

from cganzoo.training.signals import StopRequest, stop_signals_handled

if TYPE_CHECKING:
    from cganzoo.training.trainer import Trainer


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


def fit(trainer: Trainer) -> None:
    """Train until the budget (``epochs``, ``max_steps``) or until a callback calls ``trainer.request_stop()``.

    Raises:
        TrainingInterrupted: SIGINT or SIGTERM arrived; the step was finished and
            the callbacks (the checkpoint among them) ran first.
        TrainingDivergedError: a loss became NaN or infinite (named by step and player).
        DataError: the first batch of real images lies outside ``[-1, 1]``.
    """
    state, per_epoch = trainer.state, len(trainer.batches)
    trainer.clock = Clock()
    trainer.stop_requested = False
    trainer.callbacks.on_fit_start(trainer)
    try:
        with stop_signals_handled() as stop:
            while state.step < trainer.total_steps and not trainer.stop_requested:
                epoch, start = divmod(state.step, per_epoch)
                for real, labels in trainer.batches.epoch(epoch, start):
                    trainer.check_real_range(real)
                    trainer.dist.seed_step(trainer.config.seed, state.step)
                    d_loss, g_loss = trainer.train_step(real, labels)
                    state.losses.record(d_loss, g_loss)
                    state.step += 1
                    end = _step_end(trainer, stop, epoch, d_loss, g_loss)
                    with trainer.clock.paused():
                        trainer.callbacks.on_step_end(trainer, end)
                    if end.stopping and not end.finished:
                        raise trainer.interrupted(stop)
                    if end.finished or trainer.stop_requested:
                        break
    finally:
        trainer.callbacks.on_fit_end(trainer)


def _step_end(trainer: Trainer, stop: StopRequest, epoch: int, d_loss: torch.Tensor, g_loss: torch.Tensor) -> StepEnd:
    cfg, step = trainer.config, trainer.state.step
    finished = step >= trainer.total_steps
    stopping = trainer.stopping(stop)
    log = step % cfg.log_interval == 0 or finished
    checkpoint = trainer.run_dir is not None and (
        step % cfg.checkpoint_interval == 0 or step % len(trainer.batches) == 0 or finished or stopping)
    losses = None
    if log or checkpoint:
        losses = trainer.dist.mean(trainer.state.losses.read())  # the only host sync
        trainer.check_losses(losses)
        if log and step % cfg.log_interval == 0:
            # Logged: a checkpoint of this step starts the next window empty. A final partial
            # window (the budget ended between log steps) is kept and carries on at resume.
            trainer.state.losses.clear()
    return StepEnd(step, epoch, d_loss, g_loss, losses, log, checkpoint, finished, stopping)
