"""Calling a run's callbacks in order (see :class:`cganzoo.interfaces.Callback` for the hooks)."""

from __future__ import annotations

from typing import Any, Iterator, Sequence

from cganzoo.interfaces import Callback, SamplingGenerator


class CallbackList:
    """A run's callbacks, in the order their hooks run.

    Each ``on_*`` method calls that hook of every callback in turn; a callback
    that raises stops the run (its error is the run's error).
    """

    def __init__(self, callbacks: Sequence[Callback]) -> None:
        self.callbacks = list(callbacks)

    def __iter__(self) -> Iterator[Callback]:
        return iter(self.callbacks)

    def __len__(self) -> int:
        return len(self.callbacks)

    def _call(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(*args)

    def setup(self, trainer: Any) -> None:
        self._call("setup", trainer)

    def on_fit_start(self, trainer: Any) -> None:
        self._call("on_fit_start", trainer)

    def on_step_end(self, trainer: Any, end: Any) -> None:
        self._call("on_step_end", trainer, end)

    def on_log(self, trainer: Any, record: dict[str, Any]) -> None:
        self._call("on_log", trainer, record)

    def on_samples(self, trainer: Any, images: Any, path: Any) -> None:
        self._call("on_samples", trainer, images, path)

    def on_checkpoint(self, trainer: Any, path: Any) -> None:
        self._call("on_checkpoint", trainer, path)

    def on_evaluation(self, trainer: Any, record: dict[str, Any]) -> None:
        self._call("on_evaluation", trainer, record)

    def on_fit_end(self, trainer: Any) -> None:
        errors: list[BaseException] = []
        for callback in self.callbacks:  # every callback closes its files, even if one fails
            try:
                callback.on_fit_end(trainer)
            except Exception as exc:  # noqa: BLE001 - re-raised below
                errors.append(exc)
        if errors:
            raise errors[0]

    def sampling_generator(self) -> SamplingGenerator | None:
        """The first sampling generator a callback offers (e.g. the EMA of G), or ``None``."""
        for callback in self.callbacks:
            offered = callback.sampling_generator()
            if offered is not None:
                return offered
        return None
