"""The component registry: names -> factories, with per-component params models.

A :class:`Registry` is filled by calling every plugin's ``register_<things>``
hook with a callback bound to one kind of component (see
:mod:`cganzoo.hookspecs`). It rejects duplicate names, validates params with the
component's own pydantic model (``extra="forbid"``) and creates components.
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, ValidationError

from cganzoo.config import validate_options
from cganzoo.errors import (CganzooError, ConfigError, DuplicateComponentError, PluginError, UnknownComponentError,
                            format_validation_error)

#: Kinds of component, in the order ``cganzoo list`` prints them.
KINDS: tuple[str, ...] = (
    "model",
    "dataset",
    "conditioner",
    "generator",
    "discriminator",
    "loss",
    "metric",
    "optimizer",
    "callback",
    "augmentation",
)


class NoParams(BaseModel):
    """Params model of a component that takes no options."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Component:
    """One registered component.

    Attributes:
        kind: One of :data:`KINDS`.
        name: Registered name, unique within its kind.
        factory: Callable building the component (for ``model``, the preset dict).
        params: Pydantic model validating the factory's options.
        plugin: Name of the plugin that registered it.
        description: One line for ``cganzoo list``.
    """

    kind: str
    name: str
    factory: Any
    params: type[BaseModel] = NoParams
    plugin: str = "?"
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class Registry:
    """Registered components of every kind."""

    def __init__(self) -> None:
        self._components: dict[tuple[str, str], Component] = {}

    def register(
        self,
        kind: str,
        name: str,
        factory: Any,
        *,
        params: type[BaseModel] | None = None,
        plugin: str = "?",
        description: str = "",
        **extra: Any,
    ) -> Component:
        """Add a component.

        Raises:
            ValueError: ``kind`` is not one of :data:`KINDS`, or ``name`` is empty.
            DuplicateComponentError: ``name`` is already registered for ``kind``.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown component kind {kind!r}; expected one of {', '.join(KINDS)}")
        if not isinstance(name, str) or not name or name != name.strip():
            raise ValueError(f"component name must be a non-empty string without spaces around it, got {name!r}")
        key = (kind, name)
        if key in self._components:
            other = self._components[key]
            raise DuplicateComponentError(
                f"{kind} {name!r} is registered twice: by plugin {other.plugin!r} and by {plugin!r}"
            )
        component = Component(kind, name, factory, params or NoParams, plugin, description, dict(extra))
        self._components[key] = component
        return component

    def get(self, kind: str, name: str) -> Component:
        """Look up one component.

        Raises:
            UnknownComponentError: no ``kind`` named ``name``; the message lists the choices.
        """
        try:
            return self._components[(kind, name)]
        except KeyError:
            choices = self.names(kind)
            close = difflib.get_close_matches(str(name), choices, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UnknownComponentError(
                f"unknown {kind} {name!r}; choose one of: {', '.join(choices) or '(none registered)'}{hint}"
            ) from None

    def names(self, kind: str, pattern: str = "*") -> list[str]:
        """Sorted names of ``kind`` matching the glob ``pattern`` (comma-separated globs: any of them)."""
        globs = [g.strip() for g in pattern.split(",") if g.strip()] or ["*"]
        return sorted(n for k, n in self._components
                      if k == kind and any(fnmatch.fnmatchcase(n, g) for g in globs))

    def components(self, kind: str | None = None, pattern: str = "*") -> list[Component]:
        """Components (optionally of one kind) whose name matches ``pattern``, in :data:`KINDS` order."""
        kinds = KINDS if kind is None else (kind,)
        return [self._components[(k, n)] for k in kinds for n in self.names(k, pattern)]

    def validate_params(self, kind: str, name: str, params: dict[str, Any] | None) -> BaseModel:
        """Validate ``params`` with the component's own params model, a bool refused for any number in it.

        Raises:
            UnknownComponentError: the component is not registered.
            ConfigError: a param is unknown or invalid; the message gives each field's problem.
        """
        component = self.get(kind, name)
        try:
            return validate_options(component.params, params or {})
        except ValidationError as exc:
            raise ConfigError(f"{kind} {name!r}: " + format_validation_error(exc)) from None

    def create(self, kind: str, name: str, params: dict[str, Any] | None = None, **context: Any) -> Any:
        """Build a component: ``factory(**context, **validated_params)``.

        Args:
            kind: Kind of component.
            name: Registered name.
            params: Options, validated by the component's params model.
            **context: Arguments the core supplies (see :mod:`cganzoo.hookspecs`).

        Raises:
            UnknownComponentError, ConfigError: as :meth:`validate_params`.
            CganzooError: whatever cganzoo error the factory raises, unchanged.
            PluginError: the factory raised anything else; the message names the
                component and the plugin that registered it (the original
                exception is chained as ``__cause__``).
        """
        component = self.get(kind, name)
        validated = self.validate_params(kind, name, params)
        try:
            return component.factory(**context, **validated.model_dump())
        except CganzooError:
            raise
        except Exception as exc:  # a third-party factory's bug is named, not a bare traceback
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise PluginError(
                f"{kind} {name!r} (from plugin {component.plugin!r}) failed to build: {type(exc).__name__}: {first}"
            ) from exc



def make_register(registry: Registry, kind: str | None, plugin: str) -> Callable[..., Component]:
    """The ``register`` callback handed to one plugin's hook.

    For ``register_networks`` (``kind=None``) the caller passes
    ``kind="generator"`` or ``kind="discriminator"``.
    """

    def register(name: str, factory: Any, *, params: type[BaseModel] | None = None,
                 description: str = "", **extra: Any) -> Component:
        component_kind = extra.pop("kind", None) if kind is None else kind
        if kind is None and component_kind not in ("generator", "discriminator"):
            raise ValueError(
                f"plugin {plugin!r}: register_networks must pass kind='generator' or "
                f"kind='discriminator' for {name!r}"
            )
        return registry.register(component_kind, name, factory, params=params, plugin=plugin,
                                 description=description, **extra)

    return register
