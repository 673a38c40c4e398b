"""``metrics.jsonl``: one JSON object per logged step and per evaluation (rank 0 writes).

A logged record is ``{"epoch", "step", "d_loss", "g_loss", "images_per_s",
"elapsed_s"}``: the mean losses of the log window (over ranks too),
``images_per_s`` the real images trained on per second of training (time in
callbacks, such as writing grids and checkpoints, left out), ``elapsed_s`` the
wall time since this ``fit`` started. Evaluations append
``{"epoch", "step", "eval": report}``. :class:`~cganzoo.runs.layout.RunDir`
appends them, and reads them back; a resume drops the records after its
checkpoint (:meth:`RunDir.truncate_metrics`).
"""

from __future__ import annotations

from typing import Any

from cganzoo.errors import OutputError
from cganzoo.interfaces import Callback
from cganzoo.runs.layout import RunDir


class MetricsLog(Callback):
    """Writes ``RUN_DIR/metrics.jsonl`` and tells every callback what it logged (``on_log``)."""

    state_key = "metrics_log"

    def __init__(self) -> None:
        self.window_start = 0.0
        self.window_steps = 0

    def on_fit_start(self, trainer: Any) -> None:
        self.window_start, self.window_steps = trainer.clock.training(), 0

    def on_step_end(self, trainer: Any, end: Any) -> None:
        self.window_steps += 1
        if not end.log:
            return
        now = trainer.clock.training()
        images = self.window_steps * trainer.config.batch_size * trainer.config.d_steps_per_g_step
        d_mean, g_mean = end.losses.mean(dim=0).tolist()
        record = {"epoch": (end.step - 1) // len(trainer.batches), "step": end.step, "d_loss": d_mean,
                  "g_loss": g_mean, "images_per_s": round(images / max(now - self.window_start, 1e-9), 1),
                  "elapsed_s": round(trainer.clock.elapsed(), 3)}
        self.write(trainer, record)
        trainer.callbacks.on_log(trainer, record)
        self.window_start, self.window_steps = trainer.clock.training(), 0

    def on_evaluation(self, trainer: Any, record: dict[str, Any]) -> None:
        self.write(trainer, record)

    @staticmethod
    def write(trainer: Any, record: dict[str, Any]) -> None:
        """Append one record (rank 0 only).

        Raises:
            OutputError: the file cannot be written; the message says what was kept.
        """
        if not trainer.dist.is_main or trainer.run_dir is None:
            return
        run = RunDir(trainer.run_dir)
        try:
            run.append_metric(record)
        except OSError as exc:
            raise OutputError(f"could not write {str(run.metrics_file)!r}: {exc.strerror or exc}; "
                              + trainer.recovery.resume_hint()) from None

