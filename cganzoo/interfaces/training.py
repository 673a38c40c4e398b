"""What optimizer and callback plugins implement: :class:`ScheduledOptimizer`, :class:`Callback`,
:class:`SamplingGenerator` (``register_optimizers``, ``register_callbacks``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn




@dataclass
class ScheduledOptimizer:
    """An optimizer whose hyper-parameters follow a schedule (see ``register_optimizers``).

    A ``register_optimizers`` factory returns one of these, or a plain
    ``torch.optim.Optimizer`` when nothing follows a schedule. The runner calls
    the optimizer's ``zero_grad`` and ``step`` and the schedule; the
    optimizer's ``state_dict`` is checkpointed.

    Attributes:
        optimizer: The ``torch.optim.Optimizer`` the runner steps.
        schedule: ``schedule(optimizer, update)`` sets the hyper-parameters
            (``param_groups``' ``lr``, ``momentum``...) of the update made
            when ``update`` updates were already made (0-based). A pure
            function of ``update``, so a resumed run restores it exactly.
    """

    optimizer: torch.optim.Optimizer
    schedule: Callable[[torch.optim.Optimizer, int], None]


@dataclass(frozen=True)
class SamplingGenerator:
    """A generator to sample from instead of the trained one (e.g. an EMA of its weights).

    Attributes:
        label: Short name used in file names and output (``"ema"``): its weights
            are checkpointed as ``generator_<label>.safetensors``.
        module: A :class:`ConditionalGenerator` with the trained one's architecture.
        description: One line for users, e.g. ``"EMA of G's weights, decay 0.999"``.
    """

    label: str
    module: nn.Module
    description: str


class Callback:
    """A training callback: hooks the training loop calls at fixed points (the PyTorch Lightning pattern).

    Subclass it and override what you need; every hook is a no-op here. Hooks
    receive the :class:`cganzoo.training.Trainer` (``trainer.state`` holds G,
    D, the optimizers and the step; ``trainer.config`` the run config;
    ``trainer.run_dir`` the output directory, ``None`` when the run writes no
    files, as in ``cganzoo bench``; ``trainer.dist.is_main`` is true on the one
    process that writes outputs).

    Order of hooks: ``setup`` once when the trainer is built, then per ``fit``
    ``on_fit_start``; per step ``on_step_end`` of every callback, in the run's
    order (the config's ``callbacks`` first, then the built-in metrics log,
    progress bar, sample grids, checkpoints and evaluation); the built-ins
    emit ``on_log``, ``on_samples``, ``on_checkpoint`` and ``on_evaluation`` to
    every callback as they write. ``on_fit_end`` runs when ``fit`` returns or
    raises.

    A callback with state that a resumed run needs (counters, averaged
    weights) returns it from :meth:`state_dict` (tensors and JSON values; keys
    are strings) and takes it back in :meth:`load_state_dict`; the checkpoint
    stores it under :attr:`state_key`. A callback never calls ``backward()``
    or an optimizer's ``step()``: the training step is the only place that does.
    """

    #: Key of this callback's state in a checkpoint; unique within a run (default: the registered name).
    state_key: str = ""

    def setup(self, trainer: Any) -> None:
        """Once, when the trainer is built: after G and D exist, before a checkpoint is restored and before
        the fast path wraps their forward passes (a copy made here is a plain module)."""

    def on_fit_start(self, trainer: Any) -> None:
        """Before the first step of this ``fit`` (after a resume restored the state)."""

    def on_step_end(self, trainer: Any, end: Any) -> None:
        """After each training step; ``end`` is a :class:`cganzoo.training.StepEnd` (step, losses, flags)."""

    def on_log(self, trainer: Any, record: dict[str, Any]) -> None:
        """A metrics record was logged: ``{"epoch", "step", "d_loss", "g_loss", "images_per_s", "elapsed_s"}``."""

    def on_samples(self, trainer: Any, images: torch.Tensor, path: Any) -> None:
        """A sample grid was drawn: float ``(rows * 10, C, H, W)`` in ``[-1, 1]``, row ``i`` class ``i``; ``path`` of its PNG."""

    def on_checkpoint(self, trainer: Any, path: Any) -> None:
        """A checkpoint was written to the directory ``path``."""

    def on_evaluation(self, trainer: Any, record: dict[str, Any]) -> None:
        """An evaluation finished: ``{"epoch", "step", "eval": report}`` (see ``cganzoo eval --json``)."""

    def on_fit_end(self, trainer: Any) -> None:
        """After the last step, or when training stops with an error (close files here)."""

    def state_dict(self) -> dict[str, Any]:
        """State a resumed run needs; tensors and JSON-serialisable values."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""

    def sampling_generator(self) -> SamplingGenerator | None:
        """A generator that sample grids, ``cganzoo sample``, ``cganzoo eval`` and ``cganzoo.load`` should use instead of G."""
        return None
