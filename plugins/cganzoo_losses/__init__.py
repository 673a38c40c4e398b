"""Built-in adversarial losses: least squares, cross-entropy (minimax and non-saturating), hinge, WGAN-GP.

Pure functions of discriminator logits (plus, for WGAN-GP, a gradient
penalty computed from a critic the runner hands in); none of them touches an
optimizer.
"""

from __future__ import annotations

from typing import Callable, Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from cganzoo import BatchNoise, hookimpl


class LeastSquaresLoss:
    """Least-squares adversarial loss on raw logits (the reference CGAN's ``nn.MSELoss``).

    Mao et al. 2017 (LSGAN), Eq. 2 with ``a = 0, b = c = 1``, averaged as the
    reference does:

    * ``d_loss = (mean((D(x) - 1)^2) + mean(D(G(z))^2)) / 2``
    * ``g_loss = mean((D(G(z)) - 1)^2)``
    """

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        real = F.mse_loss(real_logits, torch.ones_like(real_logits))
        fake = F.mse_loss(fake_logits, torch.zeros_like(fake_logits))
        return (real + fake) / 2

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(fake_logits, torch.ones_like(fake_logits))


class BCEParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    generator_loss: Literal["non-saturating", "saturating"] = Field(
        "non-saturating",
        description="'non-saturating': -log D(G(z)) (Goodfellow et al. 2014, Sec. 3); "
                    "'saturating': the minimax log(1 - D(G(z))).",
    )


class BinaryCrossEntropyLoss:
    """Binary cross-entropy on logits (Goodfellow et al. 2014, Eq. 1).

    * ``d_loss = (BCE(D(x), 1) + BCE(D(G(z)), 0)) / 2``, halved like the reference's MSE.
    * non-saturating ``g_loss = BCE(D(G(z)), 1) = -mean(log sigmoid(D(G(z))))``;
      saturating (minimax) ``g_loss = -BCE(D(G(z)), 0) = mean(log(1 - sigmoid(D(G(z)))))``.

    Computed with ``binary_cross_entropy_with_logits`` (log-sum-exp), stable for any logit.
    """

    def __init__(self, generator_loss: str = "non-saturating") -> None:
        self.saturating = generator_loss == "saturating"

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
        fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
        return (real + fake) / 2

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        if self.saturating:
            return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


class HingeLoss:
    """Hinge adversarial loss (Lim & Ye 2017, "Geometric GAN"; Miyato et al. 2018, Eq. 16-17).

    * ``d_loss = mean(relu(1 - D(x))) + mean(relu(1 + D(G(z))))``
    * ``g_loss = -mean(D(G(z)))``

    As in the papers, the discriminator's two terms are summed, not averaged.
    """

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return -fake_logits.mean()


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


def make_minimax() -> BinaryCrossEntropyLoss:
    return BinaryCrossEntropyLoss("saturating")


def make_non_saturating() -> BinaryCrossEntropyLoss:
    return BinaryCrossEntropyLoss("non-saturating")


@hookimpl
def register_losses(register):
    register("mse", LeastSquaresLoss,
             description="least squares on logits (the reference's nn.MSELoss; LSGAN a=0, b=c=1)")
    register("bce", BinaryCrossEntropyLoss, params=BCEParams,
             description="binary cross-entropy on logits; non-saturating G loss by default")
    register("minimax", make_minimax,
             description="binary cross-entropy, saturating G loss log(1 - D(G(z))) (Goodfellow et al. 2014, Eq. 1)")
    register("non-saturating", make_non_saturating,
             description="binary cross-entropy, non-saturating G loss -log D(G(z)) (Goodfellow et al. 2014, Sec. 3)")
    register("hinge", HingeLoss,
             description="hinge loss (Lim & Ye 2017; Miyato et al. 2018)")
    register("wasserstein-gp", WassersteinGPLoss, params=WassersteinGPParams,
             description="Wasserstein loss with gradient penalty, lambda=10 (WGAN-GP, Gulrajani et al. 2017)")
