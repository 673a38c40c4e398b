"""Checks that a combination of components can train, run before the first step.

Each rule reads what components declare through their interfaces
(``min_batch_size``, ``per_sample_discriminator``, BatchNorm layers), never
their registered names, so third-party components are checked the same way.
The shape and feature checks happen where the components are built
(:mod:`cganzoo.components`).
"""

from __future__ import annotations

from torch import nn

from cganzoo.config import RunConfig
from cganzoo.errors import IncompatibleError
from cganzoo.interfaces import AdversarialLoss, ConditionalDiscriminator, ConditionalGenerator


def has_batch_statistics(module: nn.Module) -> bool:
    """Whether ``module`` normalises with statistics over the batch (any BatchNorm layer)."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def check_combination(config: RunConfig, generator: ConditionalGenerator, discriminator: ConditionalDiscriminator,
                      loss: AdversarialLoss) -> None:
    """Raise if the configured components cannot train together.

    Raises:
        IncompatibleError: one line naming the components and the fix:
            the batch is smaller than a network's ``min_batch_size`` (2 for
            any network with BatchNorm, declared or not), or the
            loss needs a per-sample discriminator (WGAN-GP's gradient penalty,
            Gulrajani et al. 2017, Sec. 4: "no critic batch normalization")
            and the discriminator uses BatchNorm.
    """
    for side, spec, net in (("generator", config.generator, generator.net),
                            ("discriminator", config.discriminator, discriminator.net)):
        # BatchNorm in training mode needs 2 images, whether or not the network declares it.
        need = max(getattr(net, "min_batch_size", 1), 2 if has_batch_statistics(net) else 1)
        if config.batch_size < need:
            raise IncompatibleError(
                f"{side} {spec.name!r} needs batches of at least {need} to train (BatchNorm over the batch), "
                f"but batch_size is {config.batch_size}; use --batch-size {need} or more"
            )
    if getattr(loss, "per_sample_discriminator", False) and has_batch_statistics(discriminator):
        raise IncompatibleError(
            f"loss {config.loss.name!r} penalises each sample's gradient, which BatchNorm in discriminator "
            f"{config.discriminator.name!r} invalidates; use a discriminator without it "
            f"(dcgan: params {{norm: layer}} or {{norm: none}}, as the wgan-gp model does)"
        )
