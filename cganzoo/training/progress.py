"""Progress of a run, rank 0 only: a tqdm bar on a terminal, a plain line now and then elsewhere."""

from __future__ import annotations

import sys
import time
from typing import Any, Callable

from cganzoo.interfaces import Callback

#: Without a terminal, at most one progress line per this many seconds (besides the first epoch's end and the
#: last step). Per epoch alone floods a log on small data (a 24-image folder ends an epoch every few steps)
#: and says nothing for many minutes on large data; half a minute still shows a stalled run soon.
PLAIN_LINE_INTERVAL_S = 30.0


class ProgressBar(Callback):
    """One tqdm bar over the run's steps, the logged losses and images/s as its postfix.

    When stderr is not a terminal (a log file, a pipe, ``nohup``) and no notebook
    widget is in use, the bar is off rather than write carriage-return updates
    into the file; the run then reports plain lines through the trainer's log:
    one at the end of the first epoch (unless a line came earlier), then at most
    one every :data:`PLAIN_LINE_INTERVAL_S` seconds, and one at the last step::

        cganzoo: epoch 1/200 done (step 937/187400): d_loss 0.1271, g_loss 0.5943
        cganzoo: epoch 3/200 (step 2211/187400): d_loss 0.1302, g_loss 0.6011, 1,862 images/s

    (the losses of that step, images/s of the last logged window; ``done`` when
    the step ends an epoch). ``--no-progress`` turns both off.

    Args:
        clock: Seconds from any origin, never going back (default :func:`time.monotonic`).
        interval_s: Least seconds between two plain lines (default :data:`PLAIN_LINE_INTERVAL_S`).
    """

    state_key = "progress"

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 interval_s: float = PLAIN_LINE_INTERVAL_S) -> None:
        self.bar: Any = None
        self.last: dict[str, Any] | None = None
        self.clock, self.interval_s = clock, interval_s
        self.next_line_at = 0.0
        self.said = False

    def on_fit_start(self, trainer: Any) -> None:
        from tqdm.auto import tqdm

        # tqdm.auto picks a notebook widget under Jupyter, whose stream is no terminal either: keep that one.
        notebook = "notebook" in tqdm.__module__
        plain = not notebook and not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty())
        self.bar = tqdm(total=trainer.total_steps, initial=trainer.state.step, unit="step", dynamic_ncols=True,
                        desc=trainer.config.model or "train", disable=plain)
        self.next_line_at, self.said = self.clock() + self.interval_s, False

    def on_step_end(self, trainer: Any, end: Any) -> None:
        self.bar.update(1)
        if not self.bar.disable:
            return
        per_epoch = len(trainer.batches)
        epoch_end = end.step % per_epoch == 0
        now = self.clock()
        if not (end.finished or now >= self.next_line_at or (epoch_end and not self.said)):
            return
        self.next_line_at, self.said = now + self.interval_s, True
        epochs = -(-trainer.total_steps // per_epoch)
        epoch = -(-end.step // per_epoch)  # 1-based: the epoch this step belongs to
        speed = f", {self.last['images_per_s']:,.0f} images/s" if self.last is not None else ""
        trainer.log(f"cganzoo: epoch {epoch}/{epochs}{' done' if epoch_end else ''} (step {end.step}/"
                    f"{trainer.total_steps}): d_loss {float(end.d_loss):.4f}, g_loss {float(end.g_loss):.4f}{speed}")

    def on_log(self, trainer: Any, record: dict[str, Any]) -> None:
        self.last = record
        self.bar.set_postfix(d_loss=f"{record['d_loss']:.4f}", g_loss=f"{record['g_loss']:.4f}",
                             img_s=f"{record['images_per_s']:.0f}")

    def on_fit_end(self, trainer: Any) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
