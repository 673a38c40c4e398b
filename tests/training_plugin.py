"""A throwaway third-party plugin with a training callback and an optimizer, as docs/plugins.md shows them."""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict, Field

from cganzoo import Callback, hookimpl


class CountSteps(Callback):
    """Counts the steps it saw; the count is checkpointed and resumed with the run."""

    def __init__(self, every: int = 1) -> None:
        self.every, self.seen, self.logged = every, 0, []

    def on_step_end(self, trainer, end):
        if end.step % self.every == 0:
            self.seen += 1

    def on_log(self, trainer, record):
        self.logged.append(record["step"])

    def state_dict(self):
        return {"seen": self.seen, "marker": torch.full((2,), float(self.seen))}

    def load_state_dict(self, state):
        self.seen = state["seen"]
        assert torch.equal(state["marker"], torch.full((2,), float(self.seen)))


class CountParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    every: int = Field(1, ge=1)


class RMSpropParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    alpha: float = Field(0.99, gt=0, lt=1)


def make_rmsprop(parameters, lr, betas, weight_decay, fast_path, alpha):
    return torch.optim.RMSprop(parameters, lr=lr, alpha=alpha, weight_decay=weight_decay)


@hookimpl
def register_callbacks(register):
    register("count-steps", CountSteps, params=CountParams, description="counts steps (tests)")


@hookimpl
def register_optimizers(register):
    register("rmsprop", make_rmsprop, params=RMSpropParams, description="RMSprop (tests)")
