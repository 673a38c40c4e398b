"""Plugin discovery (pluggy) and the registry built from it.

Plugins, built-in ones included, are announced through the ``cganzoo``
entry-point group and implement hooks from :mod:`cganzoo.hookspecs`. A plugin
that fails to import, or whose hook raises, is reported in one line and
skipped; the others still load.

Environment:
    ``CGANZOO_DISABLE_PLUGIN_AUTOLOAD=1``: load no entry points (tests, or to
    register plugins by hand with ``pm.register``).
    ``CGANZOO_BLOCK_PLUGINS=name1,name2``: skip these entry points by name.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Iterable

import pluggy

from cganzoo import hookspecs
from cganzoo.registry import Registry, make_register

ENTRY_POINT_GROUP = "cganzoo"

#: hook name -> component kind it registers (None: the call names the kind).
HOOK_KINDS: dict[str, str | None] = {
    "register_models": "model",
    "register_datasets": "dataset",
    "register_conditioners": "conditioner",
    "register_networks": None,
    "register_losses": "loss",
    "register_metrics": "metric",
    "register_optimizers": "optimizer",
    "register_callbacks": "callback",
    "register_augmentations": "augmentation",
}


@dataclass
class PluginHost:
    """A plugin manager, the registry it filled, and what went wrong on the way.

    Attributes:
        pm: The pluggy plugin manager.
        registry: Components registered by every plugin that loaded.
        errors: One line per plugin that failed to import or whose hook raised.
    """

    pm: pluggy.PluginManager
    registry: Registry
    errors: list[str] = field(default_factory=list)


def get_plugin_manager(*, autoload: bool | None = None, extra_plugins: Iterable[Any] = ()) -> tuple[pluggy.PluginManager, list[str]]:
    """Build a fresh plugin manager.

    Args:
        autoload: Load the ``cganzoo`` entry points. Default: yes, unless
            ``CGANZOO_DISABLE_PLUGIN_AUTOLOAD`` is set to a non-empty value.
        extra_plugins: Plugin objects (modules, instances) registered by hand.

    Returns:
        The manager and one error line per entry point that failed to load.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    errors: list[str] = []
    if autoload is None:
        autoload = not os.environ.get("CGANZOO_DISABLE_PLUGIN_AUTOLOAD")
    if autoload:
        blocked = {b.strip() for b in os.environ.get("CGANZOO_BLOCK_PLUGINS", "").split(",") if b.strip()}
        for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if ep.name in blocked or pm.is_registered(ep.name) or pm.get_plugin(ep.name) is not None:
                continue
            try:
                plugin = ep.load()
                pm.register(plugin, name=ep.name)
            except (Exception, SystemExit) as exc:  # one broken plugin must not take the others down
                errors.append(f"plugin {ep.name!r} ({ep.value}) failed to load and was skipped: "
                              f"{type(exc).__name__}: {exc}")
    for plugin in extra_plugins:
        pm.register(plugin)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        errors.append(f"plugin validation failed: {exc}")
    return pm, errors


def build_registry(pm: pluggy.PluginManager) -> tuple[Registry, list[str]]:
    """Call every plugin's registration hooks, one plugin at a time.

    Each hook implementation gets a ``register`` callback that records the
    plugin's name with the component. A hook that raises is reported and its
    plugin's remaining registrations for that hook are dropped.

    Returns:
        The filled registry and one error line per failing hook.
    """
    registry = Registry()
    errors: list[str] = []
    for hook_name, kind in HOOK_KINDS.items():
        caller = getattr(pm.hook, hook_name)
        # pluggy returns hookimpls in reverse registration order; keep registration order.
        for impl in reversed(caller.get_hookimpls()):
            plugin_name = impl.plugin_name
            staged = Registry()
            register = make_register(staged, kind, plugin_name)
            try:
                impl.function(register=register)
                for component in staged.components():
                    registry.register(component.kind, component.name, component.factory,
                                      params=component.params, plugin=component.plugin,
                                      description=component.description, **component.extra)
            except (Exception, SystemExit) as exc:
                errors.append(f"plugin {plugin_name!r}: hook {hook_name} raised "
                              f"{type(exc).__name__}: {exc}; its components were skipped")
    return registry, errors


def load_plugins(*, autoload: bool | None = None, extra_plugins: Iterable[Any] = ()) -> PluginHost:
    """Discover plugins and build a registry: the one-call entry for the CLI and API."""
    pm, errors = get_plugin_manager(autoload=autoload, extra_plugins=extra_plugins)
    registry, hook_errors = build_registry(pm)
    return PluginHost(pm, registry, errors + hook_errors)


_default_host: PluginHost | None = None


def default_host() -> PluginHost:
    """The process-wide plugin host, built on first use (not at import time).

    Load errors are printed to stderr once, one line each.
    """
    global _default_host
    if _default_host is None:
        _default_host = load_plugins()
        for line in _default_host.errors:
            print(f"cganzoo: warning: {line}", file=sys.stderr)
    return _default_host


def reset_default_host() -> None:
    """Forget the process-wide host, so the next use rediscovers plugins (tests)."""
    global _default_host
    _default_host = None


def hooks_by_plugin(pm: pluggy.PluginManager) -> dict[str, list[str]]:
    """Plugin name -> names of the hooks it implements, for ``cganzoo plugins``."""
    result: dict[str, list[str]] = {}
    for plugin in pm.get_plugins():
        name = pm.get_name(plugin) or repr(plugin)
        result[name] = sorted(hc.name for hc in pm.get_hookcallers(plugin) or [])
    return result


def plugin_distributions() -> dict[str, dict[str, str | None]]:
    """Entry-point name -> ``{"distribution", "version"}`` of the installed package that provides it.

    What ``config.json`` records for each component of a run, so a run says
    which plugin versions made it.
    """
    found: dict[str, dict[str, str | None]] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        found.setdefault(ep.name, {"distribution": dist.metadata["Name"] if dist is not None else None,
                                   "version": dist.version if dist is not None else None})
    return found
