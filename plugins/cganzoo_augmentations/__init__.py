"""Built-in augmentations: DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training").

``diffaugment`` (:mod:`cganzoo_augmentations.diffaugment`, which describes its
transforms and where their random numbers come from). Registered through the
``cganzoo`` entry-point group with the public ``register_augmentations`` hook.
"""

from __future__ import annotations

from cganzoo import hookimpl
from cganzoo_augmentations.diffaugment import DiffAugment, DiffAugmentParams


@hookimpl
def register_augmentations(register):
    register("diffaugment", DiffAugment, params=DiffAugmentParams,
             description="DiffAugment (Zhao et al. 2020): differentiable color, translation, cutout of real and fake "
                         "images before D, in both players' updates")
