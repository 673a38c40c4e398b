"""Building a run's parts from its config: components, models, optimizers, and what a run records.

Everything here is a pure function of the config (and the data set): the
trainer (:mod:`cganzoo.training.trainer`), ``cganzoo.load`` and the benchmark
all build through it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import torch

from cganzoo.components.factory import (
    create_callback,
    create_conditioner,
    create_discriminator,
    create_generator,
    create_optimizer,
    get_registry,
)
from cganzoo.config import RunConfig
from cganzoo.components.composition import ConditionalDiscriminator, ConditionalGenerator
from cganzoo.interfaces import Callback, DatasetInfo, LabelledImages
from cganzoo.components.registry import Registry
from cganzoo.training.state import Optimizers

#: Component slots of a run config and the registry kind each names.
COMPONENT_SLOTS = (("dataset", "dataset"), ("conditioner", "conditioner"),
                   ("generator_conditioner", "conditioner"), ("discriminator_conditioner", "conditioner"),
                   ("generator", "generator"), ("discriminator", "discriminator"), ("loss", "loss"),
                   ("augmentation", "augmentation"))


def validate_components(config: RunConfig, registry: Registry | None = None) -> None:
    """Check every component name and its params (optimizers and callbacks included) before data is touched.

    Raises:
        UnknownComponentError: a name is not registered (the message lists the choices).
        ConfigError: a component's params are invalid.
    """
    reg = get_registry(registry)
    for slot, kind in COMPONENT_SLOTS:
        spec = getattr(config, slot)
        if spec is not None:
            reg.validate_params(kind, spec.name, spec.params)
    for role in ("generator", "discriminator"):
        resolved = config.optimizer_for(role)
        reg.validate_params("optimizer", resolved.name, resolved.params)
    for spec in config.callbacks:
        reg.validate_params("callback", spec.name, spec.params)


def build_generator(config: RunConfig, info: DatasetInfo, registry: Registry | None = None) -> ConditionalGenerator:
    """Build ``G`` alone, with its conditioner: what sampling needs (no discriminator plugin required).

    Weights are initialised from ``torch.manual_seed(config.seed)``, as in :func:`build_models`.
    """
    torch.manual_seed(config.seed)
    return _generator(config, info, registry)


def _generator(config: RunConfig, info: DatasetInfo, registry: Registry | None) -> ConditionalGenerator:
    spec = config.conditioner_for("generator")
    cond = create_conditioner(spec.name, spec.params, info=info, role="generator", registry=registry)
    return create_generator(config.generator.name, config.generator.params, conditioner=cond,
                            latent_dim=config.latent_dim, img_shape=image_shape(config, info), registry=registry)


def image_shape(config: RunConfig, info: DatasetInfo) -> tuple[int, int, int]:
    """``(C, img_size, img_size)``: the data set's channels at the run's image size."""
    return (info.shape[0], config.img_size, config.img_size)


def build_models(config: RunConfig, info: DatasetInfo, registry: Registry | None = None
                 ) -> tuple[ConditionalGenerator, ConditionalDiscriminator]:
    """Build ``G`` and ``D`` from a config, each with its own conditioner built for its role.

    Weights are initialised from ``torch.manual_seed(config.seed)`` (G's first,
    then D's, so G's initial weights are the same as :func:`build_generator`'s).

    Raises:
        UnknownComponentError, ConfigError, IncompatibleError: a component is
            unknown, its params are invalid, or the combination cannot work.
    """
    torch.manual_seed(config.seed)
    g_spec, d_spec = config.conditioner_for("generator"), config.conditioner_for("discriminator")
    g_cond = create_conditioner(g_spec.name, g_spec.params, info=info, role="generator", registry=registry)
    d_cond = create_conditioner(d_spec.name, d_spec.params, info=info, role="discriminator", registry=registry)
    generator = create_generator(config.generator.name, config.generator.params, conditioner=g_cond,
                                 latent_dim=config.latent_dim, img_shape=image_shape(config, info), registry=registry)
    discriminator = create_discriminator(config.discriminator.name, config.discriminator.params,
                                         conditioner=d_cond, img_shape=image_shape(config, info), registry=registry)
    return generator, discriminator


def build_optimizers(config: RunConfig, generator: torch.nn.Module, discriminator: torch.nn.Module, *,
                     fast_path: dict[str, Any] | None = None, registry: Registry | None = None) -> Optimizers:
    """One optimizer per player from ``config.optimizer_for(role)`` (reference: Adam 2e-4, (0.5, 0.999), both).

    Raises:
        UnknownComponentError, ConfigError: unknown optimizer or invalid params.
    """
    built = {}
    for role, module in (("generator", generator), ("discriminator", discriminator)):
        spec = config.optimizer_for(role)
        built[role] = create_optimizer(spec.name, spec.params, parameters=module.parameters(), lr=spec.lr,
                                       betas=spec.betas, weight_decay=spec.weight_decay, fast_path=fast_path,
                                       registry=registry)
    return Optimizers(built["generator"], built["discriminator"])


def build_callbacks(config: RunConfig, registry: Registry | None = None) -> list[Callback]:
    """The callbacks a config names, in its order.

    Raises:
        ConfigError: two callbacks share a ``state_key`` (their checkpointed state would collide).
    """
    from cganzoo.errors import ConfigError

    callbacks = [create_callback(spec.name, spec.params, registry=registry) for spec in config.callbacks]
    keys = [cb.state_key for cb in callbacks]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise ConfigError(f"callbacks: {twice[0]!r} is named twice; give each callback once")
    return callbacks


def dataset_identity(data: LabelledImages) -> dict[str, Any]:
    """What a run records about its training data, to refuse resuming on other data.

    Returns:
        ``{"name", "num_classes", "class_names", "shape", "train_size", "sha256"}``;
        ``sha256`` covers the uint8 training images and the int64 labels (about
        0.1 s for MNIST).
    """
    digest = hashlib.sha256()
    for tensor in (data.images, data.labels):
        digest.update(tensor.detach().contiguous().cpu().numpy().tobytes())
    info = data.info
    return {"name": info.name, "num_classes": info.num_classes, "class_names": list(info.class_names),
            "shape": list(info.shape), "train_size": int(data.images.shape[0]), "sha256": digest.hexdigest()}


def dataset_differences(saved: Any, now: dict[str, Any], keys: Sequence[str]) -> list[str]:
    """The ``keys`` whose value in a recorded :func:`dataset_identity` ``saved`` differs from ``now``.

    A key the record does not hold (runs written before it was recorded) or a
    record that is not a mapping counts as no difference.
    """
    if not isinstance(saved, dict):
        return []
    return [k for k in keys if k in saved and saved[k] != now[k]]


def package_versions() -> dict[str, str]:
    """Versions recorded in ``config.json``."""
    versions = {"python": platform.python_version(), "torch": torch.__version__}
    for dist in ("cganzoo", "torchvision", "pluggy", "pydantic", "datasets", "safetensors"):
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            versions[dist] = "not installed"
    return versions


def component_provenance(config: RunConfig, registry: Registry | None = None) -> dict[str, Any]:
    """Which plugin, from which distribution and version, provided each component of a run.

    Returns:
        ``{slot: {"name", "plugin", "distribution", "version"}}`` for every
        component slot, both players' optimizers (``generator_optimizer``,
        ``discriminator_optimizer``) and each callback (``callbacks``: a list);
        a plugin registered by hand (no entry point) has distribution ``null``.
    """
    from cganzoo.components.discovery import plugin_distributions

    reg, dists = get_registry(registry), plugin_distributions()

    def entry(kind: str, name: str) -> dict[str, Any]:
        plugin = reg.get(kind, name).plugin
        dist = dists.get(plugin, {"distribution": None, "version": None})
        return {"name": name, "plugin": plugin, **dist}

    record: dict[str, Any] = {}
    for slot, kind in COMPONENT_SLOTS:
        spec = getattr(config, slot)
        if spec is not None:
            record[slot] = entry(kind, spec.name)
    for role in ("generator", "discriminator"):
        record[f"{role}_optimizer"] = entry("optimizer", config.optimizer_for(role).name)
    record["callbacks"] = [entry("callback", spec.name) for spec in config.callbacks]
    return record


#: The data set a preset's parameter counts assume in ``cganzoo list --json``: CIFAR-10's shape and classes.
COUNT_INFO = DatasetInfo("cifar-10-shaped", 10, tuple(f"class {k}" for k in range(10)), (3, 32, 32))


def preset_parameter_counts(name: str, registry: Registry | None = None,
                            info: DatasetInfo = COUNT_INFO) -> dict[str, Any] | None:
    """Parameter counts of a model preset's G and D (conditioners included), built on ``info``'s classes and channels.

    Returns:
        ``{"generator", "discriminator", "assumes"}``, or ``None`` when the
        preset cannot be built here (a missing optional dependency, an image
        shape the networks refuse).
    """
    from cganzoo.config import validate_config
    from cganzoo.errors import CganzooError

    reg = get_registry(registry)
    try:
        config = validate_config({**reg.get("model", name).factory, "model": name})
        with torch.random.fork_rng():
            generator, discriminator = build_models(config, info, reg)
    except CganzooError:
        return None
    return {"generator": count_parameters(generator), "discriminator": count_parameters(discriminator),
            "assumes": f"{info.num_classes} classes, {info.shape[0]}x{config.img_size}x{config.img_size} images"}


def count_parameters(module: torch.nn.Module) -> int:
    """Number of trainable and frozen parameters (buffers excluded)."""
    return sum(p.numel() for p in module.parameters())


def default_run_dir(config: RunConfig) -> Path:
    """``runs/<model>-<dataset>-<UTC time>``."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    name = config.model or f"{config.generator.name}-{config.conditioner.name}"
    return Path("runs") / f"{name}-{config.dataset.name}-{stamp}"
