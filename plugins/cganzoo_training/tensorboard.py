"""TensorBoard logging (``tensorboard`` callback, ``cganzoo run --tensorboard``).

Writes with PyTorch's :class:`torch.utils.tensorboard.SummaryWriter` under
``RUN_DIR/tensorboard`` (rank 0 only): ``loss/discriminator``,
``loss/generator`` and ``speed/images_per_s`` at each log step,
``eval/<metric>/<value>`` after each evaluation, and the sample grid as the
image ``samples``. Watch a run with ``tensorboard --logdir RUN_DIR``. A resumed
run purges the events written after its checkpoint, as ``metrics.jsonl`` drops
its records (those steps are trained again).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field

from cganzoo import Callback, OptionalDependencyError


class TensorBoardParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    log_dir: str = Field("tensorboard", min_length=1,
                         description="Event directory, relative to the run directory (default RUN_DIR/tensorboard).")
    images: bool = Field(True, description="Also log each sample grid as an image.")


class TensorBoardLogger(Callback):
    """Mirrors the run's log, evaluations and sample grids into TensorBoard event files.

    Raises:
        OptionalDependencyError: TensorBoard is not installed (when the callback is built, before training).
    """

    state_key = "tensorboard"

    def __init__(self, log_dir: str = "tensorboard", images: bool = True) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise OptionalDependencyError(
                "the tensorboard callback needs TensorBoard: pip install 'cganzoo[tensorboard]' "
                "(or pip install tensorboard), or drop --tensorboard") from None
        self._writer_class = SummaryWriter
        self.log_dir, self.images = log_dir, images
        self.writer: Any = None

    def on_fit_start(self, trainer: Any) -> None:
        if trainer.run_dir is None or not trainer.dist.is_main or self.writer is not None:
            return
        step = trainer.state.step
        # Events after the checkpoint a run resumed from belong to steps that are trained again.
        self.writer = self._writer_class(str(Path(trainer.run_dir) / self.log_dir),
                                         purge_step=step + 1 if step else None)

    def on_log(self, trainer: Any, record: dict[str, Any]) -> None:
        if self.writer is None:
            return
        step = record["step"]
        self.writer.add_scalar("loss/discriminator", record["d_loss"], step)
        self.writer.add_scalar("loss/generator", record["g_loss"], step)
        self.writer.add_scalar("speed/images_per_s", record["images_per_s"], step)

    def on_evaluation(self, trainer: Any, record: dict[str, Any]) -> None:
        if self.writer is None:
            return
        for metric, result in record["eval"]["metrics"].items():
            for key, value in result["values"].items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
                    self.writer.add_scalar(f"eval/{metric}/{key}", value, record["step"])

    def on_samples(self, trainer: Any, images: torch.Tensor, path: Any) -> None:
        if self.writer is None or not self.images:
            return
        from torchvision.utils import make_grid

        grid = make_grid(images.float().cpu(), nrow=10, normalize=True, value_range=(-1, 1), padding=2)
        self.writer.add_image("samples", grid, trainer.state.step)

    def on_checkpoint(self, trainer: Any, path: Any) -> None:
        if self.writer is not None:
            self.writer.flush()  # what a checkpoint covers is on disk with it

    def on_fit_end(self, trainer: Any) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
