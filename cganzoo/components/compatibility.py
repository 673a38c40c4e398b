"""Checks that a combination of components can train, run before the first step.

Each rule reads what components declare through their interfaces
(``min_batch_size``, ``per_sample_discriminator``, BatchNorm layers), never
their registered names, so third-party components are checked the same way.
The shape and feature checks happen where the components are built
(:mod:`cganzoo.components.factory`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

from cganzoo.config import RunConfig
from cganzoo.errors import IncompatibleError
from cganzoo.interfaces import AdversarialLoss, Conditioner

if TYPE_CHECKING:  # composition imports nothing from here; the hints only name its classes
    from cganzoo.components.composition import ConditionalDiscriminator, ConditionalGenerator


def _name(component: object, given: str | None) -> str:
    return given or getattr(component, "component_name", None) or type(component).__name__


def check_conditioner_role(conditioner: Conditioner, role: str, *, name: str | None = None) -> None:
    """Refuse a conditioner that cannot serve ``role`` (``"generator"`` or ``"discriminator"``).

    Raises:
        IncompatibleError: an output conditioner (it conditions a discriminator's
            features, e.g. projection) built for the generator.
    """
    if role == "generator" and conditioner.reads_features:
        raise IncompatibleError(f"conditioner {_name(conditioner, name)!r} built for the generator conditions a "
                                "discriminator's features; it cannot condition a generator")


def check_mechanisms(side: str, conditioner: Conditioner, net: nn.Module, *, conditioner_name: str | None = None,
                     network_name: str | None = None) -> None:
    """Refuse a conditioner whose vector the network cannot take in any way it accepts.

    Only vector conditioning (input, modulation) is checked here; output
    conditioning is checked against the network's ``feature_dim``.

    Raises:
        IncompatibleError: one line naming both and what each offers.
    """
    if conditioner.reads_features or conditioner.cond_dim == 0:
        return
    offered = set(conditioner.mechanisms) & {"input", "modulation"}
    accepted = set(getattr(net, "conditioning", {"input"})) & {"input", "modulation"}
    if offered & accepted:
        return
    cname = conditioner_name or getattr(conditioner, "component_name", type(conditioner).__name__)
    nname = network_name or type(net).__name__
    raise IncompatibleError(
        f"{side} {nname!r} is conditioned by {' or '.join(sorted(accepted)) or 'nothing'}, but conditioner "
        f"{cname!r} serves {' or '.join(sorted(offered)) or 'neither input nor modulation'}; pick a conditioner "
        "that produces a vector (embedding, one-hot, word-vectors) or another network")


def _check_width(side: str, conditioner: Conditioner, net: nn.Module, network_name: str | None) -> None:
    if net.cond_dim != conditioner.cond_dim:
        raise IncompatibleError(
            f"{side} network {_name(net, network_name)!r} expects cond_dim={net.cond_dim}, conditioner "
            f"{_name(conditioner, None)!r} gives {conditioner.cond_dim}"
        )


def check_generator_parts(conditioner: Conditioner, net: nn.Module, *, network_name: str | None = None) -> None:
    """Refuse a conditioner and a generator network that cannot be composed into ``G(z, y)``.

    Raises:
        IncompatibleError: the widths differ, the conditioner conditions a
            discriminator's features, or it serves no mechanism the network accepts.
    """
    _check_width("generator", conditioner, net, network_name)
    check_conditioner_role(conditioner, "generator")
    check_mechanisms("generator", conditioner, net, network_name=network_name)


def check_discriminator_parts(conditioner: Conditioner, net: nn.Module, *, network_name: str | None = None) -> None:
    """Refuse a conditioner and a discriminator network that cannot be composed into ``D(x, y)``.

    Raises:
        IncompatibleError: the widths differ, the conditioner reads features the
            network does not expose (no positive integer ``feature_dim``), or it
            serves no mechanism the network accepts.
    """
    _check_width("discriminator", conditioner, net, network_name)
    feature_dim = getattr(net, "feature_dim", None)
    if conditioner.reads_features and (not isinstance(feature_dim, int) or feature_dim < 1):
        raise IncompatibleError(
            f"conditioner {_name(conditioner, None)!r} conditions the discriminator's features, but "
            f"discriminator {_name(net, network_name)!r} exposes none (no feature_dim); "
            "pick a discriminator that does (see docs/plugins.md), or another conditioner"
        )
    check_mechanisms("discriminator", conditioner, net, network_name=network_name)


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
