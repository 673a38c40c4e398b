"""Finding NaN and infinity in training without a host sync per step.

:class:`LossWindow` keeps each step's ``(d_loss, g_loss)`` in a small tensor on
the training device; the runner reads it back once per log interval and
before each checkpoint (one host sync), so the first non-finite loss is
named with its exact step and component. :func:`first_non_finite` checks
weights and optimizer moments before a checkpoint: they can turn NaN in a
step whose losses were still finite.
"""

from __future__ import annotations

from typing import Iterable

import torch

#: The window's columns.
COMPONENTS = ("discriminator", "generator")


class LossWindow:
    """Per-step losses of the current log window, on the device.

    The window holds the last ``len(window)`` steps, the newest last.

    Args:
        capacity: Steps it holds before it grows (the log interval).
        device: Where the losses live (the training device).
    """

    def __init__(self, capacity: int, device: torch.device | str) -> None:
        self._values = torch.zeros(max(capacity, 1), len(COMPONENTS), device=device)
        self._length = 0

    def __len__(self) -> int:
        return self._length

    def record(self, d_loss: torch.Tensor, g_loss: torch.Tensor) -> None:
        """Append one step's 0-dim loss tensors (device-side copies, no host sync)."""
        if self._length == self._values.shape[0]:  # only after a resume with a smaller log interval
            self._values = torch.cat([self._values, torch.zeros_like(self._values)])
        self._values[self._length, 0] = d_loss
        self._values[self._length, 1] = g_loss
        self._length += 1

    def read(self) -> torch.Tensor:
        """float64 ``(len, 2)`` on the CPU: the one host sync."""
        return self._values[:self._length].double().cpu()

    def clear(self) -> None:
        self._length = 0

    def state(self) -> torch.Tensor:
        """float32 ``(len, 2)``, for a checkpoint."""
        return self._values[:self._length].float()

    def load(self, values: torch.Tensor) -> None:
        """Restore :meth:`state`.

        Raises:
            ValueError: ``values`` is not ``(n, 2)``.
        """
        if values.dim() != 2 or values.shape[1] != len(COMPONENTS):
            raise ValueError(f"loss window of shape {tuple(values.shape)}, expected (n, {len(COMPONENTS)})")
        if values.shape[0] > self._values.shape[0]:
            self._values = torch.zeros(values.shape[0], len(COMPONENTS), device=self._values.device)
        self._values[:values.shape[0]] = values.to(self._values.device)
        self._length = values.shape[0]


def first_bad_loss(losses: torch.Tensor, last_step: int) -> str | None:
    """Describe the first non-finite entry of a window read with :meth:`LossWindow.read`.

    Args:
        losses: float ``(n, 2)``, columns :data:`COMPONENTS`, the last row is ``last_step``.
        last_step: The step of the last row.

    Returns:
        e.g. ``"generator loss became nan at step 7"``, or ``None`` if all are finite.
    """
    finite = torch.isfinite(losses)
    if bool(finite.all()):
        return None
    row = int((~finite).any(dim=1).nonzero()[0, 0])
    bad = [f"{name} loss became {losses[row, j].item()}" for j, name in enumerate(COMPONENTS) if not finite[row, j]]
    return f"{' and the '.join(bad)} at step {last_step - losses.shape[0] + 1 + row}"


def first_non_finite(named: Iterable[tuple[str, torch.Tensor]]) -> str | None:
    """The name of the first floating tensor holding NaN or infinity (one host sync), or ``None``."""
    named = [(name, t) for name, t in named if t.is_floating_point()]
    if not named:
        return None
    ok = torch.stack([torch.isfinite(t).all() for _, t in named]).cpu()
    return None if bool(ok.all()) else named[int((~ok).nonzero()[0, 0])][0]
