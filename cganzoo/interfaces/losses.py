"""What a loss plugin implements: :class:`AdversarialLoss`, pure functions of logits (``register_losses``)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch




@runtime_checkable
class AdversarialLoss(Protocol):
    """An adversarial loss: pure functions of discriminator logits.

    Implementations never call ``backward()`` or step an optimizer. A loss
    that needs a penalty on the discriminator (WGAN-GP's gradient penalty)
    also implements ``discriminator_penalty(critic, real, fake, noise)``:
    ``critic`` maps images ``(B, C, H, W)`` to logits ``(B,)`` (D with the
    condition bound to the real batch's labels), ``real`` and ``fake`` are
    ``(B, C, H, W)`` batches (fake detached from G), ``noise`` a
    :class:`cganzoo.components.randomness.BatchNoise` (public as
    :class:`cganzoo.BatchNoise`): draw every random number from it
    (``noise.rand(B, 1, 1, 1)``), never from torch's global generator, so the
    draws do not depend on the number of processes; it returns a scalar the
    runner adds to the discriminator loss. Such a loss sets
    ``per_sample_discriminator = True`` when the penalty is only valid for a
    discriminator without batch statistics (BatchNorm), which is checked
    before training.
    """

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """Scalar loss the discriminator minimises.

        Args:
            real_logits: ``(B,)`` logits of real images.
            fake_logits: ``(B,)`` logits of generated images (detached from G).
        """
        ...

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """Scalar loss the generator minimises, from ``(B,)`` logits of its images."""
        ...
