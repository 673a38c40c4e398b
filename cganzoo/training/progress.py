"""The progress bar (tqdm) of a run, rank 0 only."""

from __future__ import annotations

from typing import Any

from cganzoo.interfaces import Callback


class ProgressBar(Callback):
    """One tqdm bar over the run's steps; the logged losses and images/s as its postfix."""

    state_key = "progress"

    def __init__(self) -> None:
        self.bar: Any = None

    def on_fit_start(self, trainer: Any) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=trainer.total_steps, initial=trainer.state.step, unit="step", dynamic_ncols=True,
                        desc=trainer.config.model or "train")

    def on_step_end(self, trainer: Any, end: Any) -> None:
        self.bar.update(1)

    def on_log(self, trainer: Any, record: dict[str, Any]) -> None:
        self.bar.set_postfix(d_loss=f"{record['d_loss']:.4f}", g_loss=f"{record['g_loss']:.4f}",
                             img_s=f"{record['images_per_s']:.0f}")

    def on_fit_end(self, trainer: Any) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
