"""A test-only plugin whose loss makes one rank of a torchrun job die or stall.

Used by ``tests/test_distributed.py`` to check that a job whose rank dies (or
hangs) ends with a message instead of hanging forever. Installed for the
worker processes through a ``cganzoo`` entry point in a temporary
``.dist-info`` directory, the way any third-party plugin is found.
"""

from __future__ import annotations

import os
import time
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from cganzoo import hookimpl


class FaultParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["die", "stall"] = Field("die", description="'die': exit at once; 'stall': sleep for an hour.")
    rank: int = Field(1, ge=0, description="The rank that misbehaves (RANK from torchrun).")
    at_call: int = Field(3, ge=1, description="On its this-many-th generator_loss call.")


class FaultyBCE:
    """Binary cross-entropy on logits, until ``rank``'s ``at_call``-th generator step."""

    def __init__(self, mode: str = "die", rank: int = 1, at_call: int = 3) -> None:
        self.mode, self.rank, self.at_call, self.calls = mode, rank, at_call, 0

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))) / 2

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == self.at_call and int(os.environ.get("RANK", "0")) == self.rank:
            if self.mode == "die":
                os._exit(3)  # no cleanup, no exception: as a killed process looks to the others
            time.sleep(3600)
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


@hookimpl
def register_losses(register):
    register("faulty-bce", FaultyBCE, params=FaultParams, description="test only: BCE that kills or stalls a rank")
