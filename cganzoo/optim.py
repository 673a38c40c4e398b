"""Optimizers of a run: the choice (``RunConfig.optimizer``) and its per-step schedule.

The runner stays the only place that steps them; this module only builds them
and sets their hyper-parameters before each step.

* ``adam`` (default): ``torch.optim.Adam(lr=config.lr, betas=(config.b1, config.b2))``
  for G and for D, constant, exactly what the reference MLP CGAN does.
* ``sgd``: SGD with momentum and the schedule of Mirza & Osindero 2014, Sec. 4.1:
  "stochastic gradient decent with mini-batches of size 100 and initial learning rate
  of 0.1 which was exponentially decreased down to .000001 with decay factor of
  1.00004. Also momentum was used with initial value of .5 which was increased up to
  0.7." At step ``t`` (0-based, the number of updates already made)::

      lr_t       = max(config.lr / lr_decay ** t, min_lr)
      momentum_t = momentum + (final_momentum - momentum) * min(1, t / momentum_ramp_steps)

  The paper does not say how fast momentum rises. The GAN code it builds on
  (Goodfellow et al. 2014, ``mnist.yaml``: ``MomentumAdjustor start: 1, saturate: 250``)
  ramps it linearly over 250 epochs; at 600 steps per epoch (batch 100) that is
  the default ``momentum_ramp_steps = 150_000``, applied per step rather than per
  epoch. PyTorch's SGD applies the learning rate to the momentum buffer
  (``p -= lr * v``, ``v = m v + g``) where pylearn2 folded it into the velocity
  (``v = m v - lr g``): identical at a constant rate, and at the paper's decay of
  ``4e-5`` per step the two differ by less than ``1e-4`` relative.

  The paper's decay factor, 1.00004, reaches the 1e-6 floor after about
  288,000 steps (480 epochs). The GAN code's ``mnist.yaml`` has
  ``ExponentialDecay decay_factor: 1.000004``, ten times slower; the default
  follows the paper's text (``lr_decay`` changes it). Neither matters in the
  first epochs: after 600 steps the rate is 0.1 / 1.024 or 0.1 / 1.0024.

The schedule is a pure function of the step, so resuming from a checkpoint
restores it exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cganzoo.errors import ConfigError
from cganzoo.registry import format_validation_error


class AdamParams(BaseModel):
    """Adam takes ``lr``, ``b1`` and ``b2`` from the run config (the reference's flags)."""

    model_config = ConfigDict(extra="forbid")


class SGDParams(BaseModel):
    """SGD with momentum; the initial learning rate is the run config's ``lr``."""

    model_config = ConfigDict(extra="forbid")

    momentum: float = Field(0.5, ge=0, lt=1, description="Initial momentum (paper: 0.5).")
    final_momentum: float = Field(0.7, ge=0, lt=1, description="Momentum after the ramp (paper: 0.7).")
    momentum_ramp_steps: int = Field(150_000, ge=1, description="Steps of the linear momentum ramp "
                                     "(not in the paper; 250 epochs x 600 steps as in the GAN code).")
    lr_decay: float = Field(1.00004, ge=1, description="The learning rate is divided by this every step (paper: 1.00004).")
    min_lr: float = Field(1e-6, gt=0, description="Floor of the decaying learning rate (paper: 1e-6).")


#: name -> params model.
OPTIMIZERS: dict[str, type[BaseModel]] = {"adam": AdamParams, "sgd": SGDParams}


def validate_optimizer(name: str, params: dict[str, Any] | None) -> BaseModel:
    """Validate an optimizer choice.

    Raises:
        ConfigError: unknown name (the message lists the choices) or invalid params.
    """
    if name not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}")
    try:
        return OPTIMIZERS[name].model_validate(params or {})
    except ValidationError as exc:
        raise ConfigError(f"optimizer {name!r}: " + format_validation_error(exc)) from None


@dataclass
class Optimizers:
    """The two optimizers of a run and their schedule.

    Attributes:
        generator: Steps ``G``'s parameters.
        discriminator: Steps ``D``'s parameters.
        schedule: ``schedule(step)`` sets the hyper-parameters for the update
            made at ``step`` (0-based); a no-op for constant optimizers.
    """

    generator: torch.optim.Optimizer
    discriminator: torch.optim.Optimizer
    schedule: Callable[[int], None]

    def before_step(self, step: int) -> None:
        self.schedule(step)


def _constant(step: int) -> None:
    return None


def create_optimizers(config: Any, generator: torch.nn.Module, discriminator: torch.nn.Module,
                      adam_kwargs: dict[str, Any] | None = None) -> Optimizers:
    """Build G's and D's optimizers from a :class:`cganzoo.config.RunConfig`.

    Raises:
        ConfigError: unknown optimizer or invalid params.
    """
    spec = config.optimizer
    params = validate_optimizer(spec.name, spec.params)
    if spec.name == "adam":
        betas = (config.b1, config.b2)
        kernel = adam_kwargs or {}  # the fast path's Adam kernel choice (cganzoo.fastpath.adam_options)
        return Optimizers(torch.optim.Adam(generator.parameters(), lr=config.lr, betas=betas, **kernel),
                          torch.optim.Adam(discriminator.parameters(), lr=config.lr, betas=betas, **kernel), _constant)
    assert isinstance(params, SGDParams)
    opt_g = torch.optim.SGD(generator.parameters(), lr=config.lr, momentum=params.momentum)
    opt_d = torch.optim.SGD(discriminator.parameters(), lr=config.lr, momentum=params.momentum)
    base_lr = config.lr

    def schedule(step: int) -> None:
        lr, momentum = sgd_schedule(step, base_lr, params)
        for opt in (opt_g, opt_d):
            for group in opt.param_groups:
                group["lr"] = lr
                group["momentum"] = momentum

    return Optimizers(opt_g, opt_d, schedule)


def sgd_schedule(step: int, base_lr: float, params: SGDParams) -> tuple[float, float]:
    """``(lr, momentum)`` of the update made at ``step`` (see the module docstring)."""
    lr = max(base_lr * math.exp(-step * math.log(params.lr_decay)), params.min_lr)
    ramp = min(1.0, step / params.momentum_ramp_steps)
    momentum = params.momentum + (params.final_momentum - params.momentum) * ramp
    return lr, momentum
