"""Built-in training components: optimizers (Adam, the CGAN paper's SGD) and callbacks (EMA of G, TensorBoard).

Registered through the ``cganzoo`` entry-point group like any third-party
plugin, with the public hooks ``register_optimizers`` and ``register_callbacks``.
"""

from __future__ import annotations

from cganzoo import hookimpl
from cganzoo_training.ema import EMAParams, GeneratorEMA
from cganzoo_training.optimizers import AdamParams, SGDParams, make_adam, make_sgd
from cganzoo_training.tensorboard import TensorBoardLogger, TensorBoardParams


@hookimpl
def register_optimizers(register):
    register("adam", make_adam, params=AdamParams,
             description="Adam (Kingma & Ba 2015); the reference's optimizer: lr 2e-4, betas (0.5, 0.999)")
    register("sgd", make_sgd, params=SGDParams,
             description="SGD with momentum 0.5 -> 0.7 and lr decay 1.00004 per update (Mirza & Osindero 2014, Sec. 4.1)")


@hookimpl
def register_callbacks(register):
    register("ema", GeneratorEMA, params=EMAParams,
             description="exponential moving average of G's weights and BatchNorm buffers; used for sampling and "
                         "evaluation (decay 0.999)")
    register("tensorboard", TensorBoardLogger, params=TensorBoardParams,
             description="TensorBoard event files under RUN_DIR/tensorboard: losses, images/s, evaluation, sample "
                         "grids (needs cganzoo[tensorboard])")
