"""What an augmentation plugin implements: :class:`Augmentation` (``register_augmentations``)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch




@runtime_checkable
class Augmentation(Protocol):
    """A differentiable augmentation of the images D sees (see ``register_augmentations``).

    ``augment(x, noise)`` maps float images ``(B, C, H, W)`` in about
    ``[-1, 1]`` to augmented images of the same shape and dtype,
    differentiably in ``x``: the generator's gradients flow through it
    (DiffAugment, Zhao et al. 2020, Sec. 3). A run with ``augmentation`` set
    applies it to the real and the generated images before every call of D,
    in the D updates and in the G update alike.

    Every random number comes from ``noise``, a
    :class:`cganzoo.components.randomness.BatchNoise` (public as
    :class:`cganzoo.BatchNoise`) over the run's checkpointed noise generator
    (``noise.rand(B, 1, 1, 1)``, ``noise.randint(high, B, 1)``), never from
    torch's global generator, so a resumed run repeats the same augmentations
    and ``N`` processes draw what one process draws. Draw per-sample values for
    the whole batch, so the draws do not depend on the batch's content.
    """

    def __call__(self, x: torch.Tensor, noise: Any) -> torch.Tensor:
        ...
