"""The Wasserstein loss with gradient penalty (WGAN-GP, Gulrajani et al. 2017)."""

from __future__ import annotations

from typing import Callable

import torch
from pydantic import BaseModel, ConfigDict, Field

from cganzoo import BatchNoise


class WassersteinGPParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gp_weight: float = Field(10.0, gt=0, description="Penalty coefficient lambda (Gulrajani et al. 2017: 10).")


class WassersteinGPLoss:
    """Wasserstein loss with gradient penalty (WGAN-GP; Gulrajani et al. 2017, Eq. 3, Algorithm 1).

    * ``d_loss = mean(D(G(z))) - mean(D(x)) + lambda * mean((||grad_x^ D(x^)||_2 - 1)^2)``,
      ``x^ = eps * x + (1 - eps) * G(z)``, ``eps ~ U[0, 1]`` per sample;
    * ``g_loss = -mean(D(G(z)))``.

    Logits are the critic's unbounded scores. The penalty is per sample, so the
    critic must not use BatchNorm (Sec. 4); ``per_sample_discriminator`` makes
    the runner check that before training. The paper takes five critic steps
    per generator step (``d_steps_per_g_step``; the ``wgan-gp`` model does).
    """

    per_sample_discriminator = True

    def __init__(self, gp_weight: float = 10.0) -> None:
        self.gp_weight = gp_weight

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return fake_logits.mean() - real_logits.mean()

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return -fake_logits.mean()

    def discriminator_penalty(self, critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                              fake: torch.Tensor, noise: BatchNoise | None = None) -> torch.Tensor:
        """``lambda * mean((||grad D(x^)||_2 - 1)^2)`` on random interpolates of ``real`` and ``fake``.

        Args:
            critic: Images ``(B, C, H, W)`` -> logits ``(B,)``.
            real: float ``(B, C, H, W)``.
            fake: float ``(B, C, H, W)``, detached from G.
            noise: Draws ``eps``, one per sample of the global batch (this rank keeps
                its shard, so the draws do not depend on the number of processes);
                default: torch's global generator, for use outside training.

        Returns:
            A scalar with a graph through the critic's parameters (double backward).
        """
        ones = (1,) * (real.dim() - 1)
        if noise is None:
            eps = torch.rand((real.shape[0], *ones), device=real.device, dtype=real.dtype)
        else:
            eps = noise.rand(real.shape[0], *ones, dtype=real.dtype)
        mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
        scores = critic(mixed)
        (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
        return self.gp_weight * ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
