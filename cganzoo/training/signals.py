"""Stopping cleanly on SIGINT (Ctrl-C) and SIGTERM.

While training, the first such signal only records a request; the runner
finishes the current step, writes a checkpoint and raises
:class:`cganzoo.errors.TrainingInterrupted`. The previous handlers are put
back at once, so a second signal acts immediately (the previous checkpoint is
still intact: checkpoints are written atomically).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from dataclasses import dataclass
from typing import Any, Iterator

#: Signals that ask training to stop after the current step.
STOP_SIGNALS = ("SIGINT", "SIGTERM")


@dataclass
class StopRequest:
    """Set by the handler when a stop signal arrives.

    Attributes:
        signum: The signal's number, or ``None`` while none has arrived.
    """

    signum: int | None = None

    @property
    def name(self) -> str:
        """``"SIGINT"`` or ``"SIGTERM"`` (``""`` while no signal arrived)."""
        return signal.Signals(self.signum).name if self.signum is not None else ""


@contextlib.contextmanager
def stop_signals_handled() -> Iterator[StopRequest]:
    """Turn SIGINT/SIGTERM into a :class:`StopRequest` for the duration of the block.

    A signal the parent process chose to ignore (a background job's SIGINT)
    stays ignored. Outside the main thread (where Python cannot set handlers)
    the request simply never fires.

    Yields:
        The request the handler fills in.
    """
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    numbers = [getattr(signal, name) for name in STOP_SIGNALS if hasattr(signal, name)]
    previous = {n: signal.getsignal(n) for n in numbers if signal.getsignal(n) is not signal.SIG_IGN}

    def restore() -> None:
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)

    def request_stop(signum: int, frame: Any) -> None:
        request.signum = signum
        restore()  # a second Ctrl-C or SIGTERM is not deferred

    for number in previous:
        signal.signal(number, request_stop)
    try:
        yield request
    finally:
        restore()
