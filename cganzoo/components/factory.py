"""``create_*`` and ``list_*``: build registered components by name (the timm pattern).

Each function takes an optional ``registry``; without one it uses the
process-wide registry that :func:`cganzoo.components.discovery.default_host` builds from
the installed plugins on first use.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Callable, Iterable

import torch

from cganzoo.interfaces import (
    AdversarialLoss,
    Augmentation,
    Callback,
    Conditioner,
    DatasetInfo,
    LabelledImages,
    ScheduledOptimizer,
)
from cganzoo.errors import PluginError
from cganzoo.components.compatibility import check_conditioner_role, check_discriminator_parts, check_generator_parts
from cganzoo.components.composition import ConditionalDiscriminator, ConditionalGenerator
from cganzoo.components.registry import Component, Registry


def get_registry(registry: Registry | None = None) -> Registry:
    """The given registry, or the one built from the installed plugins."""
    if registry is not None:
        return registry
    from cganzoo.components.discovery import default_host

    return default_host().registry


def list_components(kind: str | None = None, pattern: str = "*", *, registry: Registry | None = None) -> list[Component]:
    """Registered components, optionally of one kind, whose names match the glob ``pattern``."""
    return get_registry(registry).components(kind, pattern)


def list_models(pattern: str = "*", *, registry: Registry | None = None) -> list[str]:
    """Names of registered models (presets) matching ``pattern``."""
    return get_registry(registry).names("model", pattern)


def model_preset(name: str, *, registry: Registry | None = None) -> dict[str, Any]:
    """The config dict a model preset registered (a copy).

    Raises:
        UnknownComponentError: no model ``name``; the message lists the models.
    """
    import copy

    return copy.deepcopy(get_registry(registry).get("model", name).factory)


def create_dataset(name: str, params: dict[str, Any] | None = None, *, data_dir: Path | None = None,
                   log: Callable[[str], None] = print, registry: Registry | None = None,
                   img_size: int | None = None) -> LabelledImages:
    """Load a registered data set as in-memory tensors (see :class:`LabelledImages`).

    Args:
        name: Registered data set name.
        params: Its options.
        data_dir: Where the user placed data files (passed to the factory).
        log: Receives one-line progress messages.
        registry: Component registry (default: installed plugins).
        img_size: The run's image side in pixels. Passed on only to factories
            that declare an ``img_size`` keyword (data whose images differ in
            size are resized to it when loaded); others never see it.
    """
    reg = get_registry(registry)
    context: dict[str, Any] = {"data_dir": data_dir, "log": log}
    if img_size is not None and _accepts_keyword(reg.get("dataset", name).factory, "img_size"):
        context["img_size"] = img_size
    data = reg.create("dataset", name, params, **context)
    if not isinstance(data, LabelledImages):
        raise PluginError(f"dataset {name!r} (from plugin {reg.get('dataset', name).plugin!r}) returned "
                          f"{type(data).__name__}, not LabelledImages")
    return data


def _accepts_keyword(factory: Callable[..., Any], keyword: str) -> bool:
    """Whether ``factory`` names ``keyword`` (a catch-all ``**kwargs`` does not count: it would surprise)."""
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # a builtin or C callable without a signature
        return False
    return any(p.name == keyword and p.kind is not inspect.Parameter.VAR_POSITIONAL for p in parameters)


def create_conditioner(name: str, params: dict[str, Any] | None = None, *, info: DatasetInfo,
                       role: str = "generator", registry: Registry | None = None) -> Conditioner:
    """Build a conditioner for a data set's classes, for one side of the GAN.

    Args:
        name: Registered conditioner name.
        params: Its options.
        info: The data set (class count and names).
        role: ``"generator"`` or ``"discriminator"``: the side it conditions.
        registry: Component registry (default: installed plugins).

    Raises:
        IncompatibleError: the conditioner cannot serve ``role``.
        TypeError: the factory returned no :class:`Conditioner` with an integer ``cond_dim >= 0``.
    """
    if role not in ("generator", "discriminator"):
        raise ValueError(f"role must be 'generator' or 'discriminator', got {role!r}")
    conditioner = get_registry(registry).create(
        "conditioner", name, params, num_classes=info.num_classes, class_names=tuple(info.class_names), role=role
    )
    if not isinstance(conditioner, Conditioner):
        raise TypeError(f"conditioner {name!r} factory returned {type(conditioner).__name__}, not a Conditioner")
    cond_dim = getattr(conditioner, "cond_dim", None)
    if not isinstance(cond_dim, int) or cond_dim < 0:
        raise PluginError(f"conditioner {name!r} has no non-negative integer cond_dim (got {cond_dim!r})")
    check_conditioner_role(conditioner, role, name=name)
    # Error messages about combinations name components as the user wrote them.
    conditioner.component_name = name
    return conditioner


def create_loss(name: str, params: dict[str, Any] | None = None, *, registry: Registry | None = None) -> AdversarialLoss:
    """Build an adversarial loss."""
    return get_registry(registry).create("loss", name, params)


def create_generator(name: str, params: dict[str, Any] | None = None, *, conditioner: Conditioner,
                     latent_dim: int, img_shape: tuple[int, int, int],
                     registry: Registry | None = None) -> ConditionalGenerator:
    """Build ``G(z, y)``: the generator network ``name`` around ``conditioner``.

    Raises:
        IncompatibleError: the network cannot produce ``img_shape``.
    """
    net = get_registry(registry).create("generator", name, params, latent_dim=latent_dim,
                                     cond_dim=conditioner.cond_dim, img_shape=tuple(img_shape))
    check_generator_parts(conditioner, net, network_name=name)
    return ConditionalGenerator(conditioner, net)


def create_discriminator(name: str, params: dict[str, Any] | None = None, *, conditioner: Conditioner,
                         img_shape: tuple[int, int, int],
                         registry: Registry | None = None) -> ConditionalDiscriminator:
    """Build ``D(x, y)``: the discriminator network ``name`` around ``conditioner``.

    Raises:
        IncompatibleError: the network cannot take ``img_shape``, or ``conditioner``
            reads features the network does not expose.
    """
    net = get_registry(registry).create("discriminator", name, params, cond_dim=conditioner.cond_dim,
                                     img_shape=tuple(img_shape))
    check_discriminator_parts(conditioner, net, network_name=name)
    return ConditionalDiscriminator(conditioner, net)


def create_optimizer(name: str, params: dict[str, Any] | None = None, *, parameters: Iterable[torch.Tensor],
                     lr: float, betas: tuple[float, float], weight_decay: float = 0.0,
                     fast_path: dict[str, Any] | None = None, registry: Registry | None = None) -> ScheduledOptimizer:
    """Build one player's optimizer (see ``register_optimizers`` in :mod:`cganzoo.hookspecs`).

    Returns:
        A :class:`ScheduledOptimizer`; a constant optimizer gets a schedule that changes nothing.

    Raises:
        UnknownComponentError, ConfigError: unknown name or invalid params.
        PluginError: the factory returned neither an optimizer nor a ScheduledOptimizer.
    """
    reg = get_registry(registry)
    built = reg.create("optimizer", name, params, parameters=parameters, lr=lr, betas=tuple(betas),
                       weight_decay=weight_decay, fast_path=dict(fast_path or {}))
    if isinstance(built, torch.optim.Optimizer):
        return ScheduledOptimizer(built, _constant)
    if isinstance(built, ScheduledOptimizer) and isinstance(built.optimizer, torch.optim.Optimizer):
        return built
    raise PluginError(f"optimizer {name!r} (from plugin {reg.get('optimizer', name).plugin!r}) returned "
                      f"{type(built).__name__}, not a torch.optim.Optimizer or cganzoo.ScheduledOptimizer")


def _constant(optimizer: torch.optim.Optimizer, update: int) -> None:
    return None


def create_augmentation(name: str, params: dict[str, Any] | None = None, *,
                        registry: Registry | None = None) -> Augmentation:
    """Build a registered augmentation (see ``register_augmentations`` in :mod:`cganzoo.hookspecs`).

    Raises:
        UnknownComponentError, ConfigError: unknown name or invalid params.
        PluginError: the factory returned something that is not callable.
    """
    reg = get_registry(registry)
    augmentation = reg.create("augmentation", name, params)
    if not callable(augmentation):
        raise PluginError(f"augmentation {name!r} (from plugin {reg.get('augmentation', name).plugin!r}) returned "
                          f"{type(augmentation).__name__}, which is not callable as augment(x, noise)")
    return augmentation


def create_callback(name: str, params: dict[str, Any] | None = None, *, registry: Registry | None = None) -> Callback:
    """Build a registered training callback; its ``state_key`` defaults to ``name``.

    Raises:
        UnknownComponentError, ConfigError: unknown name or invalid params.
        PluginError: the factory returned no :class:`Callback`.
    """
    reg = get_registry(registry)
    callback = reg.create("callback", name, params)
    if not isinstance(callback, Callback):
        raise PluginError(f"callback {name!r} (from plugin {reg.get('callback', name).plugin!r}) returned "
                          f"{type(callback).__name__}, not a cganzoo.Callback subclass")
    if not callback.state_key:
        callback.state_key = name
    return callback


__all__ = [
    "create_augmentation",
    "create_callback",
    "create_optimizer",
    "create_conditioner",
    "create_dataset",
    "create_discriminator",
    "create_generator",
    "create_loss",
    "list_components",
    "list_models",
    "model_preset",
]
