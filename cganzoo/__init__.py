"""cganzoo: a plugin-based conditional GAN zoo for PyTorch.

The public API, for users and plugin authors alike:

* plugin hooks: :data:`hookimpl` (see :mod:`cganzoo.hookspecs`);
* layers for network plugins: :class:`ConditionalBatchNorm2d` (conditioning by
  modulation), :func:`spectral_norm_all`;
* interfaces: :class:`Conditioner`, :class:`GeneratorNetwork`,
  :class:`DiscriminatorNetwork`, :class:`AdversarialLoss`, :class:`Callback`,
  :class:`ScheduledOptimizer`, :class:`BatchNoise`,
  :class:`DatasetInfo`, :class:`LabelledImages`, :class:`Metric` (with
  :class:`EvaluationContext` in, :class:`MetricResult` out; the building blocks
  are in :mod:`cganzoo.evaluation`);
* components by name: ``create_*`` and ``list_*``;
* runs: :func:`resolve_config`, :func:`train`, :func:`load`.

Example::

    import cganzoo

    config = cganzoo.resolve_config("mlp-cgan", overrides={"max_steps": 200, "device": "cpu"})
    run_dir = cganzoo.train(config)
    images = cganzoo.load(run_dir).sample("3,7", n=16)   # (32, 1, 32, 32) in [-1, 1]
"""

from __future__ import annotations

from cganzoo.hookspecs import hookimpl
from cganzoo.errors import (
    CganzooError,
    CheckpointError,
    ConfigError,
    DataError,
    EvaluationError,
    IncompatibleError,
    LabelError,
    MetricSkipped,
    OutputError,
    OptionalDependencyError,
    PluginError,
    ResumeMismatchError,
    TrainingDivergedError,
    TrainingInterrupted,
    UnknownComponentError,
)
from cganzoo.interfaces import (
    AdversarialLoss,
    Augmentation,
    Callback,
    Conditioner,
    DatasetInfo,
    DiscriminatorNetwork,
    DiscriminatorOutput,
    GeneratorNetwork,
    LabelledImages,
    MECHANISMS,
    SamplingGenerator,
    ScheduledOptimizer,
)
from cganzoo.components.randomness import BatchNoise
from cganzoo.components.composition import ConditionalDiscriminator, ConditionalGenerator
from cganzoo.components.layers import ConditionalBatchNorm2d, has_spectral_norm, spectral_norm_all
from cganzoo.conditions.labels import check_labels
from cganzoo.config import ComponentSpec, RunConfig
from cganzoo.components.factory import (
    create_augmentation,
    create_callback,
    create_conditioner,
    create_dataset,
    create_discriminator,
    create_generator,
    create_loss,
    create_optimizer,
    list_components,
    list_models,
    model_preset,
)
from cganzoo.components.sampling import save_grid
from cganzoo.evaluation import EvaluationContext, Metric, MetricResult
from cganzoo.api import TrainedModel, load, resolve_config, train

__version__ = "0.1.0"

__all__ = [
    "AdversarialLoss",
    "Augmentation",
    "BatchNoise",
    "Callback",
    "CganzooError",
    "CheckpointError",
    "ResumeMismatchError",
    "ComponentSpec",
    "ConditionalBatchNorm2d",
    "ConditionalDiscriminator",
    "ConditionalGenerator",
    "Conditioner",
    "ConfigError",
    "DataError",
    "DatasetInfo",
    "DiscriminatorNetwork",
    "DiscriminatorOutput",
    "EvaluationContext",
    "EvaluationError",
    "GeneratorNetwork",
    "IncompatibleError",
    "LabelError",
    "MetricSkipped",
    "LabelledImages",
    "MECHANISMS",
    "Metric",
    "OutputError",
    "OptionalDependencyError",
    "MetricResult",
    "PluginError",
    "RunConfig",
    "SamplingGenerator",
    "ScheduledOptimizer",
    "TrainedModel",
    "TrainingDivergedError",
    "TrainingInterrupted",
    "UnknownComponentError",
    "check_labels",
    "create_augmentation",
    "create_callback",
    "create_conditioner",
    "create_dataset",
    "create_discriminator",
    "create_generator",
    "create_loss",
    "create_optimizer",
    "has_spectral_norm",
    "hookimpl",
    "list_components",
    "list_models",
    "load",
    "model_preset",
    "resolve_config",
    "save_grid",
    "spectral_norm_all",
    "train",
]
