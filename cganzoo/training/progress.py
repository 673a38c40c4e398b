"""Progress of a run, rank 0 only: a tqdm bar on a terminal, a plain line per epoch elsewhere."""

from __future__ import annotations

import sys
from typing import Any

from cganzoo.interfaces import Callback


class ProgressBar(Callback):
    """One tqdm bar over the run's steps, the logged losses and images/s as its postfix.

    When stderr is not a terminal (a log file, a pipe, ``nohup``) and no notebook
    widget is in use, the bar is off rather than write carriage-return updates
    into the file; the run then reports one line per epoch through the trainer's log:
    ``cganzoo: epoch 3/200 done (step 2811/187400): d_loss 0.1271, g_loss 0.5943, 1,862 images/s``
    (the epoch's last step's losses, images/s of the last logged window).
    ``--no-progress`` turns both off.
    """

    state_key = "progress"

    def __init__(self) -> None:
        self.bar: Any = None
        self.last: dict[str, Any] | None = None

    def on_fit_start(self, trainer: Any) -> None:
        from tqdm.auto import tqdm

        # tqdm.auto picks a notebook widget under Jupyter, whose stream is no terminal either: keep that one.
        notebook = "notebook" in tqdm.__module__
        plain = not notebook and not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty())
        self.bar = tqdm(total=trainer.total_steps, initial=trainer.state.step, unit="step", dynamic_ncols=True,
                        desc=trainer.config.model or "train", disable=plain)

    def on_step_end(self, trainer: Any, end: Any) -> None:
        self.bar.update(1)
        if self.bar.disable and end.step % len(trainer.batches) == 0:  # an epoch's last step: one sync per epoch
            epochs = -(-trainer.total_steps // len(trainer.batches))
            speed = f", {self.last['images_per_s']:,.0f} images/s" if self.last is not None else ""
            trainer.log(f"cganzoo: epoch {end.step // len(trainer.batches)}/{epochs} done (step {end.step}/"
                        f"{trainer.total_steps}): d_loss {float(end.d_loss):.4f}, g_loss {float(end.g_loss):.4f}{speed}")

    def on_log(self, trainer: Any, record: dict[str, Any]) -> None:
        self.last = record
        self.bar.set_postfix(d_loss=f"{record['d_loss']:.4f}", g_loss=f"{record['g_loss']:.4f}",
                             img_s=f"{record['images_per_s']:.0f}")

    def on_fit_end(self, trainer: Any) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
