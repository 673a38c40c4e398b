"""One training step: one generator update, then ``d_steps_per_g_step`` discriminator updates.

The only place with ``backward()`` and ``step()``. With the defaults it is the
reference MLP CGAN's step, operation for operation (``tests/test_runner.py``
checks it bit for bit against the reference script's loop on CPU):

1. generator update: fresh ``z`` from the latent prior (reference: ``N(0, 1)``,
   :mod:`cganzoo.components.randomness`) and labels drawn uniformly,
   ``g_loss = loss.generator_loss(D(G(z, y_g), y_g))``;
2. discriminator update on the real batch and the detached fakes of step 1,
   ``d_loss = loss.discriminator_loss(D(x, y), D(G(z, y_g).detach(), y_g))``.

With ``n_dis = d_steps_per_g_step > 1`` (WGAN and WGAN-GP's ``n_critic``,
Gulrajani et al. 2017, Algorithm 1; SNGAN's ``n_dis``, Miyato et al. 2018)
the step takes ``n_dis`` real batches and makes ``n_dis`` D updates after
the G update: the first scores the fakes of the G update (as the reference
does), each later one fresh fakes of the updated G (drawn without a graph).
Over a run this is Algorithm 1's alternation shifted by one G update at the
start. Components add terms through their interfaces
(:mod:`cganzoo.training.objective`): a discriminator-side conditioner's auxiliary
losses (AC-GAN), a loss's penalty (WGAN-GP), the R1 penalty and an
augmentation of D's inputs (DiffAugment). After each optimizer update the
updated network's ``constrain_()`` projects its weights (a no-op unless the
network defines a constraint, e.g. ``paper-maxout``'s max-norm).

Every random draw of the step (``z``, the generator's labels, a penalty's
weights, an augmentation's shifts and masks) comes from the run's noise generator through
:class:`cganzoo.components.randomness.BatchNoise`: drawn for the global batch, this rank's
shard kept, so ``N`` processes draw what one process draws.
"""

from __future__ import annotations

import torch

from cganzoo.components.randomness import BatchNoise
from cganzoo.training.objective import Objective
from cganzoo.training.state import TrainingState


def _constrain(module: torch.nn.Module) -> None:
    """Call ``module.constrain_()`` if it has one (G and D of the runner do; a bare test network may not)."""
    constrain = getattr(module, "constrain_", None)
    if constrain is not None:
        with torch.no_grad():  # as the interface promises: a projection, not part of any graph
            constrain()


class TrainStep:
    """``step(real, labels) -> (d_loss, g_loss)``, updating ``state`` in place.

    Used unchanged by ``cganzoo run``, ``cganzoo bench`` and DDP (where
    ``generator`` and ``discriminator`` are the DDP-wrapped modules).

    Args:
        state: The training state (its ``step`` picks the optimizers' schedule).
        objective: The run's losses (:class:`cganzoo.training.objective.Objective`).
        generator: ``G`` as called for the G update (DDP-wrapped under torchrun).
        discriminator: ``D`` as called for the D updates (DDP-wrapped under torchrun).
        noise: The step's source of randomness.
        latent_dim: Width of ``z``.
        latent_distribution: ``"normal"`` or ``"uniform"``.
        num_classes: Labels of the fakes are drawn from ``[0, num_classes)``.
        d_steps: D updates per step (``n_dis``).
    """

    def __init__(self, state: TrainingState, objective: Objective, *, generator: torch.nn.Module,
                 discriminator: torch.nn.Module, noise: BatchNoise, latent_dim: int, latent_distribution: str,
                 num_classes: int, d_steps: int = 1) -> None:
        self.state, self.objective, self.noise = state, objective, noise
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim, self.latent_distribution = latent_dim, latent_distribution
        self.num_classes, self.d_steps = num_classes, d_steps

    def __call__(self, real: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One step.

        Args:
            real: float ``(n_dis * B, C, H, W)`` in ``[-1, 1]`` on the training
                device: ``n_dis`` batches of this rank's ``B`` images, one per D update.
            labels: int64 ``(n_dis * B,)``.

        Returns:
            ``(d_loss, g_loss)`` as detached 0-dim tensors on the device (no host
            sync); ``d_loss`` is the mean over the step's D updates.
        """
        state, objective, k = self.state, self.objective, self.d_steps
        size = real.shape[0] // k
        opt_g, opt_d = state.optimizers.generator, state.optimizers.discriminator
        z = self.noise.latent(size, self.latent_dim, self.latent_distribution)
        y_fake = self.noise.randint(self.num_classes, size)

        # Generator update. D's parameters are frozen for it: their gradients would be
        # discarded by the D update's zero_grad anyway, so this changes no arithmetic.
        # D is called unwrapped here: DDP has no gradients of D to average in this update.
        opt_g.schedule(opt_g.optimizer, state.step)
        state.discriminator.requires_grad_(False)
        opt_g.optimizer.zero_grad(set_to_none=True)
        fake = self.generator(z, y_fake)
        g_loss = objective.generator_loss(state.discriminator, fake, y_fake)
        g_loss.backward()
        opt_g.optimizer.step()
        _constrain(state.generator)
        state.discriminator.requires_grad_(True)

        d_total: torch.Tensor | None = None
        for j in range(k):
            if j:
                z = self.noise.latent(size, self.latent_dim, self.latent_distribution)
                y_fake = self.noise.randint(self.num_classes, size)
                with torch.no_grad():
                    fake = state.generator(z, y_fake)
            x, y = (real, labels) if k == 1 else (real[j * size:(j + 1) * size], labels[j * size:(j + 1) * size])
            # Real first, then the detached fakes (the reference's order, which fixes
            # the order of dropout's random draws).
            opt_d.schedule(opt_d.optimizer, state.step * k + j)
            opt_d.optimizer.zero_grad(set_to_none=True)
            d_loss = objective.discriminator_loss(self.discriminator, x, y, fake.detach(), y_fake, update=state.step * k + j)
            d_loss.backward()
            opt_d.optimizer.step()
            _constrain(state.discriminator)
            d_total = d_loss.detach() if d_total is None else d_total + d_loss.detach()
        assert d_total is not None
        return (d_total if k == 1 else d_total / k), g_loss.detach()

    def __repr__(self) -> str:
        return f"TrainStep(d_steps={self.d_steps}, latent_dim={self.latent_dim})"

