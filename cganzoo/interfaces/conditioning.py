"""What a conditioner plugin implements: :class:`Conditioner`, ``y -> (B, cond_dim)`` (``register_conditioners``).

Mirza & Osindero 2014, Sec. 3.2: "both the generator and discriminator are
conditioned on some extra information y ... by feeding y into both the
discriminator and generator as additional input layer".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

import torch
from torch import nn

from cganzoo.errors import LabelError
from cganzoo.interfaces.networks import DiscriminatorOutput



class Conditioner(nn.Module, ABC):
    """Maps condition labels ``y`` to a condition tensor ``c``, and says how it conditions its side.

    A conditioner factory is told its ``role``, ``"generator"`` or
    ``"discriminator"``; G and D each get their own instance, and a conditioner
    may do different things on each side (``projection`` is a learned embedding
    on the generator side and an inner product with D's features on the
    discriminator side). A conditioner that cannot serve the role it is built
    for raises :class:`cganzoo.errors.IncompatibleError` saying why.

    Three ways to condition, all through this one interface (the
    :data:`MECHANISMS`; a conditioner lists those it can serve in
    :attr:`mechanisms`, a network those it accepts in its ``conditioning``):

    * **input**: ``forward(y)`` gives ``c (B, cond_dim)``, which the network
      takes as extra input (concatenated to ``z`` in G, to the image in D).
      ``cond_dim = 0`` means the conditioner adds no input.
    * **modulation**: the same vector ``c (B, cond_dim)`` predicts the gain
      and bias of the network's normalisation layers (conditional BatchNorm,
      de Vries et al. 2017; Miyato & Koyama 2018, Sec. 5;
      :class:`cganzoo.components.layers.ConditionalBatchNorm2d`). A one-hot ``c`` gives
      per-class gains and biases; a learned embedding gives BigGAN's shared
      embedding (Brock et al. 2019, Sec. 3); any conditioner that produces a
      vector (``embedding``, ``one-hot``, ``word-vectors``) can drive it.
      The network decides which of input and modulation it does with ``c``.
    * **output** (discriminator side only): a conditioner with
      :attr:`reads_features` set acts on the discriminator network's
      penultimate features ``h (B, F)`` (:meth:`DiscriminatorNetwork.features`).
      :meth:`bind_features` builds its parameters once ``F`` is known, and
      :meth:`condition_output` turns ``(h, logits, y)`` into a
      :class:`DiscriminatorOutput` (projection adds ``<embed(y), h>`` to the
      logits; AC-GAN adds class logits).
    * **auxiliary losses** (discriminator side): :meth:`generator_loss` and
      :meth:`discriminator_loss` return terms the runner adds to the
      adversarial losses (AC-GAN's class cross-entropy), or ``None``.

    A conditioner that accepts free text (:attr:`accepts_text`) implements
    :meth:`encode_text`, so a trained generator can be sampled with label
    phrasings never seen in training.

    Subclasses set :attr:`cond_dim` and :attr:`num_classes` in ``__init__``.

    Attributes:
        cond_dim: Width of the condition tensor given to the network (0: none).
        num_classes: Labels accepted are ``[0, num_classes)``.
        reads_features: This discriminator-side conditioner acts on D's features.
        accepts_text: :meth:`encode_text` maps arbitrary strings to conditions.
    """

    cond_dim: int
    num_classes: int
    reads_features: bool = False
    accepts_text: bool = False

    @property
    def mechanisms(self) -> frozenset[str]:
        """The conditioning mechanisms this conditioner can serve (a subset of :data:`MECHANISMS`).

        Default: ``{"output"}`` for a conditioner that reads D's features;
        ``{"input", "modulation"}`` for one that produces a vector
        (``cond_dim >= 1``); empty for one that conditions nothing. Override to
        narrow it (a code that only makes sense as extra input).
        """
        if self.reads_features:
            return frozenset({"output"})
        return frozenset({"input", "modulation"}) if self.cond_dim > 0 else frozenset()

    @abstractmethod
    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """Embed labels.

        Args:
            y: int64 labels ``(B,)`` in ``[0, num_classes)``.

        Returns:
            Float tensor ``(B, cond_dim)``.
        """

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        """Conditions for free-text labels (conditioners with :attr:`accepts_text` only).

        Args:
            texts: ``K`` label phrasings, e.g. ``["digit three", "a seven"]``.

        Returns:
            Float tensor ``(K, cond_dim)`` on this module's device.

        Raises:
            LabelError: this conditioner takes class labels only, or a text
                cannot be encoded (the message names it).
        """
        raise LabelError(f"{type(self).__name__} takes class labels only, not free text such as {texts[0]!r}")

    def bind_features(self, feature_dim: int) -> None:
        """Build the parameters that depend on D's feature width (output conditioners).

        Called once by :class:`ConditionalDiscriminator` when
        :attr:`reads_features` is set, before any optimizer is built.

        Args:
            feature_dim: Width ``F`` of the discriminator network's features.
        """

    def condition_output(self, features: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> DiscriminatorOutput:
        """Condition D's output on ``y`` (output conditioners).

        Args:
            features: float ``(B, F)``, the network's penultimate features.
            logits: ``(B,)``, the network's unconditional logits ``output(features)``.
            y: int64 labels ``(B,)``.

        Returns:
            The conditioned :class:`DiscriminatorOutput`.
        """
        return DiscriminatorOutput(logits)

    def generator_loss(self, fake: DiscriminatorOutput, y: torch.Tensor) -> torch.Tensor | None:
        """A scalar the generator minimises besides the adversarial loss, or ``None``.

        Args:
            fake: D's output on the generated batch (gradients flow into G).
            y: int64 ``(B,)``, the labels the batch was generated for.
        """
        return None

    def discriminator_loss(self, real: DiscriminatorOutput, y_real: torch.Tensor,
                           fake: DiscriminatorOutput, y_fake: torch.Tensor) -> torch.Tensor | None:
        """A scalar the discriminator minimises besides the adversarial loss, or ``None``.

        Args:
            real: D's output on the real batch, whose labels are ``y_real (B,)``.
            fake: D's output on the detached generated batch, labels ``y_fake (B,)``.
        """
        return None
