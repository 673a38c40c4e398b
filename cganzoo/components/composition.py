"""Composition of G and D: a conditioner and a network, ``G(z, y)`` and ``D(x, y)``.

Mirza & Osindero 2014, Sec. 3.2: "both the generator and discriminator are
conditioned on some extra information y ... by feeding y into both the
discriminator and generator as additional input layer".

* a :class:`ConditionalGenerator` owns a conditioner and a generator network:
  ``G(z, y) = net(z, conditioner(y))``;
* a :class:`ConditionalDiscriminator` owns its own conditioner and a
  discriminator network: ``D(x, y) = net(x, conditioner(y))``.

Composition only: whether two parts fit is decided once, by
:mod:`cganzoo.components.factory.compatibility`, before they are composed.
"""

from __future__ import annotations

import torch
from torch import nn

from cganzoo.interfaces import Conditioner, DiscriminatorNetwork, DiscriminatorOutput, GeneratorNetwork


class ConditionalGenerator(nn.Module):
    """``G(z, y)``: a conditioner and a generator network, composed.

    The parts are checked by :func:`cganzoo.components.factory.compatibility.check_generator_parts`
    (called once by :func:`cganzoo.components.factory.factory.create_generator`).

    Args:
        conditioner: Maps labels to ``(B, cond_dim)``.
        net: Generator network built for ``conditioner.cond_dim``.
    """

    def __init__(self, conditioner: Conditioner, net: GeneratorNetwork) -> None:
        super().__init__()
        self.conditioner = conditioner
        self.net = net

    @property
    def latent_dim(self) -> int:
        return self.net.latent_dim

    @property
    def num_classes(self) -> int:
        return self.conditioner.num_classes

    @property
    def img_shape(self) -> tuple[int, int, int]:
        return self.net.img_shape

    def init_from_data(self, images: torch.Tensor) -> None:
        """The network's data-dependent initialisation (:meth:`GeneratorNetwork.init_from_data`).

        Args:
            images: uint8 ``(N, C, H, W)`` training images in ``[0, 255]``.
        """
        init = getattr(self.net, "init_from_data", None)
        if init is not None:
            with torch.no_grad():
                init(images)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Generate images of classes ``y``.

        Args:
            z: float ``(B, latent_dim)``, ``z ~ N(0, 1)`` for the reference model.
            y: int64 labels ``(B,)`` in ``[0, num_classes)``.

        Returns:
            Images ``(B, C, H, W)`` in ``[-1, 1]``.
        """
        return self.net(z, self.conditioner(y))

    def constrain_(self) -> None:
        """The network's weight constraint after an update (:meth:`GeneratorNetwork.constrain_`)."""
        constrain = getattr(self.net, "constrain_", None)
        if constrain is not None:
            with torch.no_grad():
                constrain()

    def from_condition(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Generate images from condition tensors rather than labels (e.g. :meth:`Conditioner.encode_text`).

        Args:
            z: float ``(B, latent_dim)``.
            c: float ``(B, cond_dim)``.

        Returns:
            Images ``(B, C, H, W)`` in ``[-1, 1]``.
        """
        return self.net(z, c)


class ConditionalDiscriminator(nn.Module):
    """``D(x, y)``: a conditioner and a discriminator network, composed.

    With an input conditioner, ``D(x, y) = net(x, conditioner(y))``. With an
    output conditioner (:attr:`Conditioner.reads_features`), the network's
    features go through the conditioner:
    ``D(x, y) = conditioner.condition_output(h, net.output(h), y)`` with
    ``h = net.features(x, conditioner(y))``.

    The parts are checked by :func:`cganzoo.components.factory.compatibility.check_discriminator_parts`
    (called once by :func:`cganzoo.components.factory.factory.create_discriminator`); an output
    conditioner is bound to the network's ``feature_dim`` here.

    Args:
        conditioner: Its own instance, not G's.
        net: Discriminator network built for ``conditioner.cond_dim``.
    """

    def __init__(self, conditioner: Conditioner, net: DiscriminatorNetwork) -> None:
        super().__init__()
        self.conditioner = conditioner
        self.net = net
        if conditioner.reads_features:
            conditioner.bind_features(net.feature_dim)

    def forward(self, x: torch.Tensor, y: torch.Tensor, *, full: bool = False
                ) -> torch.Tensor | DiscriminatorOutput:
        """Score images ``x`` given labels ``y``.

        Args:
            x: Images ``(B, C, H, W)`` in ``[-1, 1]``.
            y: int64 labels ``(B,)``.
            full: Return the whole :class:`DiscriminatorOutput` (class logits
                included), not just the logits.

        Returns:
            Logits ``(B,)``, or a :class:`DiscriminatorOutput` when ``full``.
        """
        c = self.conditioner(y)
        if not self.conditioner.reads_features:
            logits = self.net(x, c).reshape(-1)
            return DiscriminatorOutput(logits) if full else logits
        h = self.net.features(x, c)
        out = self.conditioner.condition_output(h, self.net.output(h).reshape(-1), y)
        return out if full else out.logits

    def constrain_(self) -> None:
        """The network's weight constraint after an update (:meth:`DiscriminatorNetwork.constrain_`)."""
        constrain = getattr(self.net, "constrain_", None)
        if constrain is not None:
            with torch.no_grad():
                constrain()
