"""A throwaway third-party plugin, written exactly as an outside author would.

It provides a tiny synthetic data set in which every image encodes its own
label (a bright square at a class-specific spot), so tests can train end to
end in seconds and check that images and labels stay paired.
"""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict, Field

import cganzoo
from cganzoo import DatasetInfo, LabelledImages, hookimpl

NUM_CLASSES = 10


class ToyParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    size: int = Field(512, ge=1, description="Training images.")
    side: int = Field(28, ge=10, description="Image side in pixels.")


def encode(labels: torch.Tensor, side: int = 28, seed: int = 0) -> torch.Tensor:
    """uint8 (N, 1, side, side) noise images with a bright block in cell ``label`` of a 4x4 grid."""
    gen = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 40, (labels.numel(), 1, side, side), generator=gen, dtype=torch.uint8)
    cell = side // 4
    for i, y in enumerate(labels.tolist()):
        r, c = divmod(y, 4)
        images[i, 0, r * cell + 1:(r + 1) * cell - 1, c * cell + 1:(c + 1) * cell - 1] = 255
    return images


def decode(images: torch.Tensor) -> torch.Tensor:
    """Recover the labels from images made by :func:`encode` (any size, any value range)."""
    x = images.float()
    side = x.shape[-1]
    cells = torch.stack([
        x[:, :, round(r * side / 4):round((r + 1) * side / 4), round(c * side / 4):round((c + 1) * side / 4)].mean(dim=(1, 2, 3))
        for r in range(3) for c in range(4)
    ][:NUM_CLASSES], dim=1)
    return cells.argmax(dim=1)


def make_toy(data_dir=None, log=print, size: int = 512, side: int = 28) -> LabelledImages:
    labels = torch.arange(size) % NUM_CLASSES
    labels = labels[torch.randperm(size, generator=torch.Generator().manual_seed(1))]
    test_labels = torch.arange(100) % NUM_CLASSES
    info = DatasetInfo("toy-digits", NUM_CLASSES, tuple(f"class {k}" for k in range(NUM_CLASSES)), (1, side, side))
    return LabelledImages(encode(labels, side), labels, info, encode(test_labels, side, seed=1), test_labels)


@hookimpl
def register_datasets(register):
    register("toy-digits", make_toy, params=ToyParams, description="synthetic: a square that encodes the label")


@hookimpl
def register_models(register):
    register("toy-gan", {"generator": {"name": "mlp", "params": {"hidden": [32, 64]}},
                         "discriminator": {"name": "mlp", "params": {"hidden": 32}},
                         "conditioner": "embedding", "loss": "bce", "dataset": "toy-digits"},
             description="a small MLP CGAN on toy-digits, for tests")


assert cganzoo.hookimpl is hookimpl
