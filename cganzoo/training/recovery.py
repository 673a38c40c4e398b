"""What a run that has to stop tells its user: the last good checkpoint, and how to go on.

The checkpointing callback records each checkpoint here; the loop, the
checkpoint writer and the callbacks that write files ask it for the check of
the losses and for the end of their one-line errors (resume, or start over).
"""

from __future__ import annotations

import shlex
from pathlib import Path

import torch

from cganzoo.errors import TrainingDivergedError, TrainingInterrupted
from cganzoo.training.nonfinite import first_bad_loss
from cganzoo.training.signals import StopRequest


class Recovery:
    """The last good checkpoint of a run, and the sentences that send its user on.

    Args:
        run_dir: The run directory; ``None`` when the run writes nothing (benchmarks).
    """

    def __init__(self, run_dir: Path | None) -> None:
        self.run_dir = run_dir
        #: ``(step, checkpoint directory)`` of the last checkpoint written or resumed from.
        self.last_checkpoint: tuple[int, Path] | None = None

    def checkpointed(self, step: int, path: Path) -> None:
        """A checkpoint of ``step`` was written to (or resumed from) ``path``."""
        self.last_checkpoint = (step, path)

    def check_losses(self, losses: torch.Tensor, step: int) -> None:
        """Raise on the first non-finite loss of a window read back.

        Args:
            losses: float64 ``(n, 2)``, ``(d_loss, g_loss)`` of the window's last ``n`` steps.
            step: Steps done, the window's last included.

        Raises:
            TrainingDivergedError: naming the first bad step and player, and what is kept.
        """
        bad = first_bad_loss(losses, step)
        if bad:
            raise TrainingDivergedError(f"{bad}; " + self.diverged_tail())

    def diverged_tail(self) -> str:
        """The end of a divergence error: which checkpoint is kept and why resuming would not help."""
        if self.last_checkpoint is None:
            kept = "no checkpoint had been written yet"
        else:
            kept = (f"the last good checkpoint, {self.last_checkpoint[1].name} (step {self.last_checkpoint[0]}), "
                    f"is kept and was not overwritten")
        return (f"training stopped; {kept}. Resuming would repeat the same steps: start a new run with a lower "
                f"--lr, another --loss or another --seed")

    def resume_hint(self) -> str:
        """The end of an output error: the checkpoint kept and the command that resumes from it."""
        if self.last_checkpoint is None:
            return "no checkpoint had been written yet"
        return (f"the last checkpoint ({self.last_checkpoint[1].name}) is kept: free space or fix permissions, then "
                f"cganzoo run --resume {shlex.quote(str(self.run_dir))}")

    def interrupted(self, stop: StopRequest, step: int) -> TrainingInterrupted:
        """The error a stop signal ends training with, after the step's checkpoint was written."""
        step, path = self.last_checkpoint if self.last_checkpoint else (step, self.run_dir)
        return TrainingInterrupted(
            f"stopped by {stop.name} after step {step}; checkpoint written to {path}. "
            f"Resume with: cganzoo run --resume {shlex.quote(str(self.run_dir))}",
            signal_name=stop.name, signum=int(stop.signum or 2), step=step, run_dir=str(self.run_dir))
