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

The networks are in :mod:`cganzoo_paper.networks`, the pylearn2 layers they
are made of in :mod:`cganzoo_paper.layers`; this module holds the presets and
registers both.
"""

from __future__ import annotations

from cganzoo import hookimpl
from cganzoo_paper.layers import Maxout, max_col_norm_  # noqa: F401 - importable from the package, as before
from cganzoo_paper.networks import (
    MARGINAL_EPS,  # noqa: F401 - importable from the package, as before
    PaperDiscriminator,
    PaperDiscriminatorParams,
    PaperGenerator,
    PaperGeneratorParams,
)


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
