"""Sample grids: ``samples/step_<N>.png`` every ``sample_interval`` steps and at the end (rank 0 writes);
``samples/step_0.png`` before the first step too (``sample_at_start``, on by default)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cganzoo.components.sampling import PER_CLASS, generate, save_grid
from cganzoo.errors import OutputError
from cganzoo.interfaces import Callback
from cganzoo.runs.layout import RunDir


class SampleGrids(Callback):
    """Row ``i`` is class ``i`` (its name written left of it), ten columns, the same fixed noise all run long,
    G in eval mode.

    The grid is drawn from the run's sampling generator (the EMA of G when an
    ``ema`` callback runs, else G) and handed to every callback's ``on_samples``.
    """

    state_key = "sample_grids"

    def on_fit_start(self, trainer: Any) -> None:
        # Only a fresh run (step 0) draws the "before" grid: a resumed run wrote it when it started.
        if trainer.config.sample_at_start and trainer.state.step == 0:
            with trainer.clock.paused():  # like the grids of later steps, not charged to images/s
                self.draw(trainer)

    def on_step_end(self, trainer: Any, end: Any) -> None:
        if end.step % trainer.config.sample_interval == 0 or end.finished:
            self.draw(trainer)

    @staticmethod
    def draw(trainer: Any) -> Path | None:
        """Write the grid of the current step.

        Raises:
            OutputError: the file cannot be written (disk full, permissions).
        """
        if not trainer.dist.is_main or trainer.run_dir is None:
            return None
        state = trainer.state
        images = generate(trainer.sampling_generator(), state.fixed_z, state.fixed_y)
        path = RunDir(trainer.run_dir).sample_grid(state.step)
        rows = state.fixed_y[::PER_CLASS].tolist()  # one class per row
        try:
            save_grid(images, path, nrow=PER_CLASS, class_names=[trainer.info.class_names[k] for k in rows])
        except OSError as exc:
            raise OutputError(f"could not write {str(path)!r}: {exc.strerror or exc}; "
                              + trainer.recovery.resume_hint()) from None
        trainer.callbacks.on_samples(trainer, images, path)
        return path
