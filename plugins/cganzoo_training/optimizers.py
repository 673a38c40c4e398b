"""The built-in optimizers: ``adam`` (the reference's) and ``sgd`` (the CGAN paper's schedule).

* ``adam``: ``torch.optim.Adam(lr, betas, weight_decay)``, constant; with the
  run-wide defaults exactly what the reference MLP CGAN does (lr 2e-4,
  betas (0.5, 0.999), no weight decay). The fast path chooses the kernel
  (``foreach`` on CPU, bit-identical to PyTorch's default loop; ``fused`` on
  CUDA; see :mod:`cganzoo.training.fastpath`).
* ``sgd``: SGD with momentum and the schedule of Mirza & Osindero 2014, Sec. 4.1:
  "stochastic gradient decent with mini-batches of size 100 and initial learning rate
  of 0.1 which was exponentially decreased down to .000001 with decay factor of
  1.00004. Also momentum was used with initial value of .5 which was increased up to
  0.7." At update ``t`` (0-based, the number of updates already made)::

      lr_t       = max(lr / lr_decay ** t, min_lr)
      momentum_t = momentum + (final_momentum - momentum) * min(1, t / momentum_ramp_steps)

  The paper does not say how fast momentum rises. The GAN code it builds on
  (Goodfellow et al. 2014, ``mnist.yaml``: ``MomentumAdjustor start: 1, saturate: 250``)
  ramps it linearly over 250 epochs; at 600 updates per epoch (batch 100) that is
  the default ``momentum_ramp_steps = 150_000``, applied per update rather than per
  epoch. PyTorch's SGD applies the learning rate to the momentum buffer
  (``p -= lr * v``, ``v = m v + g``) where pylearn2 folded it into the velocity
  (``v = m v - lr g``): identical at a constant rate, and at the paper's decay of
  ``4e-5`` per update the two differ by less than ``1e-4`` relative.

  The paper's decay factor, 1.00004, reaches the 1e-6 floor after about
  288,000 updates (480 epochs). The GAN code's ``mnist.yaml`` has
  ``ExponentialDecay decay_factor: 1.000004``, ten times slower; the default
  follows the paper's text (``lr_decay`` changes it).

Both are registered through ``register_optimizers``, the hook a third-party
optimizer uses (see ``docs/plugins.md``).
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import torch
from pydantic import BaseModel, ConfigDict, Field

from cganzoo import ScheduledOptimizer


class AdamParams(BaseModel):
    """Adam takes lr, betas and weight decay from the player's settings (``--lr``, ``--b1``, ``--b2``)."""

    model_config = ConfigDict(extra="forbid")


class SGDParams(BaseModel):
    """SGD with momentum; the initial learning rate is the player's ``lr``."""

    model_config = ConfigDict(extra="forbid")

    momentum: float = Field(0.5, ge=0, lt=1, description="Initial momentum (paper: 0.5).")
    final_momentum: float = Field(0.7, ge=0, lt=1, description="Momentum after the ramp (paper: 0.7).")
    momentum_ramp_steps: int = Field(150_000, ge=1, description="Updates of the linear momentum ramp "
                                     "(not in the paper; 250 epochs x 600 updates as in the GAN code).")
    lr_decay: float = Field(1.00004, ge=1, description="The learning rate is divided by this every update (paper: 1.00004).")
    min_lr: float = Field(1e-6, gt=0, description="Floor of the decaying learning rate (paper: 1e-6).")


def make_adam(parameters: Iterable[torch.Tensor], lr: float, betas: tuple[float, float], weight_decay: float,
              fast_path: dict[str, Any]) -> torch.optim.Optimizer:
    """``torch.optim.Adam`` with the fast path's kernel options (``foreach``/``fused``/``capturable``)."""
    return torch.optim.Adam(parameters, lr=lr, betas=tuple(betas), weight_decay=weight_decay, **fast_path)


def sgd_schedule(update: int, base_lr: float, params: SGDParams) -> tuple[float, float]:
    """``(lr, momentum)`` of the update made after ``update`` updates (see the module docstring)."""
    lr = max(base_lr * math.exp(-update * math.log(params.lr_decay)), params.min_lr)
    ramp = min(1.0, update / params.momentum_ramp_steps)
    momentum = params.momentum + (params.final_momentum - params.momentum) * ramp
    return lr, momentum


def make_sgd(parameters: Iterable[torch.Tensor], lr: float, betas: tuple[float, float], weight_decay: float,
             fast_path: dict[str, Any], **options: Any) -> ScheduledOptimizer:
    """SGD with the paper's learning-rate decay and momentum ramp (``betas`` and ``fast_path`` are not used)."""
    params = SGDParams(**options)
    optimizer = torch.optim.SGD(parameters, lr=lr, momentum=params.momentum, weight_decay=weight_decay)

    def schedule(opt: torch.optim.Optimizer, update: int) -> None:
        rate, momentum = sgd_schedule(update, lr, params)
        for group in opt.param_groups:
            group["lr"] = rate
            group["momentum"] = momentum

    return ScheduledOptimizer(optimizer, schedule)
