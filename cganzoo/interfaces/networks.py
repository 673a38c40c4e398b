"""What a network plugin implements: :class:`GeneratorNetwork` and :class:`DiscriminatorNetwork` (``register_networks``).

The core composes a network with a conditioner
(:mod:`cganzoo.components.factory.composition`): ``G(z, y) = net(z, conditioner(y))``,
``D(x, y) = net(x, conditioner(y))``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from torch import nn




@dataclass
class DiscriminatorOutput:
    """Everything a discriminator computes for one batch.

    Attributes:
        logits: ``(B,)`` real/fake logits, unbounded, higher means "real".
        class_logits: ``(B, num_classes)`` class logits when the discriminator
            has a class head (AC-GAN, Odena et al. 2017), else ``None``.
    """

    logits: torch.Tensor
    class_logits: torch.Tensor | None = None


class WeightConstraint:
    """What generator and discriminator networks share: an optional projection after each update."""

    def constrain_(self) -> None:
        """Project the weights back into their constraint set after an update (optional).

        The training step calls it after every optimizer update of this
        network (one per G update, one per D update), under ``torch.no_grad()``;
        it must change parameters in place and draw no random numbers. The
        default does nothing. Example: the max-norm constraint of pylearn2's
        ``max_col_norm`` (Srebro & Shraibman 2005; Hinton et al. 2012), which
        rescales every unit's incoming weight vector to an L2 norm of at most
        a limit (``paper-mlp``, ``paper-maxout``).
        """


class GeneratorNetwork(WeightConstraint, nn.Module, ABC):
    """A generator body: ``(z, c) -> x``.

    Attributes:
        latent_dim: Width of ``z``.
        cond_dim: Width of ``c``.
        img_shape: ``(C, H, W)`` of the images it makes.
        min_batch_size: Smallest batch it can train on (2 where ``BatchNorm1d``
            normalises over the batch alone); checked before training.
        conditioning: How it uses ``c``: ``{"input"}`` (concatenated to ``z``,
            the default) and/or ``{"modulation"}`` (conditional BatchNorm).
            A conditioner that serves none of them is refused when ``G`` is built.
        supported_shapes: Class attribute declaring the images it can make,
            ``{"channels": (1, 3), "sizes": (28, 32, 64)}`` (square sides in
            pixels), shown by ``cganzoo list``; ``None`` (the default) means any
            shape. The constructor still refuses an unsupported shape with
            :class:`cganzoo.errors.IncompatibleError` naming the shapes it
            can make, before training.
    """

    latent_dim: int
    cond_dim: int
    img_shape: tuple[int, int, int]
    min_batch_size: int = 1
    conditioning: frozenset[str] = frozenset({"input"})
    supported_shapes: dict[str, tuple[int, ...]] | None = None

    @abstractmethod
    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Generate images.

        Args:
            z: Latent noise ``(B, latent_dim)``, float.
            c: Condition ``(B, cond_dim)``, float.

        Returns:
            Images ``(B, C, H, W)`` with values in ``[-1, 1]``.
        """

    def init_from_data(self, images: torch.Tensor) -> None:
        """Data-dependent initialisation, called once before the first training step (optional).

        The runner calls it on a fresh run only, after the weights were drawn
        from ``--seed`` and before the first step; a resumed run loads its
        weights instead. It must be deterministic given ``images`` (draw no
        random numbers) and change parameters in place. The default does
        nothing. Example: the GAN code of Goodfellow et al. 2014
        (``mnist.yaml``) starts the generator's sigmoid output biases at the
        logit of the data's mean pixel intensities (``paper-mlp``).

        Args:
            images: The training images after resizing, uint8 ``(N, C, H, W)``
                in ``[0, 255]`` (pixel ``v`` is ``v / 127.5 - 1`` in the
                ``[-1, 1]`` range the generator produces), on the CPU.
        """


class DiscriminatorNetwork(WeightConstraint, nn.Module, ABC):
    """A discriminator body: ``(x, c) -> logits``.

    A network that can serve output conditioners (projection, AC-GAN) splits
    itself in two, :meth:`features` (everything up to the last layer) and
    :meth:`output` (the last, unconditional layer), so that
    ``forward(x, c) == output(features(x, c))``, and sets :attr:`feature_dim`.

    Attributes:
        cond_dim: Width of the ``c`` it takes as input (0: no input conditioning).
        img_shape: ``(C, H, W)`` of the images it scores.
        feature_dim: Width of :meth:`features`, or ``None`` if it exposes none.
        min_batch_size: Smallest batch it can train on.
        conditioning: How it uses ``c`` (default ``{"input"}``); output
            conditioning is offered by exposing :meth:`features`.
        supported_shapes: As for :class:`GeneratorNetwork`; ``None``: any shape.
    """

    cond_dim: int
    img_shape: tuple[int, int, int]
    feature_dim: int | None = None
    min_batch_size: int = 1
    conditioning: frozenset[str] = frozenset({"input"})
    supported_shapes: dict[str, tuple[int, ...]] | None = None

    @abstractmethod
    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Score images.

        Args:
            x: Images ``(B, C, H, W)`` in ``[-1, 1]``.
            c: Condition ``(B, cond_dim)``, float.

        Returns:
            Logits ``(B,)``: unbounded real scores, higher means "real" (no
            sigmoid: the loss applies whatever it needs).
        """

    def features(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Penultimate features, float ``(B, feature_dim)`` (networks with a :attr:`feature_dim`)."""
        raise NotImplementedError(f"{type(self).__name__} exposes no features")

    def output(self, features: torch.Tensor) -> torch.Tensor:
        """The last, unconditional layer: features ``(B, feature_dim)`` -> logits ``(B,)``."""
        raise NotImplementedError(f"{type(self).__name__} exposes no features")


#: The conditioning mechanisms: extra input, modulation of normalisation layers, D's output (features).
MECHANISMS: tuple[str, ...] = ("input", "modulation", "output")
