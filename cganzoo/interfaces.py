"""The interfaces every component implements.

Components are ordinary ``torch.nn.Module`` subclasses (conditioners and
networks) or small objects (losses, datasets). The core composes them:

* a :class:`ConditionalGenerator` owns a conditioner and a generator network:
  ``G(z, y) = net(z, conditioner(y))``;
* a :class:`ConditionalDiscriminator` owns its own conditioner and a
  discriminator network: ``D(x, y) = net(x, conditioner(y))``.

Mirza & Osindero 2014, Sec. 3.2: "both the generator and discriminator are
conditioned on some extra information y ... by feeding y into both the
discriminator and generator as additional input layer".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import torch
from torch import nn

from cganzoo.labels import check_labels

if TYPE_CHECKING:  # the evaluation package imports this module
    from cganzoo.evaluation.context import EvaluationContext, MetricResult


@dataclass(frozen=True)
class DatasetInfo:
    """What the core needs to know about a labelled image data set.

    Attributes:
        name: Registered name, e.g. ``"mnist"``.
        num_classes: Number of classes; labels lie in ``[0, num_classes)``.
        class_names: One human-readable name per class, index = label
            (e.g. MNIST's ``("zero", ..., "nine")``).
        shape: Native image shape ``(C, H, W)`` before any resizing.
    """

    name: str
    num_classes: int
    class_names: tuple[str, ...]
    shape: tuple[int, int, int]

    def __post_init__(self) -> None:
        if len(self.class_names) != self.num_classes:
            raise ValueError(
                f"DatasetInfo {self.name!r}: {len(self.class_names)} class names "
                f"for num_classes={self.num_classes}"
            )


@dataclass(frozen=True)
class LabelledImages:
    """A data set held in memory as tensors.

    Attributes:
        images: uint8 tensor ``(N, C, H, W)``, values in ``[0, 255]``.
        labels: int64 tensor ``(N,)``, values in ``[0, info.num_classes)``.
        info: The data set's :class:`DatasetInfo`.
        test_images: Optional held-out split, uint8 ``(M, C, H, W)``.
        test_labels: Optional int64 ``(M,)`` labels of the held-out split.
    """

    images: torch.Tensor
    labels: torch.Tensor
    info: DatasetInfo
    test_images: torch.Tensor | None = field(default=None, repr=False)
    test_labels: torch.Tensor | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for split, images, labels in (
            ("train", self.images, self.labels),
            ("test", self.test_images, self.test_labels),
        ):
            if images is None and labels is None:
                continue
            if images is None or labels is None:
                raise ValueError(f"{self.info.name}: {split} split has images or labels, not both")
            if images.dtype != torch.uint8 or images.dim() != 4:
                raise ValueError(
                    f"{self.info.name}: {split} images must be uint8 (N, C, H, W), "
                    f"got {images.dtype} {tuple(images.shape)}"
                )
            if tuple(images.shape[1:]) != self.info.shape:
                raise ValueError(
                    f"{self.info.name}: {split} images have shape {tuple(images.shape[1:])}, "
                    f"DatasetInfo says {self.info.shape}"
                )
            if labels.shape != (images.shape[0],):
                raise ValueError(
                    f"{self.info.name}: {split} has {images.shape[0]} images but labels of "
                    f"shape {tuple(labels.shape)}"
                )
            check_labels(labels, self.info.num_classes, source=f"{self.info.name} {split} split")


class Conditioner(nn.Module, ABC):
    """Maps condition labels ``y`` to a condition tensor ``c``.

    Subclasses set :attr:`cond_dim` and :attr:`num_classes` in ``__init__``.

    Attributes:
        cond_dim: Width of the condition tensor.
        num_classes: Labels accepted are ``[0, num_classes)``.
    """

    cond_dim: int
    num_classes: int

    @abstractmethod
    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """Embed labels.

        Args:
            y: int64 labels ``(B,)`` in ``[0, num_classes)``.

        Returns:
            Float tensor ``(B, cond_dim)``.
        """


class GeneratorNetwork(nn.Module, ABC):
    """A generator body: ``(z, c) -> x``."""

    latent_dim: int
    cond_dim: int
    img_shape: tuple[int, int, int]

    @abstractmethod
    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Generate images.

        Args:
            z: Latent noise ``(B, latent_dim)``, float.
            c: Condition ``(B, cond_dim)``, float.

        Returns:
            Images ``(B, C, H, W)`` with values in ``[-1, 1]``.
        """


class DiscriminatorNetwork(nn.Module, ABC):
    """A discriminator body: ``(x, c) -> logits``."""

    cond_dim: int
    img_shape: tuple[int, int, int]

    @abstractmethod
    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Score images.

        Args:
            x: Images ``(B, C, H, W)`` in ``[-1, 1]``.
            c: Condition ``(B, cond_dim)``, float.

        Returns:
            Logits ``(B,)``: unbounded real scores, higher means "real".
        """


class ConditionalGenerator(nn.Module):
    """``G(z, y)``: a conditioner and a generator network, composed.

    Args:
        conditioner: Maps labels to ``(B, cond_dim)``.
        net: Generator network built for ``conditioner.cond_dim``.
    """

    def __init__(self, conditioner: Conditioner, net: GeneratorNetwork) -> None:
        super().__init__()
        if net.cond_dim != conditioner.cond_dim:
            raise ValueError(
                f"generator network expects cond_dim={net.cond_dim}, conditioner gives "
                f"{conditioner.cond_dim}"
            )
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

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Generate images of classes ``y``.

        Args:
            z: float ``(B, latent_dim)``, ``z ~ N(0, 1)`` for the reference model.
            y: int64 labels ``(B,)`` in ``[0, num_classes)``.

        Returns:
            Images ``(B, C, H, W)`` in ``[-1, 1]``.
        """
        return self.net(z, self.conditioner(y))


class ConditionalDiscriminator(nn.Module):
    """``D(x, y)``: a conditioner and a discriminator network, composed.

    Args:
        conditioner: Maps labels to ``(B, cond_dim)`` (its own instance, not G's).
        net: Discriminator network built for ``conditioner.cond_dim``.
    """

    def __init__(self, conditioner: Conditioner, net: DiscriminatorNetwork) -> None:
        super().__init__()
        if net.cond_dim != conditioner.cond_dim:
            raise ValueError(
                f"discriminator network expects cond_dim={net.cond_dim}, conditioner gives "
                f"{conditioner.cond_dim}"
            )
        self.conditioner = conditioner
        self.net = net

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Score images ``x`` given labels ``y``.

        Args:
            x: Images ``(B, C, H, W)`` in ``[-1, 1]``.
            y: int64 labels ``(B,)``.

        Returns:
            Logits ``(B,)``.
        """
        return self.net(x, self.conditioner(y)).reshape(-1)


@runtime_checkable
class AdversarialLoss(Protocol):
    """An adversarial loss: pure functions of discriminator logits.

    Implementations never call ``backward()`` or step an optimizer.
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


@runtime_checkable
class Metric(Protocol):
    """An evaluation metric: a pure function of an evaluation context.

    ``compute`` receives a :class:`cganzoo.evaluation.EvaluationContext`
    holding the generated images ``(N, C, h, w)`` in ``[-1, 1]`` with their
    condition labels ``(N,)``, the real data set (uint8 train and test splits),
    the evaluation seed and, on demand, the judge classifier and its cached
    features and logits of each image set. It returns a
    :class:`cganzoo.evaluation.MetricResult`: named values, the protocol they
    were measured under (start from ``context.protocol()``: sample counts,
    seed, judge checksum) and caveats. A metric never trains the generator and
    draws random numbers only from generators seeded with ``context.seed``, so
    an evaluation is repeatable.
    """

    def compute(self, context: "EvaluationContext") -> "MetricResult":
        """Measure the context's generated images.

        Raises:
            EvaluationError: the metric cannot be computed on this context
                (e.g. too few samples); the message says what it needs.
        """
        ...
