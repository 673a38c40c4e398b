"""Contracts: what a plugin implements, one module per hook family.

* :mod:`~cganzoo.interfaces.data`: :class:`DatasetInfo`, :class:`LabelledImages` (``register_datasets``);
* :mod:`~cganzoo.interfaces.conditioning`: :class:`Conditioner` (``register_conditioners``);
* :mod:`~cganzoo.interfaces.networks`: :class:`GeneratorNetwork`, :class:`DiscriminatorNetwork`,
  :class:`DiscriminatorOutput`, :class:`WeightConstraint`, :data:`MECHANISMS` (``register_networks``);
* :mod:`~cganzoo.interfaces.losses`: :class:`AdversarialLoss` (``register_losses``);
* :mod:`~cganzoo.interfaces.augmentations`: :class:`Augmentation` (``register_augmentations``);
* :mod:`~cganzoo.interfaces.training`: :class:`ScheduledOptimizer`, :class:`Callback`,
  :class:`SamplingGenerator` (``register_optimizers``, ``register_callbacks``).

A metric's contract (``register_metrics``) is :class:`cganzoo.evaluation.Metric`,
beside the :class:`~cganzoo.evaluation.EvaluationContext` it reads.

Each contract is written once, in its class's docstring; :mod:`cganzoo.hookspecs`
points here and ``docs/plugins.md`` walks through writing one. Contracts only:
nothing here builds or checks a combination (that is :mod:`cganzoo.components`).

May import: :mod:`cganzoo.conditions`, :mod:`cganzoo.errors`.
"""

from cganzoo.interfaces.augmentations import Augmentation
from cganzoo.interfaces.conditioning import Conditioner
from cganzoo.interfaces.data import DatasetInfo, LabelledImages
from cganzoo.interfaces.losses import AdversarialLoss
from cganzoo.interfaces.networks import (
    MECHANISMS,
    DiscriminatorNetwork,
    DiscriminatorOutput,
    GeneratorNetwork,
    WeightConstraint,
)
from cganzoo.interfaces.training import Callback, SamplingGenerator, ScheduledOptimizer

__all__ = [
    "AdversarialLoss",
    "Augmentation",
    "Callback",
    "Conditioner",
    "DatasetInfo",
    "DiscriminatorNetwork",
    "DiscriminatorOutput",
    "GeneratorNetwork",
    "LabelledImages",
    "MECHANISMS",
    "SamplingGenerator",
    "ScheduledOptimizer",
    "WeightConstraint",
]
