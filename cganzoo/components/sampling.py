"""Sample grids: one row per class, the same fixed noise for a whole run."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import torch
from torchvision.utils import make_grid, save_image

from cganzoo.io import atomic_write_bytes, make_dirs
from cganzoo.components.randomness import sample_latent

#: Images per class row in a run's sample grids.
PER_CLASS = 10


def class_grid_inputs(num_classes: int, latent_dim: int, seed: int, per_class: int = PER_CLASS,
                      device: torch.device | str = "cpu", distribution: str = "normal") -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed noise and labels for a class-by-row grid.

    Row ``i`` holds ``per_class`` samples of class ``i``; column ``j`` uses the
    same ``z`` in every row, so a column shows one "style" across classes.

    Args:
        distribution: Latent prior, ``"normal"`` or ``"uniform"`` (:mod:`cganzoo.components.randomness`).

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


def save_grid(images: torch.Tensor, path: str | Path, nrow: int, class_names: Sequence[str] | None = None) -> Path:
    """Save images in ``[-1, 1]`` as one PNG grid, atomically.

    Args:
        images: ``(N, C, H, W)`` in ``[-1, 1]``, ``C`` 1 or 3.
        path: Output ``.png`` path; parent directories are created.
        nrow: Images per row.
        class_names: Optional label of each grid row (``ceil(N / nrow)`` of
            them), written in a column left of the images, e.g. the class each
            row was sampled for. Grayscale grids stay grayscale.

    Raises:
        ValueError: ``class_names`` does not hold one name per row.
    """
    path = Path(path)
    make_dirs(path.parent)
    buffer = io.BytesIO()
    if class_names is None:
        save_image(images.detach().cpu(), buffer, format="png", nrow=nrow, normalize=True, value_range=(-1, 1),
                   padding=2)
    else:
        labelled_grid(images, nrow, class_names).save(buffer, format="png")
    atomic_write_bytes(path, buffer.getvalue())
    return path


def labelled_grid(images: torch.Tensor, nrow: int, class_names: Sequence[str], padding: int = 2):
    """The grid of :func:`save_grid` as a PIL image, with ``class_names[i]`` written left of row ``i``.

    Returns:
        ``PIL.Image.Image``, mode ``"L"`` for 1-channel images, else ``"RGB"``;
        white text on the grid's black padding colour, in Pillow's built-in font.
    """
    from PIL import Image, ImageDraw, ImageFont

    rows = -(-images.shape[0] // nrow)
    if len(class_names) != rows:
        raise ValueError(f"class_names holds {len(class_names)} names for a grid of {rows} rows")
    grid = make_grid(images.detach().cpu().float(), nrow=nrow, normalize=True, value_range=(-1, 1), padding=padding)
    array = grid.mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    mode = "L" if images.shape[1] == 1 else "RGB"
    picture = Image.fromarray(array[:, :, 0] if mode == "L" else array, mode=mode)
    font = ImageFont.load_default()
    measure = ImageDraw.Draw(Image.new(mode, (1, 1)))
    boxes = [measure.textbbox((0, 0), str(name), font=font) for name in class_names]
    width = max(box[2] - box[0] for box in boxes) + 2 * padding + 4
    canvas = Image.new(mode, (picture.width + width, picture.height), 0)
    canvas.paste(picture, (width, 0))
    draw = ImageDraw.Draw(canvas)
    row_height = images.shape[2] + padding
    white = 255 if mode == "L" else (255, 255, 255)
    for i, (name, box) in enumerate(zip(class_names, boxes)):
        top = padding + i * row_height + (images.shape[2] - (box[3] - box[1])) // 2 - box[1]
        draw.text((padding + 2, top), str(name), fill=white, font=font)
    return canvas
