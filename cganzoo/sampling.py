"""Sample grids: one row per class, the same fixed noise for a whole run."""

from __future__ import annotations

import io
from pathlib import Path

import torch
from torchvision.utils import save_image

from cganzoo.io import atomic_write_bytes, make_dirs
from cganzoo.latent import sample_latent

#: Images per class row in a run's sample grids.
PER_CLASS = 10


def class_grid_inputs(num_classes: int, latent_dim: int, seed: int, per_class: int = PER_CLASS,
                      device: torch.device | str = "cpu", distribution: str = "normal") -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed noise and labels for a class-by-row grid.

    Row ``i`` holds ``per_class`` samples of class ``i``; column ``j`` uses the
    same ``z`` in every row, so a column shows one "style" across classes.

    Args:
        distribution: Latent prior, ``"normal"`` or ``"uniform"`` (:mod:`cganzoo.latent`).

    Returns:
        ``z`` float32 ``(num_classes * per_class, latent_dim)`` from the prior and
        ``y`` int64 ``(num_classes * per_class,)``.
    """
    gen = torch.Generator(device="cpu").manual_seed((seed * 7919 + 0x5A3D1E) % 2**63)
    z = sample_latent(per_class, latent_dim, distribution, generator=gen).repeat(num_classes, 1)
    y = torch.arange(num_classes).repeat_interleave(per_class)
    return z.to(device), y.to(device)


@torch.no_grad()
def generate(generator: torch.nn.Module, z: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Run ``generator`` in eval mode, then restore its previous mode.

    Returns:
        float32 images ``(N, C, H, W)`` in ``[-1, 1]`` on ``z``'s device.
    """
    was_training = generator.training
    generator.eval()
    try:
        return torch.cat([generator(zc, yc).float() for zc, yc in zip(z.split(batch_size), y.split(batch_size))])
    finally:
        generator.train(was_training)


def save_grid(images: torch.Tensor, path: str | Path, nrow: int) -> Path:
    """Save images in ``[-1, 1]`` as one PNG grid, atomically.

    Args:
        images: ``(N, C, H, W)`` in ``[-1, 1]``.
        path: Output ``.png`` path; parent directories are created.
        nrow: Images per row.
    """
    path = Path(path)
    make_dirs(path.parent)
    buffer = io.BytesIO()
    save_image(images.detach().cpu(), buffer, format="png", nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)
    atomic_write_bytes(path, buffer.getvalue())
    return path
