"""The scalars the runner minimises: the adversarial loss plus what the components add.

The adversarial loss is a pure function of logits. Two kinds of component add
terms to it, through their interfaces:

* a discriminator-side conditioner with auxiliary losses (AC-GAN's class
  cross-entropy, Odena et al. 2017, Eq. 2-3) adds them to both losses;
* a loss with a ``discriminator_penalty`` (WGAN-GP's gradient penalty,
  Gulrajani et al. 2017, Algorithm 1) adds it to the discriminator loss.

With neither (the reference MLP CGAN), the two functions compute exactly
``loss.generator_loss(D(fake, y))`` and
``loss.discriminator_loss(D(real, y), D(fake, y_fake))``, the same operations
in the same order.
"""

from __future__ import annotations

from typing import Callable

import torch

from cganzoo.interfaces import AdversarialLoss, ConditionalDiscriminator
from cganzoo.noise import BatchNoise


class Objective:
    """Generator and discriminator objectives for one run.

    Args:
        loss: The adversarial loss.
        discriminator: The (unwrapped) discriminator whose conditioner may add
            auxiliary terms; the discriminator actually called is passed to
            each method, so a wrapped one (DDP, ``torch.compile``) is used for
            the forward passes.
        noise: The randomness a penalty needs (WGAN-GP's interpolation
            weights): a :class:`cganzoo.noise.BatchNoise` over the run's noise
            generator, so the draws do not depend on the number of processes.
    """

    def __init__(self, loss: AdversarialLoss, discriminator: ConditionalDiscriminator,
                 noise: BatchNoise | None = None) -> None:
        self.loss = loss
        self.conditioner = discriminator.conditioner
        self.noise = noise
        self.full_output = bool(self.conditioner.reads_features)
        self.penalty = getattr(loss, "discriminator_penalty", None)

    def generator_loss(self, D: Callable[..., torch.Tensor], fake: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Scalar G minimises for its images ``fake (B, C, H, W)`` of labels ``y (B,)``.

        D's parameters should be frozen by the caller; gradients flow into ``fake``.
        """
        if not self.full_output:
            return self.loss.generator_loss(D(fake, y))
        out = D(fake, y, full=True)
        g_loss = self.loss.generator_loss(out.logits)
        extra = self.conditioner.generator_loss(out, y)
        return g_loss if extra is None else g_loss + extra

    def discriminator_loss(self, D: Callable[..., torch.Tensor], real: torch.Tensor, y_real: torch.Tensor,
                           fake: torch.Tensor, y_fake: torch.Tensor) -> torch.Tensor:
        """Scalar D minimises: real batch first, then the detached fakes (the reference's order).

        Args:
            D: The discriminator to call.
            real: float ``(B, C, H, W)`` in ``[-1, 1]``, labels ``y_real`` int64 ``(B,)``.
            fake: float ``(B, C, H, W)``, detached from G, labels ``y_fake`` int64 ``(B,)``.
        """
        if not self.full_output:
            d_loss = self.loss.discriminator_loss(D(real, y_real), D(fake, y_fake))
        else:
            real_out = D(real, y_real, full=True)
            fake_out = D(fake, y_fake, full=True)
            d_loss = self.loss.discriminator_loss(real_out.logits, fake_out.logits)
            extra = self.conditioner.discriminator_loss(real_out, y_real, fake_out, y_fake)
            if extra is not None:
                d_loss = d_loss + extra
        if self.penalty is not None:
            # The interpolates are scored under the real batch's labels: a fake's own label
            # cannot be interpolated with a real one (see docs/zoo.md, WGAN-GP).
            d_loss = d_loss + self.penalty(lambda x: D(x, y_real), real, fake, self.noise)
        return d_loss
