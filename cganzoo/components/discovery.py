"""Plugin discovery (pluggy) and the registry built from it.

Plugins, built-in ones included, are announced through the ``cganzoo``
entry-point group and implement hooks from :mod:`cganzoo.hookspecs`. A plugin
that fails to import, or whose hook raises, is reported in one line and
skipped whole (none of its components are registered); the others still load.

Name collisions (two plugins registering one name for one kind of component)
follow one rule, documented in ``docs/plugins.md``:

* the built-in plugins (shipped in the ``cganzoo`` distribution) come first,
  then every other plugin in the order of its plugin (entry-point) name; the
  first to register a name keeps it, whatever order the entry points were
  installed or discovered in;
* only the colliding component of the later plugin is skipped: its other
  components, and every component of the plugin that keeps the name, stay;
* each collision is one warning line naming the component and both plugins.

Environment:
    ``CGANZOO_DISABLE_PLUGIN_AUTOLOAD=1``: load no entry points (tests, or to
    register plugins by hand with ``pm.register``).
    ``CGANZOO_BLOCK_PLUGINS=name1,name2``: skip these entry points by name.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any, Iterable

import pluggy

from cganzoo import hookspecs
from cganzoo.errors import CganzooError, UnknownComponentError, describe
from cganzoo.components.registry import Registry, make_register

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
        errors: One line per plugin that failed to import or whose hook
            raised, and per name collision.
        details: The full text behind those lines (multi-line validation
            errors, exception chains), shown with ``--verbose``.
    """

    pm: pluggy.PluginManager
    registry: Registry
    errors: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)


def get_plugin_manager(*, autoload: bool | None = None, extra_plugins: Iterable[Any] = ()) -> tuple[pluggy.PluginManager, list[str]]:
    """Build a fresh plugin manager.

    Args:
        autoload: Load the ``cganzoo`` entry points. Default: yes, unless
            ``CGANZOO_DISABLE_PLUGIN_AUTOLOAD`` is set to a non-empty value.
        extra_plugins: Plugin objects (modules, instances) registered by hand.

    Returns:
        The manager and one error line per entry point that failed to load.
        The names of the built-in plugins that loaded are in
        ``builtin_plugin_names(pm)``.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    errors: list[str] = []
    details: list[str] = []
    pm.cganzoo_details = details  # type: ignore[attr-defined]  # the full text behind each error line
    builtin: set[str] = set()
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
                errors.append(f"plugin {ep.name!r} ({ep.value}) failed to load and was skipped: {_describe(exc)}")
                details.append(f"plugin {ep.name!r}:\n" + "".join(traceback.format_exception(exc)))
                continue
            if _distribution_name(ep) == BUILTIN_DISTRIBUTION:
                builtin.add(ep.name)
    for plugin in extra_plugins:
        pm.register(plugin)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        errors.append(f"plugin validation failed: {_describe(exc)}")
        details.append(f"plugin validation failed:\n{exc}")
    pm.cganzoo_builtin_plugins = frozenset(builtin)  # type: ignore[attr-defined]
    return pm, errors


#: Distribution whose plugins are the built-in ones (they win name collisions).
BUILTIN_DISTRIBUTION = "cganzoo"


def builtin_plugin_names(pm: pluggy.PluginManager) -> frozenset[str]:
    """Names of the plugins of ``pm`` shipped in the ``cganzoo`` distribution itself."""
    return getattr(pm, "cganzoo_builtin_plugins", frozenset())


def _distribution(ep: importlib.metadata.EntryPoint) -> tuple[str | None, str | None]:
    """``(name, version)`` of the installed distribution announcing ``ep``; ``(None, None)`` for one made by hand."""
    dist = getattr(ep, "dist", None)
    name = getattr(dist, "name", None) if dist is not None else None
    return (name, dist.version) if isinstance(name, str) else (None, None)


def _distribution_name(ep: importlib.metadata.EntryPoint) -> str | None:
    name = _distribution(ep)[0]
    return name.lower().replace("_", "-") if name is not None else None


def details_of(pm: pluggy.PluginManager) -> list[str]:
    """The full text (tracebacks, multi-line validation messages) behind ``pm``'s one-line errors."""
    if not hasattr(pm, "cganzoo_details"):
        pm.cganzoo_details = []  # type: ignore[attr-defined]
    return pm.cganzoo_details  # type: ignore[attr-defined]


def _describe(exc: BaseException) -> str:
    """``Type: message`` on one line (pluggy's validation errors span several), whatever raised it."""
    return f"{type(exc).__name__}: {describe(exc)}" if isinstance(exc, CganzooError) else describe(exc)


def plugin_order(pm: pluggy.PluginManager, names: Iterable[str] | None = None) -> list[str]:
    """Plugin names in the order their registrations count: built-in ones, then the rest, each by name.

    Args:
        pm: The plugin manager.
        names: The names to order (default: every plugin implementing a hook).
    """
    builtin = builtin_plugin_names(pm)
    if names is None:
        names = {impl.plugin_name for hook in HOOK_KINDS for impl in getattr(pm.hook, hook).get_hookimpls()}
    return sorted(set(names), key=lambda name: (name not in builtin, name))


def build_registry(pm: pluggy.PluginManager) -> tuple[Registry, list[str]]:
    """Call every plugin's registration hooks and merge what they register, one plugin at a time.

    Each plugin's hooks run with ``register`` callbacks into a registry of its
    own. If one of its hooks raises (a duplicate name within the plugin
    included), none of its components are registered: the plugin is skipped
    whole, as the warning says. Otherwise its components are merged into the
    shared registry in :func:`plugin_order`; a name another plugin already
    holds stays with that plugin and only the colliding component is skipped.

    Returns:
        The filled registry and one warning line per failing plugin and per collision.
    """
    registry = Registry()
    errors: list[str] = []
    impls: dict[str, list[tuple[str, str | None, Any]]] = {}
    for hook_name, kind in HOOK_KINDS.items():
        # pluggy returns hookimpls in reverse registration order; keep registration order within a plugin.
        for impl in reversed(getattr(pm.hook, hook_name).get_hookimpls()):
            impls.setdefault(impl.plugin_name, []).append((hook_name, kind, impl.function))
    for plugin_name in plugin_order(pm, impls):
        staged = Registry()
        try:
            for hook_name, kind, function in impls.get(plugin_name, []):
                failing_hook = hook_name
                function(register=make_register(staged, kind, plugin_name))
        except (Exception, SystemExit) as exc:
            errors.append(f"plugin {plugin_name!r}: hook {failing_hook} raised {_describe(exc)}; "
                          f"none of its components were registered")
            details_of(pm).append(f"plugin {plugin_name!r}, hook {failing_hook}:\n"
                                  + "".join(traceback.format_exception(exc)))
            continue
        for component in staged.components():
            try:
                holder = registry.get(component.kind, component.name)
            except UnknownComponentError:
                registry.register(component.kind, component.name, component.factory, params=component.params,
                                  plugin=component.plugin, description=component.description, **component.extra)
                continue
            errors.append(f"{component.kind} {component.name!r} is registered by plugins {holder.plugin!r} and "
                          f"{plugin_name!r}; {holder.plugin!r} keeps the name (built-in plugins first, then by "
                          f"plugin name); the one from {plugin_name!r} is skipped, its other components are kept")
    return registry, errors


def load_plugins(*, autoload: bool | None = None, extra_plugins: Iterable[Any] = ()) -> PluginHost:
    """Discover plugins and build a registry: the one-call entry for the CLI and API."""
    pm, errors = get_plugin_manager(autoload=autoload, extra_plugins=extra_plugins)
    registry, hook_errors = build_registry(pm)
    return PluginHost(pm, registry, errors + hook_errors, list(details_of(pm)))


_default_host: PluginHost | None = None


def default_host() -> PluginHost:
    """The process-wide plugin host, built on first use (not at import time).

    Load errors are printed to stderr once, one line each; with
    ``CGANZOO_VERBOSE=1`` (``--verbose``) the full text behind them follows.
    """
    global _default_host
    if _default_host is None:
        _default_host = load_plugins()
        for line in _default_host.errors:
            print(f"cganzoo: warning: {line}", file=sys.stderr)
        if _default_host.details and os.environ.get("CGANZOO_VERBOSE", "") not in ("", "0"):
            for block in _default_host.details:
                print("\n".join(f"  {line}" for line in block.splitlines()), file=sys.stderr)
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
        found.setdefault(ep.name, dict(zip(("distribution", "version"), _distribution(ep))))
    return found
