"""Binary cross-entropy on logits (Goodfellow et al. 2014): ``bce``, and ``minimax`` and ``non-saturating``."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field


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


def make_minimax() -> BinaryCrossEntropyLoss:
    """``minimax``: binary cross-entropy with the saturating generator loss ``log(1 - D(G(z)))``."""
    return BinaryCrossEntropyLoss("saturating")


def make_non_saturating() -> BinaryCrossEntropyLoss:
    """``non-saturating``: binary cross-entropy with the generator loss ``-log D(G(z))``."""
    return BinaryCrossEntropyLoss("non-saturating")
