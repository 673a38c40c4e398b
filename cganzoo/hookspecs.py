"""Hook specifications: the plugin author's reference.

A plugin is an importable module (or object) that implements one or more of
the hooks below, each marked with :data:`cganzoo.hookimpl`, and is announced
through the ``cganzoo`` entry-point group::

    # pyproject.toml of a third-party plugin
    [project.entry-points.cganzoo]
    my_plugin = "my_plugin"

Every hook has the shape ``register_<things>(register)``: the plugin calls
``register(...)`` once per component and the core keeps naming, duplicate
detection and validation (the pattern of simonw/llm). The built-in plugins in
``plugins/`` use exactly these hooks, so they double as worked examples.

Factories receive keyword arguments only: the context the core supplies
(documented per hook) plus the fields of the component's own ``params`` model,
a pydantic model with ``extra="forbid"``.
"""

from __future__ import annotations

import pluggy

PROJECT_NAME = "cganzoo"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_datasets(register):  # pragma: no cover - specification only
    """Register dataset sources.

    Call ``register(name, factory, params=ParamsModel, description="...")``.
    ``factory(data_dir: Path | None, log: Callable[[str], None], **params)``
    returns a :class:`cganzoo.interfaces.LabelledImages`: the training images
    as a uint8 tensor ``(N, C, H, W)`` in ``[0, 255]``, int64 labels ``(N,)``
    in ``[0, num_classes)``, and a :class:`cganzoo.interfaces.DatasetInfo`.
    Resizing, scaling to ``[-1, 1]`` and shuffling are the core's job.

    Example::

        @hookimpl
        def register_datasets(register):
            register("stripes", make_stripes, params=StripesParams,
                     description="synthetic stripes, 10 classes")
    """


@hookspec
def register_conditioners(register):  # pragma: no cover - specification only
    """Register conditioners: modules mapping labels ``y`` to a condition tensor.

    Call ``register(name, factory, params=ParamsModel, description="...")``.
    ``factory(num_classes: int, class_names: tuple[str, ...], **params)``
    returns a :class:`cganzoo.interfaces.Conditioner`, an ``nn.Module`` with an
    integer attribute ``cond_dim`` whose ``forward(y)`` maps int64 labels
    ``(B,)`` to a float tensor ``(B, cond_dim)``. The generator and the
    discriminator each get their own instance.
    """


@hookspec
def register_networks(register):  # pragma: no cover - specification only
    """Register generator and discriminator networks.

    Call ``register(name, factory, kind="generator" | "discriminator",
    params=ParamsModel, description="...")``.

    A generator factory is called as ``factory(latent_dim: int, cond_dim: int,
    img_shape: tuple[int, int, int], **params)`` and returns a
    :class:`cganzoo.interfaces.GeneratorNetwork`: ``forward(z, c)`` maps
    ``z (B, latent_dim)`` and ``c (B, cond_dim)`` to images ``(B, C, H, W)``
    in ``[-1, 1]``.

    A discriminator factory is called as ``factory(cond_dim: int,
    img_shape: tuple[int, int, int], **params)`` and returns a
    :class:`cganzoo.interfaces.DiscriminatorNetwork`: ``forward(x, c)`` maps
    images ``(B, C, H, W)`` and ``c (B, cond_dim)`` to logits ``(B,)``
    (unbounded; no sigmoid).

    A factory raises :class:`cganzoo.errors.IncompatibleError` for an image
    shape it cannot handle.
    """


@hookspec
def register_losses(register):  # pragma: no cover - specification only
    """Register adversarial losses.

    Call ``register(name, factory, params=ParamsModel, description="...")``.
    ``factory(**params)`` returns a :class:`cganzoo.interfaces.AdversarialLoss`:
    pure functions of logits returning scalar losses. A loss never touches an
    optimizer; the runner owns every ``backward()`` and ``step()``.
    """


@hookspec
def register_metrics(register):  # pragma: no cover - specification only
    """Register evaluation metrics.

    Call ``register(name, factory, params=ParamsModel, description="...")``.
    ``factory(**params)`` returns a :class:`cganzoo.interfaces.Metric`: an
    object whose ``compute(context)`` takes a
    :class:`cganzoo.evaluation.EvaluationContext` and returns a
    :class:`cganzoo.evaluation.MetricResult`. ``cganzoo eval`` and
    ``cganzoo run --eval`` compute every registered metric (or those named
    with ``--metrics``) on one shared set of generated images, so a metric
    should read what it needs from the context: ``context.images("generated")``
    (float ``(N, C, h, w)`` in ``[-1, 1]`` and int64 labels ``(N,)``),
    ``context.real("test")`` (uint8 at native size), ``context.judge_outputs(split)``
    (the judge's cached features and logits) and ``context.protocol()`` (sample
    counts, seed, judge checksum) to start its own protocol record. The
    built-in metrics (``plugins/cganzoo_metrics``) are worked examples.

    Example::

        class MeanInk:
            def compute(self, context):
                images, _ = context.images("generated")
                value = float((images.flatten(1) > 0).float().mean())
                return MetricResult({"ink_fraction": value}, context.protocol(judge=False))

        @hookimpl
        def register_metrics(register):
            register("mean-ink", MeanInk, description="fraction of bright pixels")
    """


@hookspec
def register_models(register):  # pragma: no cover - specification only
    """Register models: named presets of a full run configuration.

    Call ``register(name, config, description="...")`` where ``config`` is a
    dict of :class:`cganzoo.config.RunConfig` fields (components as
    ``{"name": ..., "params": {...}}``). ``cganzoo run NAME`` starts from it and
    command-line flags override it.

    Example::

        @hookimpl
        def register_models(register):
            register("my-gan", {"generator": {"name": "mlp"},
                                "discriminator": {"name": "mlp"},
                                "conditioner": {"name": "embedding"},
                                "loss": {"name": "bce"}})
    """
