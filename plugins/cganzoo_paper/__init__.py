"""The MNIST model of Mirza & Osindero 2014, "Conditional Generative Adversarial Nets", Sec. 4.1.

Networks ``paper-mlp`` (generator) and ``paper-maxout`` (discriminator) and the
model ``paper-cgan``: one-hot ``y``, ``z`` of width 100 from ``U[0, 1)^100``,
binary cross-entropy, SGD with momentum and the paper's learning-rate decay,
batch 100, 28x28 images. What the paper states, and what it leaves open and
this preset chose:

Stated (Sec. 4.1): "In the generator net, a noise prior z with dimensionality
100 was drawn from a uniform distribution within the unit hypercube. Both z and
y are mapped to hidden layers with Rectified Linear Unit (ReLu) activation,
with layer sizes 200 and 1000 respectively, before both being mapped to second,
combined hidden ReLu layer of dimensionality 1200. We then have a final sigmoid
unit layer as our output for generating the 784-dimensional MNIST samples. The
discriminator maps x to a maxout layer with 240 units and 5 pieces, and y to a
maxout layer with 50 units and 5 pieces. Both of the hidden layers mapped to a
joint maxout layer with 240 units and 4 pieces before being fed to the sigmoid
layer." SGD, batch 100, lr 0.1 decayed by 1.00004 per step down to 1e-6,
momentum 0.5 rising to 0.7, dropout 0.5 in G and D.

Every setting and its source. "GAN code" is the code the CGAN paper builds on,
Goodfellow et al. 2014, repository goodfeli/adversarial: ``mnist.yaml`` (the
MNIST experiment), ``__init__.py`` (``Generator``, ``AdversaryCost2``) and
``parzen_ll.py``; the CGAN paper's own code is not public.

============================== ============================================ ===========================================
setting                        ``paper-cgan``                               source
============================== ============================================ ===========================================
layer sizes, maxout pieces     as quoted above                              paper, Sec. 4.1
y                              one-hot, 10 wide                             paper ("one-hot vectors")
z prior                        ``U[0, 1)^100``                              paper ("unit hypercube"); the GAN code's
                                                                            ``noise: 'uniform'`` is ``U(-sqrt 3, sqrt 3)``
                                                                            (``Generator.get_noise``): not taken
G weights                      ``U(-0.05, 0.05)``, biases 0                 ``mnist.yaml`` G layers ``irange: .05``
G output biases                logit of the mean training pixel, clipped    ``mnist.yaml`` ``init_bias:
                               to ``[1e-7, 1 - 1e-7]``                      init_sigmoid_bias_from_marginals``
D weights                      ``U(-0.005, 0.005)``, biases 0               ``mnist.yaml`` D layers ``irange: .005``
D input pixels                 ``[0, 1]`` (``unit_pixels``)                 pylearn2's MNIST (``X / 255``), read by
                                                                            ``mnist.yaml`` and ``parzen_ll.py``
D dropout                      20% on the input pixels, 50% after each      ``AdversaryCost2`` in ``mnist.yaml``:
                               maxout layer; inverted (kept units scaled    ``discriminator_input_include_probs
                               by ``1/p_keep``: 1.25 and 2)                 {h0: .8}``, ``input_scales {h0: 1.25}``,
                                                                            ``default_input_include_prob .5``,
                                                                            ``default_input_scale 2.``; the paper:
                                                                            "dropout ... 0.5"
G dropout                      50% after each hidden layer                  paper ("applied to both the generator and
                                                                            discriminator"); the GAN code has none
                                                                            (``generator_default_input_include_prob``
                                                                            1)
losses                         D: ``0.5 (BCE(real) + BCE(fake))``; G:       ``AdversaryCost2.get_samples_and_objectives``
                               ``-log D(G(z, y), y)`` through D with        (``d_obj``, ``g_obj``; ``no_drop_in_d_for_g``
                               dropout; both players step from the same     False); gradients of both taken from one
                               state                                        sample (``get_gradients``)
optimizer                      SGD, batch 100, lr 0.1, momentum 0.5         paper; ``mnist.yaml`` ``batch_size: 100``,
                                                                            ``learning_rate: .1``, ``init_momentum: .5``
momentum ramp                  0.5 -> 0.7 linearly over 250 epochs          ``MomentumAdjustor {start: 1, saturate:
                               (150,000 updates)                            250, final_momentum: .7}``; paper: "up to
                                                                            0.7"
lr decay                       divided by 1.00004 per update, floor 1e-6    paper; ``mnist.yaml``'s ``ExponentialDecay
                                                                            {decay_factor: 1.000004, min_lr: .000001}``
                                                                            is ten times slower (``lr_decay`` option
                                                                            of ``sgd``)
max-norm                       none                                         ``mnist.yaml`` has no ``max_col_norm``
                                                                            (the GAN code's TFD models,
                                                                            ``tfd_pretrain/*.yaml``, use 1.9365); an
                                                                            option of both networks here
training data                  all 60,000 training images                   deviation: ``mnist.yaml`` trains on
                                                                            ``start: 0, stop: 50000`` and keeps
                                                                            50,000..59,999 for validation
stopping                       fixed budget; report the evaluation with     the paper's rule (best validation
                               the best Parzen validation log-likelihood    log-likelihood); ``mnist.yaml``'s
                               (``docs/results/paper_table1.py``)           ``MonitorBased`` criterion and
                                                                            ``MonitorBasedSaveBest`` are commented out
Parzen protocol                10,000 samples, sigma from                   ``parzen_ll.py`` (``-n 10000``, ``-l 1000``,
                               ``logspace(-1, 0, 10)`` on training images   ``get_valid``: ``MNIST('train', 50000,
                               50,000..50,999, mean over the 10,000 test    60000)``, ``cross_validate_sigma``)
                               images, standard error ``std / sqrt(N)``
============================== ============================================ ===========================================

Chosen where both are silent:

* **Output range.** cganzoo's generators emit ``[-1, 1]`` and its data is scaled
  to ``[-1, 1]``; the paper's sigmoid emits ``[0, 1]`` for data in ``[0, 1]``.
  ``paper-mlp`` outputs ``2 * sigmoid(a) - 1``, and ``paper-maxout`` with
  ``unit_pixels`` maps its input back with ``(x + 1) / 2`` before the first
  layer: the paper's networks exactly, in another pixel convention.
  Evaluation maps back to ``[0, 1]``.
* **Dropout placement** in the two-branch networks (the GAN code's nets have one
  branch): G after each hidden layer (200, 1000, 1200); D on the pixels and after
  each maxout layer (``x``, ``y`` and joint), not on the one-hot ``y``. Off in
  eval mode, so samples are drawn without it, as pylearn2 did.

What it does (``docs/results.md``, "paper-cgan trains"): with these settings the
rows of its sample grids are the asked digits (judge conditional accuracy 1.000
after 15 epochs, seed 0 on a GPU; 0.894 after 10 epochs, seed 0 on the CPU) but each class is nearly one image, so recall is 0 and
the Parzen estimate stays far below the paper's 132. Before (zero output biases,
no input dropout, D reading ``[-1, 1]``) G collapsed to one image for every label
(accuracy 0.100, and on CUDA the losses became NaN at step 183).

``paper-cgan-strong-y`` is **not** the paper's model: it drops G's dropout (as
the GAN code does), draws ``z ~ N(0, 1)`` (the GAN code's prior has that mean and
variance, not that shape) and starts the weights of both ``y`` layers at
``U(-0.3, 0.3)`` (neither source; about PyTorch's default ``1/sqrt(10)`` for a
10-wide input), so that ``y`` reaches G's joint layer and D's joint maxout with a
weight comparable to ``z`` and ``x``. In one run (seed 0 on a GPU, 30 epochs) its
rows were varied digits of the asked class (accuracy 0.956, Parzen 107); in another
(seed 0 on the CPU, 10 epochs) it collapsed to one image. Fragile: see
``docs/results.md``.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from cganzoo import DiscriminatorNetwork, GeneratorNetwork, IncompatibleError, hookimpl, spectral_norm_all


def max_col_norm_(module: nn.Module, limit: float) -> None:
    """pylearn2's ``max_col_norm``: rescale each unit's incoming weights to an L2 norm of at most ``limit``.

    For every ``nn.Linear`` in ``module`` (weight ``(out, in)``; pylearn2 stores
    its transpose, hence "column"), each row ``w`` becomes
    ``w * min(|w|, limit) / (1e-7 + |w|)``, as pylearn2's
    ``Linear._modify_updates`` / ``Maxout._modify_updates`` do after each
    update. Biases are not constrained. In place, under ``torch.no_grad()``.

    Args:
        module: The network whose linear layers are projected.
        limit: Largest allowed L2 norm of a unit's incoming weight vector.
    """
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, nn.Linear):
                norms = layer.weight.norm(dim=1, keepdim=True)
                layer.weight.mul_(norms.clamp(max=limit) / (1e-7 + norms))


def _init_uniform(module: nn.Module, bound: float) -> None:
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.uniform_(layer.weight, -bound, bound)
            nn.init.zeros_(layer.bias)


class PaperGeneratorParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    z_hidden: int = Field(200, ge=1, description="ReLU units on z (paper: 200).")
    y_hidden: int = Field(1000, ge=1, description="ReLU units on y (paper: 1000).")
    joint_hidden: int = Field(1200, ge=1, description="Combined ReLU layer (paper: 1200).")
    dropout: float = Field(0.5, ge=0, lt=1, description="Dropout after each hidden layer (paper: 0.5).")
    init_range: float = Field(0.05, gt=0, description="Weights start U(-init_range, init_range) (GAN code: 0.05).")
    y_init_range: float | None = Field(None, gt=0, description="Weights of the y layer start U(-y_init_range, "
                                       "y_init_range); None: init_range (not in the paper or the GAN code).")
    max_col_norm: float | None = Field(None, gt=0, description="After each update, every unit's incoming weight "
                                       "vector is rescaled to L2 norm <= this (pylearn2 max_col_norm); None: off "
                                       "(the GAN code's mnist.yaml has none; its TFD models use 1.9365).")
    output_bias: Literal["marginals", "zero"] = Field(
        "zero", description="Sigmoid output biases start at the logit of the data's mean pixels "
                                 "(GAN code's init_sigmoid_bias_from_marginals), or at 0.")


#: The GAN code clips the pixel marginals to [eps, 1 - eps] before taking their logit.
MARGINAL_EPS = 1e-7


class PaperGenerator(GeneratorNetwork):
    """Mirza & Osindero 2014's MNIST generator.

    ``h_z = ReLU(W_z z)`` (200), ``h_y = ReLU(W_y c)`` (1000),
    ``h = ReLU(W_h [h_z, h_y])`` (1200), ``x = 2 sigmoid(W_x h) - 1`` (784 for 1x28x28),
    dropout after each hidden layer. See the module docstring for the output mapping.

    Args:
        latent_dim: Width of ``z`` (paper: 100).
        cond_dim: Width of the condition (one-hot: ``num_classes``).
        img_shape: Output ``(C, H, W)``.

    Shapes:
        ``z (B, latent_dim)``, ``c (B, cond_dim)`` -> ``(B, C, H, W)`` in ``[-1, 1]``.
    """

    def __init__(self, latent_dim: int, cond_dim: int, img_shape: tuple[int, int, int], z_hidden: int = 200,
                 y_hidden: int = 1000, joint_hidden: int = 1200, dropout: float = 0.5,
                 init_range: float = 0.05, y_init_range: float | None = None, max_col_norm: float | None = None,
                 output_bias: str = "zero") -> None:
        super().__init__()
        self.max_col_norm = max_col_norm
        self.output_bias = output_bias
        self.latent_dim, self.cond_dim, self.img_shape = latent_dim, cond_dim, tuple(img_shape)
        self.z_layer = nn.Linear(latent_dim, z_hidden)
        self.y_layer = nn.Linear(cond_dim, y_hidden)
        self.joint = nn.Linear(z_hidden + y_hidden, joint_hidden)
        self.out = nn.Linear(joint_hidden, math.prod(self.img_shape))
        self.drop = nn.Dropout(dropout)
        _init_uniform(self, init_range)
        if y_init_range is not None:
            _init_uniform(self.y_layer, y_init_range)

    def init_from_data(self, images: torch.Tensor) -> None:
        """With ``output_bias="marginals"``, start the sigmoid biases at the data's pixel marginals.

        ``b = logit(clip(mean_n x_n, 1e-7, 1 - 1e-7))`` with ``x`` in ``[0, 1]``, so that
        ``sigmoid(b)`` is the mean training image: the GAN code's
        ``init_sigmoid_bias_from_marginals`` (pylearn2), used by Goodfellow et al.
        2014's ``mnist.yaml``. Deterministic; the weights are untouched.

        Args:
            images: uint8 ``(N, C, H, W)`` in ``[0, 255]``, ``(C, H, W) == img_shape``.

        Raises:
            IncompatibleError: the images do not have this generator's shape.
        """
        if self.output_bias != "marginals":
            return
        if tuple(images.shape[1:]) != self.img_shape:
            raise IncompatibleError(f"paper-mlp: training images have shape {tuple(images.shape[1:])}, "
                                    f"the generator makes {self.img_shape}")
        total = torch.zeros(math.prod(self.img_shape), dtype=torch.float64)
        for chunk in images.flatten(1).split(8192):  # bounded memory: no float copy of the whole set
            total += chunk.to(torch.float64).sum(dim=0)
        mean = total / (255.0 * max(1, images.shape[0]))
        bias = torch.logit(mean.clamp(MARGINAL_EPS, 1 - MARGINAL_EPS))
        with torch.no_grad():
            self.out.bias.copy_(bias.to(self.out.bias.device, self.out.bias.dtype))

    def constrain_(self) -> None:
        """With ``max_col_norm``, the max-norm projection of every layer (:func:`max_col_norm_`)."""
        if self.max_col_norm is not None:
            max_col_norm_(self, self.max_col_norm)

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h_z = self.drop(torch.relu(self.z_layer(z)))
        h_y = self.drop(torch.relu(self.y_layer(c)))
        h = self.drop(torch.relu(self.joint(torch.cat((h_z, h_y), dim=-1))))
        x = 2 * torch.sigmoid(self.out(h)) - 1
        return x.view(x.size(0), *self.img_shape)


class Maxout(nn.Module):
    """Maxout layer (Goodfellow et al. 2013): ``max_k (W_k x + b_k)`` over ``pieces`` affine maps.

    Shapes:
        ``(B, in_features)`` -> ``(B, units)``.
    """

    def __init__(self, in_features: int, units: int, pieces: int) -> None:
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(in_features, units * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(x.size(0), self.units, self.pieces).amax(dim=-1)


class PaperDiscriminatorParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    x_units: int = Field(240, ge=1, description="Maxout units on x (paper: 240).")
    x_pieces: int = Field(5, ge=1, description="Pieces per x unit (paper: 5).")
    y_units: int = Field(50, ge=1, description="Maxout units on y (paper: 50).")
    y_pieces: int = Field(5, ge=1, description="Pieces per y unit (paper: 5).")
    joint_units: int = Field(240, ge=1, description="Joint maxout units (paper: 240).")
    joint_pieces: int = Field(4, ge=1, description="Pieces per joint unit (paper: 4).")
    dropout: float = Field(0.5, ge=0, lt=1, description="Dropout after each maxout layer (paper: 0.5).")
    input_dropout: float = Field(0.0, ge=0, lt=1, description="Dropout on the input pixels (GAN code: 0.2).")
    unit_pixels: bool = Field(False, description="Map x from [-1, 1] to [0, 1] before the first layer.")
    init_range: float = Field(0.005, gt=0, description="Weights start U(-init_range, init_range) (GAN code: 0.005).")
    y_init_range: float | None = Field(None, gt=0, description="Weights of the y maxout layer start U(-y_init_range, "
                                       "y_init_range); None: init_range (not in the paper or the GAN code).")
    max_col_norm: float | None = Field(None, gt=0, description="After each update, every unit's (and maxout "
                                       "piece's) incoming weight vector is rescaled to L2 norm <= this (pylearn2 "
                                       "max_col_norm); None: off (mnist.yaml has none; its TFD models use 1.9365).")
    spectral_norm: bool = Field(False, description="Spectral normalisation of every layer (Miyato et al. 2018); "
                                                   "the paper has none.")


class PaperDiscriminator(DiscriminatorNetwork):
    """Mirza & Osindero 2014's MNIST discriminator.

    ``h_x = maxout(x; 240 x 5)``, ``h_y = maxout(c; 50 x 5)``,
    ``h = maxout([h_x, h_y]; 240 x 4)``, logit ``= w . h + b``; dropout after each
    maxout layer. The paper's sigmoid output is the ``bce`` loss's sigmoid: the
    network returns the logit.

    Shapes:
        ``x (B, C, H, W)`` in ``[-1, 1]``, ``c (B, cond_dim)`` -> logits ``(B,)``.
    """

    def __init__(self, cond_dim: int, img_shape: tuple[int, int, int], x_units: int = 240, x_pieces: int = 5,
                 y_units: int = 50, y_pieces: int = 5, joint_units: int = 240, joint_pieces: int = 4,
                 dropout: float = 0.5, input_dropout: float = 0.0, unit_pixels: bool = False,
                 init_range: float = 0.005, y_init_range: float | None = None, max_col_norm: float | None = None,
                 spectral_norm: bool = False) -> None:
        super().__init__()
        if max_col_norm is not None and spectral_norm:
            raise IncompatibleError(f"paper-maxout: max_col_norm={max_col_norm} and spectral_norm=True constrain the "
                                    "same weights; choose one")
        self.max_col_norm = max_col_norm
        self.cond_dim, self.img_shape = cond_dim, tuple(img_shape)
        self.x_layer = Maxout(math.prod(self.img_shape), x_units, x_pieces)
        # cond_dim 0: an output conditioner (projection, AC-GAN) conditions D instead; no y branch.
        self.y_layer = Maxout(cond_dim, y_units, y_pieces) if cond_dim > 0 else None
        self.joint = Maxout(x_units + (y_units if cond_dim > 0 else 0), joint_units, joint_pieces)
        self.out = nn.Linear(joint_units, 1)
        self.drop = nn.Dropout(dropout)
        self.input_drop = nn.Dropout(input_dropout)
        self.unit_pixels = unit_pixels
        self.feature_dim = joint_units
        _init_uniform(self, init_range)
        if y_init_range is not None and self.y_layer is not None:
            _init_uniform(self.y_layer, y_init_range)
        if spectral_norm:
            spectral_norm_all(self)

    def constrain_(self) -> None:
        """With ``max_col_norm``, the max-norm projection of every layer (:func:`max_col_norm_`)."""
        if self.max_col_norm is not None:
            max_col_norm_(self, self.max_col_norm)

    def features(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """The joint maxout layer's output after dropout, ``(B, joint_units)``."""
        x = x.flatten(1)
        if self.unit_pixels:
            x = (x + 1) / 2
        h = self.drop(self.x_layer(self.input_drop(x)))
        if self.y_layer is not None:
            h = torch.cat((h, self.drop(self.y_layer(c))), dim=-1)
        return self.drop(self.joint(h))

    def output(self, features: torch.Tensor) -> torch.Tensor:
        """The paper's last layer: ``w . h + b``, logits ``(B,)``."""
        return self.out(features).squeeze(-1)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.output(self.features(x, c))


PAPER_PRESET = {
    "generator": {"name": "paper-mlp", "params": {"output_bias": "marginals"}},
    "discriminator": {"name": "paper-maxout", "params": {"input_dropout": 0.2, "unit_pixels": True}},
    "conditioner": {"name": "one-hot"},
    "loss": {"name": "bce", "params": {"generator_loss": "non-saturating"}},
    "optimizer": {"name": "sgd"},
    "lr": 0.1,
    "batch_size": 100,
    "img_size": 28,
    "latent_dim": 100,
    "latent_distribution": "uniform",
}

#: ``paper-cgan-strong-y``: ``paper-cgan`` with three changes, the first two the GAN code's, the third neither's.
STRONG_Y_PRESET = {
    **PAPER_PRESET,
    "generator": {"name": "paper-mlp", "params": {"output_bias": "marginals", "dropout": 0.0, "y_init_range": 0.3}},
    "discriminator": {"name": "paper-maxout", "params": {"input_dropout": 0.2, "unit_pixels": True,
                                                         "y_init_range": 0.3}},
    "latent_distribution": "normal",
}


@hookimpl
def register_networks(register):
    register("paper-mlp", PaperGenerator, kind="generator", params=PaperGeneratorParams,
             description="Mirza & Osindero 2014 G: z->200, y->1000 ReLU, joint 1200 ReLU, sigmoid (as 2*sigmoid-1)")
    register("paper-maxout", PaperDiscriminator, kind="discriminator", params=PaperDiscriminatorParams,
             description="Mirza & Osindero 2014 D: maxout x 240x5, y 50x5, joint 240x4, dropout 0.5, logit")


@hookimpl
def register_models(register):
    register("paper-cgan", dict(PAPER_PRESET),
             description="Mirza & Osindero 2014 MNIST model with the GAN code's unstated settings: one-hot y, U[0,1) z, "
                         "SGD+momentum, lr 0.1 decay, batch 100, 28x28; class-conditional, little variety within a class")
    register("paper-cgan-strong-y", dict(STRONG_Y_PRESET),
             description="paper-cgan without dropout in G, z ~ N(0,1) and y layers initialised U(-0.3,0.3) "
                         "(not the paper's): varied digits in one run, collapsed in another (docs/results.md)")
