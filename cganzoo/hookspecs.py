"""Hook specifications: what each hook registers, and where its contract is written.

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
(listed per hook below) plus the fields of the component's own ``params`` model,
a pydantic model with ``extra="forbid"``.

Each contract is written once. This module says what each hook registers:
the ``register`` call and the keyword arguments its factory receives. What
the factory returns is specified by the docstring of the interface class it
names (:mod:`cganzoo.interfaces`; :class:`cganzoo.evaluation.Metric` for
metrics). ``docs/plugins.md`` walks through writing a plugin for each hook,
with examples that run as tests.
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
    The core calls ``factory(data_dir: Path | None, log: Callable[[str], None],
    **params)``; a factory that names an ``img_size`` keyword also receives the
    run's image side in pixels (for data whose images differ in size). It
    returns a :class:`cganzoo.interfaces.LabelledImages`, whose docstring (and
    :class:`cganzoo.interfaces.DatasetInfo`'s) is the contract.

    :mod:`cganzoo.data` offers ordered sources, a checksummed tensor cache,
    image decoding and the checks every data set needs (``docs/datasets.md``
    shows a plugin built on it).

    Example::

        @hookimpl
        def register_datasets(register):
            register("stripes", make_stripes, params=StripesParams,
                     description="synthetic stripes, 10 classes")
    """


@hookspec
def register_conditioners(register):  # pragma: no cover - specification only
    """Register conditioners: modules mapping labels ``y`` to conditions.

    Call ``register(name, factory, params=ParamsModel, description="...")``.
    The core calls ``factory(num_classes: int, class_names: tuple[str, ...],
    role: str, **params)`` once per side, ``role`` being ``"generator"`` or
    ``"discriminator"``, and it returns a :class:`cganzoo.interfaces.Conditioner`
    (subclass it), whose docstring is the contract: ``cond_dim``, the
    conditioning mechanisms, output conditioning, auxiliary losses, free text.

    A run uses ``conditioner`` for both sides unless ``generator_conditioner``
    or ``discriminator_conditioner`` name another one for that side.

    Example::

        @hookimpl
        def register_conditioners(register):
            register("doubled-one-hot", Doubled, description="one-hot code, twice")
    """


@hookspec
def register_networks(register):  # pragma: no cover - specification only
    """Register generator and discriminator networks.

    Call ``register(name, factory, kind="generator" | "discriminator",
    params=ParamsModel, description="...")``.

    A generator factory is called as ``factory(latent_dim: int, cond_dim: int,
    img_shape: tuple[int, int, int], **params)`` and returns a
    :class:`cganzoo.interfaces.GeneratorNetwork`.

    A discriminator factory is called as ``factory(cond_dim: int,
    img_shape: tuple[int, int, int], **params)`` and returns a
    :class:`cganzoo.interfaces.DiscriminatorNetwork`; ``cond_dim`` may be 0
    (the conditioner acts on the output only).

    The two classes' docstrings are the contract (with
    :class:`cganzoo.interfaces.WeightConstraint`'s ``constrain_``): shapes and
    ranges, features for output conditioners, ``init_from_data``,
    ``min_batch_size``, ``supported_shapes`` and the error for an image shape
    a factory cannot handle.

    Example::

        @hookimpl
        def register_networks(register):
            register("tiny", TinyGenerator, kind="generator", params=TinyParams,
                     description="two linear layers")
    """


@hookspec
def register_losses(register):  # pragma: no cover - specification only
    """Register adversarial losses.

    Call ``register(name, factory, params=ParamsModel, description="...")``.
    ``factory(**params)`` returns a :class:`cganzoo.interfaces.AdversarialLoss`,
    whose docstring is the contract: pure functions of logits, and the
    optional ``discriminator_penalty`` (WGAN-GP) with its ``noise``.

    Example::

        @hookimpl
        def register_losses(register):
            register("hinge", HingeLoss, description="hinge loss (Lim & Ye 2017)")
    """


@hookspec
def register_metrics(register):  # pragma: no cover - specification only
    """Register evaluation metrics.

    Call ``register(name, factory, params=ParamsModel, description="...")``.
    ``factory(**params)`` returns a :class:`cganzoo.evaluation.Metric`, whose
    docstring is the contract: ``compute(context)`` reads the shared
    :class:`cganzoo.evaluation.EvaluationContext` and returns a
    :class:`cganzoo.evaluation.MetricResult`, or raises
    :class:`cganzoo.MetricSkipped`. ``cganzoo eval`` and ``cganzoo run --eval``
    compute every registered metric (or those named with ``--metrics``) on one
    shared set of generated images. The built-in metrics
    (``plugins/cganzoo_metrics``) are worked examples.

    Example::

        @hookimpl
        def register_metrics(register):
            register("mean-ink", MeanInk, description="fraction of bright pixels")
    """


@hookspec
def register_models(register):  # pragma: no cover - specification only
    """Register models: named presets of a full run configuration.

    Call ``register(name, config, description="...")`` where ``config`` is a
    dict of :class:`cganzoo.config.RunConfig` fields (components as
    ``{"name": ..., "params": {...}}``); ``RunConfig`` is the contract.
    ``cganzoo run NAME`` starts from it and command-line flags override it.
    A preset too large to train in a CPU test may also pass
    ``smoke_params={...}``: ``RunConfig`` fields merged over it for
    ``tests/test_zoo_mnist.py`` only (``docs/plugins.md``, "Presets too large
    for CPU tests").

    Example::

        @hookimpl
        def register_models(register):
            register("my-gan", {"generator": {"name": "mlp"},
                                "discriminator": {"name": "mlp"},
                                "conditioner": {"name": "embedding"},
                                "loss": {"name": "bce"}})
    """


@hookspec
def register_optimizers(register):  # pragma: no cover - specification only
    """Register optimizers: what steps G's and D's parameters.

    Call ``register(name, factory, params=ParamsModel, description="...")``.
    The runner builds one optimizer per player (``generator_optimizer`` and
    ``discriminator_optimizer`` in the run config; ``--lr``, ``--b1`` and
    ``--b2`` set both). ``factory(parameters, lr, betas, weight_decay, fast_path,
    **params)`` receives:

    * ``parameters``: the player's parameters (an iterable of tensors);
    * ``lr`` (float), ``betas`` (``(b1, b2)``), ``weight_decay`` (float): the
      player's settings, resolved from the run config;
    * ``fast_path``: keyword options the fast path asks of Adam-like kernels
      (``{"foreach": True}``, ``{"fused": True}``, ``capturable``); ignore it
      if your optimizer has no such options;

    and returns a ``torch.optim.Optimizer``, or a
    :class:`cganzoo.interfaces.ScheduledOptimizer` when its hyper-parameters
    follow a schedule; that class's docstring is the contract.

    Example::

        def make_rmsprop(parameters, lr, betas, weight_decay, fast_path, alpha):
            return torch.optim.RMSprop(parameters, lr=lr, alpha=alpha, weight_decay=weight_decay)

        @hookimpl
        def register_optimizers(register):
            register("rmsprop", make_rmsprop, params=RMSpropParams, description="RMSprop (WGAN, Arjovsky 2017)")
    """


@hookspec
def register_augmentations(register):  # pragma: no cover - specification only
    """Register augmentations: differentiable transforms of the images D sees.

    Call ``register(name, factory, params=ParamsModel, description="...")``.
    ``factory(**params)`` returns a :class:`cganzoo.interfaces.Augmentation`,
    whose docstring is the contract: ``augment(x, noise)``, where the run
    applies it, and how to draw random numbers from ``noise``.

    Example::

        @hookimpl
        def register_augmentations(register):
            register("flip", Flip, description="horizontal flip of half the images")
    """


@hookspec
def register_callbacks(register):  # pragma: no cover - specification only
    """Register training callbacks: objects the training loop calls at fixed points.

    Call ``register(name, factory, params=ParamsModel, description="...")``.
    ``factory(**params)`` returns a :class:`cganzoo.interfaces.Callback`
    (subclass it and override the hooks you need), whose docstring is the
    contract: the hooks, their order, and the state a resumed run gets back.
    A run uses the callbacks its config names
    (``callbacks: [{name: ..., params: {...}}]``) in the order given.

    Example::

        @hookimpl
        def register_callbacks(register):
            register("print-losses", PrintLosses, description="print each logged record")
    """
