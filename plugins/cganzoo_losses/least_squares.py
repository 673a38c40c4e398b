"""The least-squares adversarial loss (LSGAN), the reference CGAN's ``mse``."""

from __future__ import annotations

import torch
import torch.nn.functional as F


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
