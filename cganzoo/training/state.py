"""The training state: everything a step changes and a checkpoint must hold to resume exactly.

G and D, both players' optimizers, the run's noise generator, the step
counter, the fixed sample-grid noise, the losses of the current log window,
and the process-wide random number generators a component might draw from
(torch's, CUDA's, Python's ``random``, NumPy's). :meth:`TrainingState.state_dict`
splits all of it but the module weights into tensors (for safetensors) and
JSON; the checkpoint stores the weights itself. Callback state is stored next
to it by :mod:`cganzoo.training.checkpointing`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from cganzoo.runs.checkpoint import flatten_optimizer_state, unflatten_optimizer_state
from cganzoo.training.nonfinite import LossWindow, first_non_finite
from cganzoo.components.composition import ConditionalDiscriminator, ConditionalGenerator
from cganzoo.interfaces import ScheduledOptimizer


@dataclass
class Optimizers:
    """The two players' optimizers, each with its schedule.

    Attributes:
        generator: Steps ``G``'s parameters (``.optimizer``), ``.schedule(optimizer, update)``.
        discriminator: Steps ``D``'s parameters.
    """

    generator: ScheduledOptimizer
    discriminator: ScheduledOptimizer

    #: Checkpoint keys of each player's optimizer state (the format of the first release).
    KEYS = (("generator", "opt_g"), ("discriminator", "opt_d"))


@dataclass
class TrainingState:
    """What training changes, in one place.

    Attributes:
        generator: ``G`` (unwrapped: no DDP, the modules whose weights are saved).
        discriminator: ``D`` (unwrapped).
        optimizers: Both players' optimizers.
        noise: The run's noise generator on the training device (``z``, the
            generator's labels, penalties' draws; see :class:`cganzoo.components.randomness.BatchNoise`).
        fixed_z: float ``(rows * 10, latent_dim)``: the sample grid's noise, the same all run long.
        fixed_y: int64 ``(rows * 10,)``: the sample grid's labels, row ``i`` class ``i``.
        losses: Per-step ``(d_loss, g_loss)`` of the current log window, on the device.
        step: Training steps done (each: one G update and ``d_steps_per_g_step`` D updates).
    """

    generator: ConditionalGenerator
    discriminator: ConditionalDiscriminator
    optimizers: Optimizers
    noise: torch.Generator
    fixed_z: torch.Tensor
    fixed_y: torch.Tensor
    losses: LossWindow
    step: int = 0

    @property
    def device(self) -> torch.device:
        return self.fixed_z.device

    def state_dict(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Everything but the module weights, as ``(tensors, json)``.

        Tensor keys: ``opt_g.*``, ``opt_d.*`` (optimizer moments), ``rng.torch``,
        ``rng.cuda`` (on CUDA), ``rng.noise``, ``rng.numpy``, ``fixed_z``,
        ``fixed_y``, ``loss_window``. JSON keys: ``step``, ``optimizers``,
        ``python_random``, ``numpy_random``.
        """
        tensors: dict[str, torch.Tensor] = {}
        optimizers: dict[str, Any] = {}
        for role, key in Optimizers.KEYS:
            flat, meta = flatten_optimizer_state(key, getattr(self.optimizers, role).optimizer.state_dict())
            tensors.update(flat)
            optimizers[key] = meta
        np_kind, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
        tensors.update({"rng.torch": torch.get_rng_state(), "rng.noise": self.noise.get_state(),
                        "rng.numpy": torch.from_numpy(np.asarray(np_keys, dtype=np.int64)),
                        "fixed_z": self.fixed_z, "fixed_y": self.fixed_y, "loss_window": self.losses.state()})
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        version, internal, gauss = random.getstate()
        meta = {"step": self.step, "optimizers": optimizers, "python_random": [version, list(internal), gauss],
                "numpy_random": {"kind": np_kind, "pos": int(np_pos), "has_gauss": int(np_has_gauss),
                                 "cached_gaussian": float(np_gauss)}}
        return tensors, meta

    def load_state_dict(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (the module weights are loaded by the caller).

        Raises:
            KeyError, ValueError, RuntimeError, TypeError, IndexError: the state is
                incomplete or does not fit this run (the caller names the checkpoint).
        """
        for role, key in Optimizers.KEYS:
            getattr(self.optimizers, role).optimizer.load_state_dict(
                unflatten_optimizer_state(key, tensors, meta["optimizers"][key]))
        torch.set_rng_state(tensors["rng.torch"])
        self.noise.set_state(tensors["rng.noise"])
        if self.device.type == "cuda" and "rng.cuda" in tensors:
            torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)
        np_state = meta["numpy_random"]
        np.random.set_state((np_state["kind"], tensors["rng.numpy"].numpy().astype(np.uint32),
                             int(np_state["pos"]), int(np_state["has_gauss"]), float(np_state["cached_gaussian"])))
        version, internal, gauss = meta["python_random"]
        random.setstate((version, tuple(internal), gauss))
        fixed_z, fixed_y = tensors["fixed_z"], tensors["fixed_y"]
        if fixed_z.shape != self.fixed_z.shape or fixed_y.shape != self.fixed_y.shape:
            raise ValueError(f"fixed sample noise has shape {tuple(fixed_z.shape)}, expected {tuple(self.fixed_z.shape)}")
        self.fixed_z, self.fixed_y = fixed_z.to(self.device), fixed_y.to(self.device)
        self.losses.load(tensors["loss_window"])
        step = int(meta["step"])
        if step < 0:
            raise ValueError(f"step {step} is negative")
        self.step = step

    def first_non_finite(self) -> str | None:
        """The first weight, buffer or optimizer moment holding NaN or infinity, named; ``None`` if all are finite."""
        named: list[tuple[str, torch.Tensor]] = []
        for what, module in (("generator", self.generator), ("discriminator", self.discriminator)):
            named += [(f"{what} tensor {k}", v) for k, v in module.state_dict().items()]
        for role, _ in Optimizers.KEYS:
            opt = getattr(self.optimizers, role).optimizer
            params = [p for group in opt.param_groups for p in group["params"]]
            for index, param in enumerate(params):
                named += [(f"{role} optimizer {k} of parameter {index}", v)
                          for k, v in opt.state.get(param, {}).items() if isinstance(v, torch.Tensor)]
        return first_non_finite(named)
