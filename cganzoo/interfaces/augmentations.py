"""What an augmentation plugin implements: :class:`Augmentation` (``register_augmentations``)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch




@runtime_checkable
class Augmentation(Protocol):
    """A differentiable augmentation of the images D sees (see ``register_augmentations``).

    ``augment(x, noise)`` maps float images ``(B, C, H, W)`` to augmented
    images of the same shape and dtype, differentiably in ``x``; every random
    number comes from ``noise``, a :class:`cganzoo.components.randomness.BatchNoise` over the
    run's checkpointed noise generator (exact resume, draws independent of the
    number of processes).
    """

    def __call__(self, x: torch.Tensor, noise: Any) -> torch.Tensor:
        ...
