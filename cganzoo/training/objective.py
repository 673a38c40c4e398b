"""The scalars the runner minimises: the adversarial loss plus what the components add.

The adversarial loss is a pure function of logits. Two kinds of component add
terms to it, through their interfaces:

* a discriminator-side conditioner with auxiliary losses (AC-GAN's class
  cross-entropy, Odena et al. 2017, Eq. 2-3) adds them to both losses;
* a loss with a ``discriminator_penalty`` (WGAN-GP's gradient penalty,
  Gulrajani et al. 2017, Algorithm 1) adds it to the discriminator loss.

Two run settings act on D's inputs and loss:

* an **augmentation** (DiffAugment, Zhao et al. 2020, Sec. 3 and Fig. 4):
  D sees ``T(x)`` and ``T(G(z))`` in the D updates and ``T(G(z))`` in the G
  update, with ``T`` differentiable and its randomness drawn from the run's
  noise generator, so G learns through it and a resume repeats it;
* the **R1 penalty** (Mescheder et al. 2018, Eq. 9),
  ``gamma / 2 * E ||grad_x D(x)||^2`` at real images (through the
  augmentation, as StyleGAN2-ADA computes it), on every D update or, lazily,
  on every ``interval``-th one multiplied by ``interval`` (Karras et al.
  2020, Appendix B).

With none of these (the reference MLP CGAN), the two functions compute exactly
``loss.generator_loss(D(fake, y))`` and
``loss.discriminator_loss(D(real, y), D(fake, y_fake))``, the same operations
in the same order.
"""

from __future__ import annotations

from typing import Callable

import torch

from cganzoo.components.composition import ConditionalDiscriminator
from cganzoo.interfaces import AdversarialLoss, Augmentation
from cganzoo.components.randomness import BatchNoise


class Objective:
    """Generator and discriminator objectives for one run.

    Args:
        loss: The adversarial loss.
        discriminator: The (unwrapped) discriminator whose conditioner may add
            auxiliary terms; the discriminator actually called is passed to
            each method, so a wrapped one (DDP, ``torch.compile``) is used for
            the forward passes.
        noise: The randomness a penalty or an augmentation needs (WGAN-GP's
            interpolation weights, DiffAugment's shifts): a
            :class:`cganzoo.components.randomness.BatchNoise` over the run's noise generator,
            so the draws do not depend on the number of processes.
        augmentation: Applied to every image batch before D, or ``None``.
        r1_gamma: R1 weight ``gamma`` (0: off).
        r1_interval: Apply R1 on D updates ``0, k, 2k, ...`` only, times ``k``.
    """

    def __init__(self, loss: AdversarialLoss, discriminator: ConditionalDiscriminator,
                 noise: BatchNoise | None = None, *, augmentation: Augmentation | None = None,
                 r1_gamma: float = 0.0, r1_interval: int = 1) -> None:
        self.loss = loss
        self.conditioner = discriminator.conditioner
        self.noise = noise
        self.full_output = bool(self.conditioner.reads_features)
        self.penalty = getattr(loss, "discriminator_penalty", None)
        self.augmentation = augmentation
        self.r1_gamma, self.r1_interval = r1_gamma, r1_interval
        if augmentation is not None and noise is None:
            raise ValueError("an augmentation draws from the run's noise: pass noise=BatchNoise(...)")

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.augmentation is None else self.augmentation(x, self.noise)

    def r1_due(self, update: int) -> bool:
        """Whether D update ``update`` (0-based, over the run) carries the R1 penalty."""
        return self.r1_gamma > 0 and update % self.r1_interval == 0

    def generator_loss(self, D: Callable[..., torch.Tensor], fake: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Scalar G minimises for its images ``fake (B, C, H, W)`` of labels ``y (B,)``.

        D's parameters should be frozen by the caller; gradients flow into ``fake``
        (through the augmentation, if any).
        """
        fake = self._augment(fake)
        if not self.full_output:
            return self.loss.generator_loss(D(fake, y))
        out = D(fake, y, full=True)
        g_loss = self.loss.generator_loss(out.logits)
        extra = self.conditioner.generator_loss(out, y)
        return g_loss if extra is None else g_loss + extra

    def discriminator_loss(self, D: Callable[..., torch.Tensor], real: torch.Tensor, y_real: torch.Tensor,
                           fake: torch.Tensor, y_fake: torch.Tensor, *, update: int = 0) -> torch.Tensor:
        """Scalar D minimises: real batch first, then the detached fakes (the reference's order).

        Args:
            D: The discriminator to call.
            real: float ``(B, C, H, W)`` in ``[-1, 1]``, labels ``y_real`` int64 ``(B,)``.
            fake: float ``(B, C, H, W)``, detached from G, labels ``y_fake`` int64 ``(B,)``.
            update: Index of this D update over the run (0-based), for lazy R1.
        """
        r1 = self.r1_due(update)
        raw_real, raw_fake = real, fake
        if r1:
            real = real.detach().requires_grad_(True)
        real_in, fake_in = self._augment(real), self._augment(fake)
        if not self.full_output:
            real_logits = D(real_in, y_real)
            d_loss = self.loss.discriminator_loss(real_logits, D(fake_in, y_fake))
        else:
            real_out = D(real_in, y_real, full=True)
            fake_out = D(fake_in, y_fake, full=True)
            real_logits = real_out.logits
            d_loss = self.loss.discriminator_loss(real_out.logits, fake_out.logits)
            extra = self.conditioner.discriminator_loss(real_out, y_real, fake_out, y_fake)
            if extra is not None:
                d_loss = d_loss + extra
        if self.penalty is not None:
            # The interpolates are scored under the real batch's labels: a fake's own label
            # cannot be interpolated with a real one (see docs/zoo.md, WGAN-GP).
            d_loss = d_loss + self.penalty(lambda x: D(x, y_real), raw_real, raw_fake, self.noise)
        if r1:
            d_loss = d_loss + self.r1_penalty(real_logits, real)
        return d_loss

    def r1_penalty(self, real_logits: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """``interval * gamma / 2 * mean_i ||grad_{x_i} D(x_i)||^2`` (Mescheder et al. 2018, Eq. 9).

        Args:
            real_logits: ``(B,)`` D's logits of ``real``, with a graph to it.
            real: float ``(B, C, H, W)`` that requires grad.

        Returns:
            A scalar with a graph through D's parameters (double backward).
        """
        (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
        return self.r1_interval * self.r1_gamma / 2 * grad.pow(2).flatten(1).sum(dim=1).mean()
