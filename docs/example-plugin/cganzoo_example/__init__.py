"""cganzoo-example-plugin: one component for every cganzoo hook, using only cganzoo's public API.

Installed, it is found through the ``cganzoo`` entry-point group (see
``pyproject.toml``) and its components appear in ``cganzoo list`` with the
plugin name ``example``. ``cganzoo run example-gan`` trains them together.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from cganzoo import (
    Callback,
    Conditioner,
    DatasetInfo,
    DiscriminatorNetwork,
    GeneratorNetwork,
    IncompatibleError,
    LabelledImages,
    hookimpl,
)

# -- register_datasets ------------------------------------------------------------------------------


class BarsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    size: int = Field(2000, ge=10, description="Number of training images.")
    seed: int = Field(0, ge=0, description="Seed of the pixel noise.")


def _bars(size: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    labels = torch.arange(size) % 10
    images = torch.randint(0, 30, (size, 1, 28, 28), generator=gen, dtype=torch.uint8)
    for k in range(10):
        images[labels == k, 0, 2 * k + 4: 2 * k + 6, 3:25] = 255
    return images, labels


def make_bars(data_dir=None, log=print, size: int = 2000, seed: int = 0) -> LabelledImages:
    """Synthetic 1x28x28 uint8 images: class ``k`` is a bright horizontal bar at row ``2k + 4`` over faint noise.

    A held-out split of 200 images lets ``cganzoo eval`` compare with real data.
    """
    gen = torch.Generator().manual_seed(seed)
    images, labels = _bars(size, gen)
    test_images, test_labels = _bars(200, gen)
    info = DatasetInfo("bars", 10, tuple(f"bar {k}" for k in range(10)), (1, 28, 28))
    log(f"bars: {size} synthetic images")
    return LabelledImages(images, labels, info, test_images, test_labels)


@hookimpl
def register_datasets(register):
    register("bars", make_bars, params=BarsParams, description="synthetic: class k is a bar at row 2k+4")


# -- register_conditioners --------------------------------------------------------------------------


class Thermometer(Conditioner):
    """A fixed ordinal ("thermometer") code: ``c_k = 1`` for ``k <= y``, else 0; ``cond_dim = num_classes``.

    Neighbouring classes share most of their code, which suits ordered labels.
    The same on both sides (``role`` is accepted and ignored).

    Shapes:
        ``y`` int64 ``(B,)`` -> float ``(B, num_classes)`` in ``{0, 1}``.
    """

    def __init__(self, num_classes: int, class_names: tuple[str, ...], role: str) -> None:
        super().__init__()
        self.num_classes = self.cond_dim = num_classes
        # A buffer, so .to(device/dtype) moves the code table with the module.
        self.register_buffer("table", torch.tril(torch.ones(num_classes, num_classes)), persistent=False)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.table[y]


@hookimpl
def register_conditioners(register):
    register("thermometer", Thermometer, description="fixed ordinal code: c_k = 1 for k <= y")


# -- register_networks ------------------------------------------------------------------------------


class LinearGenerator(GeneratorNetwork):
    """One linear layer and a tanh: ``[c, z] -> C*H*W``."""

    def __init__(self, latent_dim: int, cond_dim: int, img_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.latent_dim, self.cond_dim, self.img_shape = latent_dim, cond_dim, tuple(img_shape)
        if img_shape[1] * img_shape[2] > 64 * 64:
            raise IncompatibleError(f"linear generator: {img_shape} is too large; use images up to 64x64")
        self.layer = nn.Linear(cond_dim + latent_dim, img_shape[0] * img_shape[1] * img_shape[2])

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.layer(torch.cat((c, z), dim=1))).view(-1, *self.img_shape)


class LinearDiscriminator(DiscriminatorNetwork):
    """Logistic regression on ``[flatten(x), c]``. Its features are its input, so projection works with it."""

    def __init__(self, cond_dim: int, img_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.cond_dim, self.img_shape = cond_dim, tuple(img_shape)
        self.feature_dim = img_shape[0] * img_shape[1] * img_shape[2] + cond_dim
        self.layer = nn.Linear(self.feature_dim, 1)

    def features(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return torch.cat((x.flatten(1), c), dim=1)

    def output(self, features: torch.Tensor) -> torch.Tensor:
        return self.layer(features).squeeze(-1)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.output(self.features(x, c))


@hookimpl
def register_networks(register):
    register("linear", LinearGenerator, kind="generator", description="one linear layer + tanh")
    register("linear", LinearDiscriminator, kind="discriminator", description="logistic regression, with features")


# -- register_losses --------------------------------------------------------------------------------


class SmoothedParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    real_target: float = Field(0.9, gt=0.5, le=1.0, description="D's target for real images (Salimans et al.: 0.9).")


class SmoothedBCE:
    """Cross-entropy with one-sided label smoothing (Salimans et al. 2016, Sec. 3.4).

    * ``d_loss = (BCE(D(x), real_target) + BCE(D(G(z)), 0)) / 2``
    * ``g_loss = BCE(D(G(z)), 1)`` (non-saturating)
    """

    def __init__(self, real_target: float = 0.9) -> None:
        self.real_target = real_target

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        real = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, self.real_target))
        fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
        return (real + fake) / 2

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


@hookimpl
def register_losses(register):
    register("bce-smoothed", SmoothedBCE, params=SmoothedParams,
             description="cross-entropy, one-sided label smoothing (Salimans et al. 2016)")


# -- register_metrics -------------------------------------------------------------------------------


class MeanIntensity:
    """Mean pixel value of the generated images, in ``[-1, 1]`` (``cganzoo eval --metrics mean-intensity``)."""

    def compute(self, context):
        from cganzoo.evaluation import MetricResult  # imported when used: loading the plugin stays light

        images, _ = context.images("generated")
        return MetricResult({"mean_intensity": float(images.mean())}, context.protocol(judge=False))


@hookimpl
def register_metrics(register):
    register("mean-intensity", MeanIntensity, description="mean pixel value of generated images")


# -- register_optimizers ----------------------------------------------------------------------------


class RMSpropParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alpha: float = Field(0.99, gt=0, lt=1, description="Smoothing of the squared-gradient average.")


def make_rmsprop(parameters, lr, betas, weight_decay, fast_path, alpha=0.99):
    """RMSprop for one player; ``betas`` and the fast path's Adam options do not apply to it."""
    return torch.optim.RMSprop(parameters, lr=lr, alpha=alpha, weight_decay=weight_decay)


@hookimpl
def register_optimizers(register):
    register("rmsprop", make_rmsprop, params=RMSpropParams, description="RMSprop (as WGAN used it, Arjovsky 2017)")


# -- register_callbacks -----------------------------------------------------------------------------


class LossCSVParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str = Field("losses.csv", min_length=1, description="File in the run directory.")


class LossCSV(Callback):
    """Appends each logged ``step,d_loss,g_loss`` to ``RUN_DIR/losses.csv``; counts the rows it wrote.

    The count is checkpointed (``state_dict``), so a resumed run continues it.
    """

    def __init__(self, filename: str = "losses.csv") -> None:
        self.filename, self.rows = filename, 0

    def on_log(self, trainer, record):
        if trainer.run_dir is None or not trainer.dist.is_main:
            return
        with open(trainer.run_dir / self.filename, "a", encoding="utf-8") as f:
            f.write(f"{record['step']},{record['d_loss']},{record['g_loss']}\n")
        self.rows += 1

    def state_dict(self):
        return {"rows": self.rows}

    def load_state_dict(self, state):
        self.rows = int(state["rows"])


@hookimpl
def register_callbacks(register):
    register("loss-csv", LossCSV, params=LossCSVParams, description="logged losses as CSV in the run directory")


# -- register_models --------------------------------------------------------------------------------


@hookimpl
def register_models(register):
    register("example-gan", {
        "dataset": "bars", "conditioner": "thermometer", "generator": "linear", "discriminator": "linear",
        "loss": "bce-smoothed", "img_size": 28, "latent_dim": 16, "batch_size": 32, "lr": 1e-3,
    }, description="the example plugin's components together, on bars")
