"""Built-in adversarial losses: least squares (``mse``) and binary cross-entropy (``bce``).

Pure functions of discriminator logits; none of them touches an optimizer.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from cganzoo import hookimpl


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


@hookimpl
def register_losses(register):
    register("mse", LeastSquaresLoss,
             description="least squares on logits (the reference's nn.MSELoss; LSGAN a=0, b=c=1)")
    register("bce", BinaryCrossEntropyLoss, params=BCEParams,
             description="binary cross-entropy on logits; non-saturating G loss by default")
