"""The hinge adversarial loss (Lim & Ye 2017; Miyato et al. 2018)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


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
