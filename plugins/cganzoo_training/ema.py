"""An exponential moving average of the generator's weights (``ema`` callback).

Averaging G's weights over training gives better samples than the last
iterate (Yazici et al. 2019, "The Unusual Effectiveness of Averaging in GAN
Training"); BigGAN (Brock et al. 2019, Sec. 4 and Appendix C) samples from an
EMA of G with decay 0.9999 that starts after 20,000 iterations, and StudioGAN
names the two settings ``g_ema_decay`` and ``g_ema_start``. The averaging is
PyTorch's own :class:`torch.optim.swa_utils.AveragedModel` with
:func:`~torch.optim.swa_utils.get_ema_multi_avg_fn`; ``use_buffers=True``
averages BatchNorm's running statistics with the weights, as BigGAN-PyTorch's
``ema`` class does (it averages every entry of G's ``state_dict``).

After each training step ``t`` (1-based): for ``t <= start`` the average is a
copy of G; afterwards ``ema = decay * ema + (1 - decay) * G``. Sample grids,
``cganzoo sample``, ``cganzoo eval`` and ``cganzoo.load`` use the average and
say so; its weights are checkpointed as ``generator_ema.safetensors`` and a
resumed run continues the average exactly.
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from cganzoo import Callback, SamplingGenerator


class EMAParams(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    decay: float = Field(0.999, gt=0, lt=1, description="Weight of the old average per step (BigGAN: 0.9999).")
    start: int = Field(0, ge=0, description="Steps during which the average only copies G (BigGAN: 20,000).")


class GeneratorEMA(Callback):
    """Keeps ``ema = decay * ema + (1 - decay) * G`` after every step past ``start``.

    Args:
        decay: In ``(0, 1)``.
        start: Steps (``>= 0``) before averaging begins; until then the average copies G.
    """

    state_key = "ema"

    def __init__(self, decay: float = 0.999, start: int = 0) -> None:
        self.decay, self.start = decay, start
        self.average: AveragedModel | None = None

    def setup(self, trainer: Any) -> None:
        # Before the fast path wraps G's forward (autocast, compile): the copy is a plain module.
        self.average = AveragedModel(trainer.state.generator, multi_avg_fn=get_ema_multi_avg_fn(self.decay),
                                     use_buffers=True)
        self.average.module.eval()

    @torch.no_grad()
    def on_step_end(self, trainer: Any, end: Any) -> None:
        assert self.average is not None, "setup() was not called"
        if end.step <= self.start:
            self.average.n_averaged.zero_()  # the next update copies G
        self.average.update_parameters(trainer.state.generator)

    def state_dict(self) -> dict[str, Any]:
        assert self.average is not None
        return {"n_averaged": int(self.average.n_averaged.item()), "decay": self.decay, "start": self.start}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        assert self.average is not None
        self.average.n_averaged.fill_(int(state["n_averaged"]))

    def sampling_generator(self) -> SamplingGenerator | None:
        if self.average is None:
            return None
        return SamplingGenerator("ema", self.average.module,
                                 f"EMA of G's weights (decay {self.decay}, start {self.start})")
