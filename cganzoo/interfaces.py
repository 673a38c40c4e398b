"""The interfaces every component implements.

Components are ordinary ``torch.nn.Module`` subclasses (conditioners and
networks) or small objects (losses, datasets). The core composes them:

* a :class:`ConditionalGenerator` owns a conditioner and a generator network:
  ``G(z, y) = net(z, conditioner(y))``;
* a :class:`ConditionalDiscriminator` owns its own conditioner and a
  discriminator network: ``D(x, y) = net(x, conditioner(y))``.

Mirza & Osindero 2014, Sec. 3.2: "both the generator and discriminator are
conditioned on some extra information y ... by feeding y into both the
discriminator and generator as additional input layer".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence, runtime_checkable

import torch
from torch import nn

from cganzoo.errors import IncompatibleError, LabelError
from cganzoo.labels import check_labels

if TYPE_CHECKING:  # the evaluation package imports this module
    from cganzoo.evaluation.context import EvaluationContext, MetricResult


@dataclass(frozen=True)
class DatasetInfo:
    """What the core needs to know about a labelled image data set.

    Attributes:
        name: Registered name, e.g. ``"mnist"``.
        num_classes: Number of classes; labels lie in ``[0, num_classes)``.
        class_names: One human-readable name per class, index = label
            (e.g. MNIST's ``("zero", ..., "nine")``).
        shape: Native image shape ``(C, H, W)`` before any resizing.
        judge_recipe: Overrides of :class:`cganzoo.evaluation.judge.JudgeRecipe`
            fields suited to this data (e.g. a lower ``min_test_accuracy`` for
            Fashion-MNIST, more epochs for colour photos); None for the defaults,
            which are MNIST's.
    """

    name: str
    num_classes: int
    class_names: tuple[str, ...]
    shape: tuple[int, int, int]
    judge_recipe: dict[str, Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if len(self.class_names) != self.num_classes:
            raise ValueError(
                f"DatasetInfo {self.name!r}: {len(self.class_names)} class names "
                f"for num_classes={self.num_classes}"
            )


@dataclass(frozen=True)
class LabelledImages:
    """A data set held in memory as tensors.

    Attributes:
        images: uint8 tensor ``(N, C, H, W)``, values in ``[0, 255]``.
        labels: ``(N,)`` labels in ``[0, info.num_classes)``, of any integer
            dtype; stored as int64 (a ``uint8`` tensor is cast).
        info: The data set's :class:`DatasetInfo`.
        test_images: Optional held-out split, uint8 ``(M, C, H, W)``.
        test_labels: Optional ``(M,)`` labels of the held-out split, any integer dtype, stored as int64.

    Raises:
        LabelError: labels of a floating-point or bool dtype, or outside
            ``[0, info.num_classes)`` (one line naming the split, label and position).
        ValueError: images not uint8 ``(N, C, H, W)`` of ``info.shape``, or counts that differ.
    """

    images: torch.Tensor
    labels: torch.Tensor
    info: DatasetInfo
    test_images: torch.Tensor | None = field(default=None, repr=False)
    test_labels: torch.Tensor | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for split, images, labels in (
            ("train", self.images, self.labels),
            ("test", self.test_images, self.test_labels),
        ):
            if images is None and labels is None:
                continue
            if images is None or labels is None:
                raise ValueError(f"{self.info.name}: {split} split has images or labels, not both")
            if images.dtype != torch.uint8 or images.dim() != 4:
                raise ValueError(
                    f"{self.info.name}: {split} images must be uint8 (N, C, H, W), "
                    f"got {images.dtype} {tuple(images.shape)}"
                )
            if tuple(images.shape[1:]) != self.info.shape:
                raise ValueError(
                    f"{self.info.name}: {split} images have shape {tuple(images.shape[1:])}, "
                    f"DatasetInfo says {self.info.shape}"
                )
            if labels.shape != (images.shape[0],):
                raise ValueError(
                    f"{self.info.name}: {split} has {images.shape[0]} images but labels of "
                    f"shape {tuple(labels.shape)}"
                )
            # Any integer dtype is accepted (a plugin's uint8 labels, say) and stored as int64, the dtype
            # every loss, embedding and one-hot code expects; floats are refused, never rounded.
            labels = check_labels(labels, self.info.num_classes, source=f"{self.info.name} {split} split")
            object.__setattr__(self, "labels" if split == "train" else "test_labels", labels)


@dataclass
class DiscriminatorOutput:
    """Everything a discriminator computes for one batch.

    Attributes:
        logits: ``(B,)`` real/fake logits, unbounded, higher means "real".
        class_logits: ``(B, num_classes)`` class logits when the discriminator
            has a class head (AC-GAN, Odena et al. 2017), else ``None``.
    """

    logits: torch.Tensor
    class_logits: torch.Tensor | None = None


class Conditioner(nn.Module, ABC):
    """Maps condition labels ``y`` to a condition tensor ``c``, and says how it conditions its side.

    A conditioner factory is told its ``role``, ``"generator"`` or
    ``"discriminator"``; G and D each get their own instance, and a conditioner
    may do different things on each side (``projection`` is a learned embedding
    on the generator side and an inner product with D's features on the
    discriminator side).

    Three ways to condition, all through this one interface (the
    :data:`MECHANISMS`; a conditioner lists those it can serve in
    :attr:`mechanisms`, a network those it accepts in its ``conditioning``):

    * **input**: ``forward(y)`` gives ``c (B, cond_dim)``, which the network
      takes as extra input (concatenated to ``z`` in G, to the image in D).
      ``cond_dim = 0`` means the conditioner adds no input.
    * **modulation**: the same vector ``c (B, cond_dim)`` predicts the gain
      and bias of the network's normalisation layers (conditional BatchNorm,
      de Vries et al. 2017; Miyato & Koyama 2018, Sec. 5;
      :class:`cganzoo.layers.ConditionalBatchNorm2d`). A one-hot ``c`` gives
      per-class gains and biases; a learned embedding gives BigGAN's shared
      embedding (Brock et al. 2019, Sec. 3); any conditioner that produces a
      vector (``embedding``, ``one-hot``, ``word-vectors``) can drive it.
      The network decides which of input and modulation it does with ``c``.
    * **output** (discriminator side only): a conditioner with
      :attr:`reads_features` set acts on the discriminator network's
      penultimate features ``h (B, F)`` (:meth:`DiscriminatorNetwork.features`).
      :meth:`bind_features` builds its parameters once ``F`` is known, and
      :meth:`condition_output` turns ``(h, logits, y)`` into a
      :class:`DiscriminatorOutput` (projection adds ``<embed(y), h>`` to the
      logits; AC-GAN adds class logits).
    * **auxiliary losses** (discriminator side): :meth:`generator_loss` and
      :meth:`discriminator_loss` return terms the runner adds to the
      adversarial losses (AC-GAN's class cross-entropy), or ``None``.

    A conditioner that accepts free text (:attr:`accepts_text`) implements
    :meth:`encode_text`, so a trained generator can be sampled with label
    phrasings never seen in training.

    Subclasses set :attr:`cond_dim` and :attr:`num_classes` in ``__init__``.

    Attributes:
        cond_dim: Width of the condition tensor given to the network (0: none).
        num_classes: Labels accepted are ``[0, num_classes)``.
        reads_features: This discriminator-side conditioner acts on D's features.
        accepts_text: :meth:`encode_text` maps arbitrary strings to conditions.
    """

    cond_dim: int
    num_classes: int
    reads_features: bool = False
    accepts_text: bool = False

    @property
    def mechanisms(self) -> frozenset[str]:
        """The conditioning mechanisms this conditioner can serve (a subset of :data:`MECHANISMS`).

        Default: ``{"output"}`` for a conditioner that reads D's features;
        ``{"input", "modulation"}`` for one that produces a vector
        (``cond_dim >= 1``); empty for one that conditions nothing. Override to
        narrow it (a code that only makes sense as extra input).
        """
        if self.reads_features:
            return frozenset({"output"})
        return frozenset({"input", "modulation"}) if self.cond_dim > 0 else frozenset()

    @abstractmethod
    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """Embed labels.

        Args:
            y: int64 labels ``(B,)`` in ``[0, num_classes)``.

        Returns:
            Float tensor ``(B, cond_dim)``.
        """

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        """Conditions for free-text labels (conditioners with :attr:`accepts_text` only).

        Args:
            texts: ``K`` label phrasings, e.g. ``["digit three", "a seven"]``.

        Returns:
            Float tensor ``(K, cond_dim)`` on this module's device.

        Raises:
            LabelError: this conditioner takes class labels only, or a text
                cannot be encoded (the message names it).
        """
        raise LabelError(f"{type(self).__name__} takes class labels only, not free text such as {texts[0]!r}")

    def bind_features(self, feature_dim: int) -> None:
        """Build the parameters that depend on D's feature width (output conditioners).

        Called once by :class:`ConditionalDiscriminator` when
        :attr:`reads_features` is set, before any optimizer is built.

        Args:
            feature_dim: Width ``F`` of the discriminator network's features.
        """

    def condition_output(self, features: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> DiscriminatorOutput:
        """Condition D's output on ``y`` (output conditioners).

        Args:
            features: float ``(B, F)``, the network's penultimate features.
            logits: ``(B,)``, the network's unconditional logits ``output(features)``.
            y: int64 labels ``(B,)``.

        Returns:
            The conditioned :class:`DiscriminatorOutput`.
        """
        return DiscriminatorOutput(logits)

    def generator_loss(self, fake: DiscriminatorOutput, y: torch.Tensor) -> torch.Tensor | None:
        """A scalar the generator minimises besides the adversarial loss, or ``None``.

        Args:
            fake: D's output on the generated batch (gradients flow into G).
            y: int64 ``(B,)``, the labels the batch was generated for.
        """
        return None

    def discriminator_loss(self, real: DiscriminatorOutput, y_real: torch.Tensor,
                           fake: DiscriminatorOutput, y_fake: torch.Tensor) -> torch.Tensor | None:
        """A scalar the discriminator minimises besides the adversarial loss, or ``None``.

        Args:
            real: D's output on the real batch, whose labels are ``y_real (B,)``.
            fake: D's output on the detached generated batch, labels ``y_fake (B,)``.
        """
        return None


class WeightConstraint:
    """What generator and discriminator networks share: an optional projection after each update."""

    def constrain_(self) -> None:
        """Project the weights back into their constraint set after an update (optional).

        The training step calls it after every optimizer update of this
        network (one per G update, one per D update), under ``torch.no_grad()``;
        it must change parameters in place and draw no random numbers. The
        default does nothing. Example: the max-norm constraint of pylearn2's
        ``max_col_norm`` (Srebro & Shraibman 2005; Hinton et al. 2012), which
        rescales every unit's incoming weight vector to an L2 norm of at most
        a limit (``paper-mlp``, ``paper-maxout``).
        """


class GeneratorNetwork(WeightConstraint, nn.Module, ABC):
    """A generator body: ``(z, c) -> x``.

    Attributes:
        latent_dim: Width of ``z``.
        cond_dim: Width of ``c``.
        img_shape: ``(C, H, W)`` of the images it makes.
        min_batch_size: Smallest batch it can train on (2 where ``BatchNorm1d``
            normalises over the batch alone); checked before training.
        conditioning: How it uses ``c``: ``{"input"}`` (concatenated to ``z``,
            the default) and/or ``{"modulation"}`` (conditional BatchNorm).
            A conditioner that serves none of them is refused when ``G`` is built.
        supported_shapes: Class attribute declaring the images it can make,
            ``{"channels": (1, 3), "sizes": (28, 32, 64)}`` (square sides in
            pixels), shown by ``cganzoo list``; ``None`` (the default) means any
            shape. The constructor still refuses an unsupported shape with
            :class:`cganzoo.errors.IncompatibleError`, before training.
    """

    latent_dim: int
    cond_dim: int
    img_shape: tuple[int, int, int]
    min_batch_size: int = 1
    conditioning: frozenset[str] = frozenset({"input"})
    supported_shapes: dict[str, tuple[int, ...]] | None = None

    @abstractmethod
    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Generate images.

        Args:
            z: Latent noise ``(B, latent_dim)``, float.
            c: Condition ``(B, cond_dim)``, float.

        Returns:
            Images ``(B, C, H, W)`` with values in ``[-1, 1]``.
        """

    def init_from_data(self, images: torch.Tensor) -> None:
        """Data-dependent initialisation, called once before the first training step (optional).

        The runner calls it on a fresh run only, after the weights were drawn
        from ``--seed`` and before the first step; a resumed run loads its
        weights instead. It must be deterministic given ``images`` (draw no
        random numbers) and change parameters in place. The default does
        nothing. Example: the GAN code of Goodfellow et al. 2014
        (``mnist.yaml``) starts the generator's sigmoid output biases at the
        logit of the data's mean pixel intensities (``paper-mlp``).

        Args:
            images: The training images after resizing, uint8 ``(N, C, H, W)``
                in ``[0, 255]`` (pixel ``v`` is ``v / 127.5 - 1`` in the
                ``[-1, 1]`` range the generator produces), on the CPU.
        """


class DiscriminatorNetwork(WeightConstraint, nn.Module, ABC):
    """A discriminator body: ``(x, c) -> logits``.

    A network that can serve output conditioners (projection, AC-GAN) splits
    itself in two, :meth:`features` (everything up to the last layer) and
    :meth:`output` (the last, unconditional layer), so that
    ``forward(x, c) == output(features(x, c))``, and sets :attr:`feature_dim`.

    Attributes:
        cond_dim: Width of the ``c`` it takes as input (0: no input conditioning).
        img_shape: ``(C, H, W)`` of the images it scores.
        feature_dim: Width of :meth:`features`, or ``None`` if it exposes none.
        min_batch_size: Smallest batch it can train on.
        conditioning: How it uses ``c`` (default ``{"input"}``); output
            conditioning is offered by exposing :meth:`features`.
        supported_shapes: As for :class:`GeneratorNetwork`; ``None``: any shape.
    """

    cond_dim: int
    img_shape: tuple[int, int, int]
    feature_dim: int | None = None
    min_batch_size: int = 1
    conditioning: frozenset[str] = frozenset({"input"})
    supported_shapes: dict[str, tuple[int, ...]] | None = None

    @abstractmethod
    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Score images.

        Args:
            x: Images ``(B, C, H, W)`` in ``[-1, 1]``.
            c: Condition ``(B, cond_dim)``, float.

        Returns:
            Logits ``(B,)``: unbounded real scores, higher means "real".
        """

    def features(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Penultimate features, float ``(B, feature_dim)`` (networks with a :attr:`feature_dim`)."""
        raise NotImplementedError(f"{type(self).__name__} exposes no features")

    def output(self, features: torch.Tensor) -> torch.Tensor:
        """The last, unconditional layer: features ``(B, feature_dim)`` -> logits ``(B,)``."""
        raise NotImplementedError(f"{type(self).__name__} exposes no features")


#: The conditioning mechanisms: extra input, modulation of normalisation layers, D's output (features).
MECHANISMS: tuple[str, ...] = ("input", "modulation", "output")


def check_mechanisms(side: str, conditioner: Conditioner, net: nn.Module, *, conditioner_name: str | None = None,
                     network_name: str | None = None) -> None:
    """Refuse a conditioner whose vector the network cannot take in any way it accepts.

    Only vector conditioning (input, modulation) is checked here; output
    conditioning is checked against the network's ``feature_dim``.

    Raises:
        IncompatibleError: one line naming both and what each offers.
    """
    if conditioner.reads_features or conditioner.cond_dim == 0:
        return
    offered = set(conditioner.mechanisms) & {"input", "modulation"}
    accepted = set(getattr(net, "conditioning", {"input"})) & {"input", "modulation"}
    if offered & accepted:
        return
    cname = conditioner_name or getattr(conditioner, "component_name", type(conditioner).__name__)
    nname = network_name or type(net).__name__
    raise IncompatibleError(
        f"{side} {nname!r} is conditioned by {' or '.join(sorted(accepted)) or 'nothing'}, but conditioner "
        f"{cname!r} serves {' or '.join(sorted(offered)) or 'neither input nor modulation'}; pick a conditioner "
        "that produces a vector (embedding, one-hot, word-vectors) or another network")


class ConditionalGenerator(nn.Module):
    """``G(z, y)``: a conditioner and a generator network, composed.

    Args:
        conditioner: Maps labels to ``(B, cond_dim)``.
        net: Generator network built for ``conditioner.cond_dim``.

    Raises:
        IncompatibleError: the conditioner only conditions a discriminator's output.
    """

    def __init__(self, conditioner: Conditioner, net: GeneratorNetwork) -> None:
        super().__init__()
        if net.cond_dim != conditioner.cond_dim:
            raise IncompatibleError(
                f"generator network expects cond_dim={net.cond_dim}, conditioner gives "
                f"{conditioner.cond_dim}"
            )
        if conditioner.reads_features:
            raise IncompatibleError(
                f"conditioner {type(conditioner).__name__} conditions a discriminator's features; "
                "it cannot condition a generator"
            )
        check_mechanisms("generator", conditioner, net)
        self.conditioner = conditioner
        self.net = net

    @property
    def latent_dim(self) -> int:
        return self.net.latent_dim

    @property
    def num_classes(self) -> int:
        return self.conditioner.num_classes

    @property
    def img_shape(self) -> tuple[int, int, int]:
        return self.net.img_shape

    def init_from_data(self, images: torch.Tensor) -> None:
        """The network's data-dependent initialisation (:meth:`GeneratorNetwork.init_from_data`).

        Args:
            images: uint8 ``(N, C, H, W)`` training images in ``[0, 255]``.
        """
        init = getattr(self.net, "init_from_data", None)
        if init is not None:
            with torch.no_grad():
                init(images)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Generate images of classes ``y``.

        Args:
            z: float ``(B, latent_dim)``, ``z ~ N(0, 1)`` for the reference model.
            y: int64 labels ``(B,)`` in ``[0, num_classes)``.

        Returns:
            Images ``(B, C, H, W)`` in ``[-1, 1]``.
        """
        return self.net(z, self.conditioner(y))

    def constrain_(self) -> None:
        """The network's weight constraint after an update (:meth:`GeneratorNetwork.constrain_`)."""
        constrain = getattr(self.net, "constrain_", None)
        if constrain is not None:
            with torch.no_grad():
                constrain()

    def from_condition(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Generate images from condition tensors rather than labels (e.g. :meth:`Conditioner.encode_text`).

        Args:
            z: float ``(B, latent_dim)``.
            c: float ``(B, cond_dim)``.

        Returns:
            Images ``(B, C, H, W)`` in ``[-1, 1]``.
        """
        return self.net(z, c)


class ConditionalDiscriminator(nn.Module):
    """``D(x, y)``: a conditioner and a discriminator network, composed.

    With an input conditioner, ``D(x, y) = net(x, conditioner(y))``. With an
    output conditioner (:attr:`Conditioner.reads_features`), the network's
    features go through the conditioner:
    ``D(x, y) = conditioner.condition_output(h, net.output(h), y)`` with
    ``h = net.features(x, conditioner(y))``.

    Args:
        conditioner: Its own instance, not G's.
        net: Discriminator network built for ``conditioner.cond_dim``.

    Raises:
        IncompatibleError: the conditioner reads features the network does not expose.
    """

    def __init__(self, conditioner: Conditioner, net: DiscriminatorNetwork) -> None:
        super().__init__()
        if net.cond_dim != conditioner.cond_dim:
            raise IncompatibleError(
                f"discriminator network expects cond_dim={net.cond_dim}, conditioner gives "
                f"{conditioner.cond_dim}"
            )
        check_mechanisms("discriminator", conditioner, net)
        self.conditioner = conditioner
        self.net = net
        if conditioner.reads_features:
            feature_dim = getattr(net, "feature_dim", None)
            if not isinstance(feature_dim, int) or feature_dim < 1:
                raise IncompatibleError(
                    f"conditioner {type(conditioner).__name__} conditions the discriminator's features, but "
                    f"network {type(net).__name__} exposes none (feature_dim={feature_dim!r})"
                )
            conditioner.bind_features(feature_dim)

    def forward(self, x: torch.Tensor, y: torch.Tensor, *, full: bool = False
                ) -> torch.Tensor | DiscriminatorOutput:
        """Score images ``x`` given labels ``y``.

        Args:
            x: Images ``(B, C, H, W)`` in ``[-1, 1]``.
            y: int64 labels ``(B,)``.
            full: Return the whole :class:`DiscriminatorOutput` (class logits
                included), not just the logits.

        Returns:
            Logits ``(B,)``, or a :class:`DiscriminatorOutput` when ``full``.
        """
        c = self.conditioner(y)
        if not self.conditioner.reads_features:
            logits = self.net(x, c).reshape(-1)
            return DiscriminatorOutput(logits) if full else logits
        h = self.net.features(x, c)
        out = self.conditioner.condition_output(h, self.net.output(h).reshape(-1), y)
        return out if full else out.logits

    def constrain_(self) -> None:
        """The network's weight constraint after an update (:meth:`DiscriminatorNetwork.constrain_`)."""
        constrain = getattr(self.net, "constrain_", None)
        if constrain is not None:
            with torch.no_grad():
                constrain()


@runtime_checkable
class Augmentation(Protocol):
    """A differentiable augmentation of the images D sees (see ``register_augmentations``).

    ``augment(x, noise)`` maps float images ``(B, C, H, W)`` to augmented
    images of the same shape and dtype, differentiably in ``x``; every random
    number comes from ``noise``, a :class:`cganzoo.noise.BatchNoise` over the
    run's checkpointed noise generator (exact resume, draws independent of the
    number of processes).
    """

    def __call__(self, x: torch.Tensor, noise: Any) -> torch.Tensor:
        ...


@runtime_checkable
class AdversarialLoss(Protocol):
    """An adversarial loss: pure functions of discriminator logits.

    Implementations never call ``backward()`` or step an optimizer. A loss
    that needs a penalty on the discriminator (WGAN-GP's gradient penalty)
    also implements ``discriminator_penalty(critic, real, fake, noise)``:
    ``critic`` maps images ``(B, C, H, W)`` to logits ``(B,)`` (D with the
    condition bound), ``real`` and ``fake`` are ``(B, C, H, W)`` batches (fake
    detached from G), ``noise`` a :class:`cganzoo.noise.BatchNoise` for any
    randomness (its draws do not depend on the number of processes); it
    returns a scalar the runner adds to the discriminator
    loss. Such a loss sets ``per_sample_discriminator = True`` when the
    penalty is only valid for a discriminator without batch statistics
    (BatchNorm), which is checked before training.
    """

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """Scalar loss the discriminator minimises.

        Args:
            real_logits: ``(B,)`` logits of real images.
            fake_logits: ``(B,)`` logits of generated images (detached from G).
        """
        ...

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """Scalar loss the generator minimises, from ``(B,)`` logits of its images."""
        ...


@runtime_checkable
class Metric(Protocol):
    """An evaluation metric: a pure function of an evaluation context.

    ``compute`` receives a :class:`cganzoo.evaluation.EvaluationContext`
    holding the generated images ``(N, C, h, w)`` in ``[-1, 1]`` with their
    condition labels ``(N,)``, the real data set (uint8 train and test splits),
    the evaluation seed and, on demand, the judge classifier and its cached
    features and logits of each image set. It returns a
    :class:`cganzoo.evaluation.MetricResult`: named values, the protocol they
    were measured under (start from ``context.protocol()``: sample counts,
    seed, judge checksum) and caveats. A metric never trains the generator and
    draws random numbers only from generators seeded with ``context.seed``, so
    an evaluation is repeatable.
    """

    def compute(self, context: "EvaluationContext") -> "MetricResult":
        """Measure the context's generated images.

        Raises:
            EvaluationError: the metric cannot be computed on this context
                (e.g. too few samples); the message says what it needs.
        """
        ...


@dataclass
class ScheduledOptimizer:
    """An optimizer whose hyper-parameters follow a schedule (see ``register_optimizers``).

    Attributes:
        optimizer: The ``torch.optim.Optimizer`` the runner steps.
        schedule: ``schedule(optimizer, update)`` sets the hyper-parameters
            (``param_groups``' ``lr``, ``momentum``...) of the update made
            when ``update`` updates were already made (0-based). A pure
            function of ``update``, so a resumed run restores it exactly.
    """

    optimizer: torch.optim.Optimizer
    schedule: Callable[[torch.optim.Optimizer, int], None]


@dataclass(frozen=True)
class SamplingGenerator:
    """A generator to sample from instead of the trained one (e.g. an EMA of its weights).

    Attributes:
        label: Short name used in file names and output (``"ema"``): its weights
            are checkpointed as ``generator_<label>.safetensors``.
        module: A :class:`ConditionalGenerator` with the trained one's architecture.
        description: One line for users, e.g. ``"EMA of G's weights, decay 0.999"``.
    """

    label: str
    module: nn.Module
    description: str


class Callback:
    """A training callback: hooks the training loop calls at fixed points (the PyTorch Lightning pattern).

    Subclass it and override what you need; every hook is a no-op here. Hooks
    receive the :class:`cganzoo.training.Trainer` (``trainer.state`` holds G,
    D, the optimizers and the step; ``trainer.config`` the run config;
    ``trainer.run_dir`` the output directory, ``None`` when the run writes no
    files, as in ``cganzoo bench``; ``trainer.dist.is_main`` is true on the one
    process that writes outputs).

    Order of hooks: ``setup`` once when the trainer is built, then per ``fit``
    ``on_fit_start``; per step ``on_step_end`` of every callback, in the run's
    order (the config's ``callbacks`` first, then the built-in metrics log,
    progress bar, sample grids, checkpoints and evaluation); the built-ins
    emit ``on_log``, ``on_samples``, ``on_checkpoint`` and ``on_evaluation`` to
    every callback as they write. ``on_fit_end`` runs when ``fit`` returns or
    raises.

    A callback with state that a resumed run needs (counters, averaged
    weights) returns it from :meth:`state_dict` (tensors and JSON values; keys
    are strings) and takes it back in :meth:`load_state_dict`; the checkpoint
    stores it under :attr:`state_key`. A callback never calls ``backward()``
    or an optimizer's ``step()``: the training step is the only place that does.
    """

    #: Key of this callback's state in a checkpoint; unique within a run (default: the registered name).
    state_key: str = ""

    def setup(self, trainer: Any) -> None:
        """Once, when the trainer is built: after G and D exist, before a checkpoint is restored and before
        the fast path wraps their forward passes (a copy made here is a plain module)."""

    def on_fit_start(self, trainer: Any) -> None:
        """Before the first step of this ``fit`` (after a resume restored the state)."""

    def on_step_end(self, trainer: Any, end: Any) -> None:
        """After each training step; ``end`` is a :class:`cganzoo.training.StepEnd` (step, losses, flags)."""

    def on_log(self, trainer: Any, record: dict[str, Any]) -> None:
        """A metrics record was logged: ``{"epoch", "step", "d_loss", "g_loss", "images_per_s", "elapsed_s"}``."""

    def on_samples(self, trainer: Any, images: torch.Tensor, path: Any) -> None:
        """A sample grid was drawn: float ``(rows * 10, C, H, W)`` in ``[-1, 1]``, row ``i`` class ``i``; ``path`` of its PNG."""

    def on_checkpoint(self, trainer: Any, path: Any) -> None:
        """A checkpoint was written to the directory ``path``."""

    def on_evaluation(self, trainer: Any, record: dict[str, Any]) -> None:
        """An evaluation finished: ``{"epoch", "step", "eval": report}`` (see ``cganzoo eval --json``)."""

    def on_fit_end(self, trainer: Any) -> None:
        """After the last step, or when training stops with an error (close files here)."""

    def state_dict(self) -> dict[str, Any]:
        """State a resumed run needs; tensors and JSON-serialisable values."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""

    def sampling_generator(self) -> SamplingGenerator | None:
        """A generator that sample grids, ``cganzoo sample``, ``cganzoo eval`` and ``cganzoo.load`` should use instead of G."""
        return None
