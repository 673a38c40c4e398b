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
    Resizing, scaling to ``[-1, 1]`` and shuffling are the core's job. A
    factory that names an ``img_size`` keyword also receives the run's image
    side in pixels (for data whose images differ in size). :mod:`cganzoo.data`
    offers ordered sources, a checksummed tensor cache, image decoding and the
    checks every data set needs (``docs/datasets.md`` shows a plugin built on it).

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
    ``factory(num_classes: int, class_names: tuple[str, ...], role: str, **params)``
    returns a :class:`cganzoo.interfaces.Conditioner` (subclass it). ``role``
    is ``"generator"`` or ``"discriminator"``: the generator and the
    discriminator each get their own instance, built with their role, so a
    conditioner decides what it does on each side. A conditioner that cannot
    serve a role raises :class:`cganzoo.errors.IncompatibleError` saying why.

    The instance sets an integer ``cond_dim`` (0 allowed: no input
    conditioning) and ``num_classes``; ``forward(y)`` maps int64 labels ``(B,)``
    to a float tensor ``(B, cond_dim)`` that the network takes as extra
    input. Discriminator-side conditioners may instead (or also) act on the
    discriminator's features (``reads_features = True``, ``bind_features``,
    ``condition_output``: projection) and add auxiliary loss terms
    (``generator_loss``, ``discriminator_loss``: AC-GAN's class
    cross-entropy); conditioners that set ``accepts_text = True`` implement
    ``encode_text(texts)`` for free-text labels at sampling time. The
    :class:`cganzoo.interfaces.Conditioner` docstring is the reference.

    A run uses ``conditioner`` for both sides unless ``generator_conditioner``
    or ``discriminator_conditioner`` name another one for that side.

    Example::

        class Doubled(Conditioner):
            def __init__(self, num_classes, class_names, role):
                super().__init__()
                self.num_classes, self.cond_dim = num_classes, 2 * num_classes

            def forward(self, y):
                return F.one_hot(y, self.num_classes).float().repeat(1, 2)

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
    :class:`cganzoo.interfaces.GeneratorNetwork`: ``forward(z, c)`` maps
    ``z (B, latent_dim)`` and ``c (B, cond_dim)`` to images ``(B, C, H, W)``
    in ``[-1, 1]``.

    A discriminator factory is called as ``factory(cond_dim: int,
    img_shape: tuple[int, int, int], **params)`` and returns a
    :class:`cganzoo.interfaces.DiscriminatorNetwork`: ``forward(x, c)`` maps
    images ``(B, C, H, W)`` and ``c (B, cond_dim)`` to logits ``(B,)``
    (unbounded; no sigmoid). ``cond_dim`` may be 0 (the conditioner acts on
    the output only). To serve output conditioners (projection, AC-GAN) it
    also sets ``feature_dim`` and implements ``features(x, c) -> (B,
    feature_dim)`` and ``output(h) -> (B,)`` with ``forward(x, c) ==
    output(features(x, c))``.

    A generator network may implement ``init_from_data(images)``, a
    data-dependent initialisation the runner calls once on a fresh run before
    the first step with the training images (uint8 ``(N, C, H, W)`` in
    ``[0, 255]``, after resizing); it must be deterministic, and a resumed
    run loads its weights instead (see
    :meth:`cganzoo.interfaces.GeneratorNetwork.init_from_data`).

    Either network may implement ``constrain_()``, which the training step
    calls after each optimizer update of that network to project its weights
    in place (e.g. a max-norm constraint; see
    :meth:`cganzoo.interfaces.GeneratorNetwork.constrain_`).

    Either network may set ``min_batch_size`` (default 1) if it cannot train
    on smaller batches (BatchNorm1d needs 2). A factory raises
    :class:`cganzoo.errors.IncompatibleError` for an image shape it cannot
    handle, naming the shapes it can.
    """


@hookspec
def register_losses(register):  # pragma: no cover - specification only
    """Register adversarial losses.

    Call ``register(name, factory, params=ParamsModel, description="...")``.
    ``factory(**params)`` returns a :class:`cganzoo.interfaces.AdversarialLoss`:
    pure functions of logits returning scalar losses,
    ``discriminator_loss(real_logits, fake_logits)`` and
    ``generator_loss(fake_logits)``, logits ``(B,)``. A loss never touches an
    optimizer; the runner owns every ``backward()`` and ``step()``.

    A loss with a penalty on the discriminator (WGAN-GP) also implements
    ``discriminator_penalty(critic, real, fake, noise) -> scalar``, where
    ``critic(x)`` gives D's logits ``(B,)`` for images ``x`` (the condition
    bound to the real batch's labels) and ``noise`` is a
    :class:`cganzoo.BatchNoise`: draw every random number from it
    (``noise.rand(B, 1, 1, 1)``), never from torch's global generator, so the
    draws do not depend on the number of processes; set
    ``per_sample_discriminator = True`` if the penalty is invalid with
    BatchNorm in D (checked before training).
    """


@hookspec
def register_metrics(register):  # pragma: no cover - specification only
    """Register evaluation metrics.

    Call ``register(name, factory, params=ParamsModel, description="...")``.
    ``factory(**params)`` returns a :class:`cganzoo.evaluation.Metric`: an
    object whose ``compute(context)`` takes a
    :class:`cganzoo.evaluation.EvaluationContext` and returns a
    :class:`cganzoo.evaluation.MetricResult`. ``cganzoo eval`` and
    ``cganzoo run --eval`` compute every registered metric (or those named
    with ``--metrics``) on one shared set of generated images, so a metric
    should read what it needs from the context: ``context.images("generated")``
    (float ``(N, C, h, w)`` in ``[-1, 1]`` and int64 labels ``(N,)``),
    ``context.real("test")`` (uint8 at native size), ``context.judge_outputs(split)``
    (the judge's cached features and logits) and ``context.protocol()`` (sample
    counts, seed, judge checksum) to start its own protocol record.
    ``context.shared(key, compute)`` computes expensive work once per
    evaluation for every metric that asks with the same key (the Inception
    metrics share their features so), and ``context.resolved_cache_root()``
    is where to cache what is computed from the real data. A metric that
    cannot run here (an optional package or weights file is absent) raises
    :class:`cganzoo.MetricSkipped` with a one-line reason saying how to get
    it: the report records the metric as skipped and the others still run. The
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
    follow a schedule (a pure function of the update count, so a resumed run
    restores it exactly). The runner calls ``zero_grad``, ``step`` and the
    schedule; the optimizer's ``state_dict`` is checkpointed.

    Example::

        class RMSpropParams(BaseModel):
            model_config = ConfigDict(extra="forbid")
            alpha: float = Field(0.99, gt=0, lt=1)

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
    ``factory(**params)`` returns a :class:`cganzoo.interfaces.Augmentation`:
    a callable ``augment(x, noise) -> x'`` on float images ``(B, C, H, W)``
    in about ``[-1, 1]``, returning the same shape, differentiable in ``x``
    (the generator's gradients flow through it: DiffAugment, Zhao et al.
    2020, Sec. 3). A run with ``augmentation`` set applies it to the real and
    the generated images before every call of D, in the D updates and in the
    G update alike.

    ``noise`` is a :class:`cganzoo.BatchNoise` over the run's checkpointed
    noise generator: draw every random number from it (``noise.rand(B, 1, 1, 1)``,
    ``noise.randint(high, B, 1)``), never from torch's global generator, so a
    resumed run repeats the same augmentations and ``N`` processes draw what
    one process draws. Draw per-sample values for the whole batch, so the
    draws do not depend on the batch's content.

    Example::

        class Flip:
            def __call__(self, x, noise):
                flip = noise.rand(x.shape[0], 1, 1, 1, dtype=x.dtype) < 0.5
                return torch.where(flip, x.flip(3), x)

        @hookimpl
        def register_augmentations(register):
            register("flip", Flip, description="horizontal flip of half the images")
    """


@hookspec
def register_callbacks(register):  # pragma: no cover - specification only
    """Register training callbacks: objects the training loop calls at fixed points.

    Call ``register(name, factory, params=ParamsModel, description="...")``.
    ``factory(**params)`` returns a :class:`cganzoo.interfaces.Callback`
    (subclass it and override the hooks you need: ``on_fit_start``,
    ``on_step_end``, ``on_log``, ``on_samples``, ``on_checkpoint``,
    ``on_evaluation``, ``on_fit_end``; ``state_dict`` / ``load_state_dict`` if it
    has state that a resumed run must get back). A run uses the callbacks its
    config names (``callbacks: [{name: ..., params: {...}}]``) before the
    built-in ones (metrics log, progress bar, sample grids, checkpoints,
    evaluation), in the order given. A callback observes training; it never
    calls ``backward()`` or an optimizer's ``step()``.

    Example::

        class PrintLosses(Callback):
            def on_log(self, trainer, record):
                print(record["step"], record["d_loss"], record["g_loss"])

        @hookimpl
        def register_callbacks(register):
            register("print-losses", PrintLosses, description="print each logged record")
    """
