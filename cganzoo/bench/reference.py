"""The reference pipeline: the MLP CGAN trained the way the reference PyTorch script does it.

The reference (``implementations/cgan/cgan.py`` of the PyTorch-GAN
collection) feeds training through ``torchvision.datasets.MNIST`` with a
per-sample PIL transform ``Resize(img_size), ToTensor(), Normalize([0.5],
[0.5])``, a ``DataLoader`` at batch 64 with ``shuffle=True`` (no worker
processes), draws ``z`` and the generator's labels with numpy on the host and
copies them over every step, uses ``torch.optim.Adam`` with its default kernel,
and prints both losses every batch (``.item()``: a host sync per step; the
line itself is not printed here). It is rewritten here, with the same
networks, loss and optimizer settings as the model it stands for, so that
every benchmark table carries the reference's speed from the same process and
the same run.

No download: torchvision's ``MNIST`` reads the four IDX files from
``root/MNIST/raw``; they are written from the arrays cganzoo already holds
(:func:`cganzoo.data.idx.idx_bytes`), byte-identical to the original files
for MNIST.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from cganzoo.components.factory import create_loss
from cganzoo.config import RunConfig
from cganzoo.data.idx import idx_bytes
from cganzoo.errors import IncompatibleError
from cganzoo.interfaces import LabelledImages
from cganzoo.training import build_models

#: torchvision's file names in ``root/MNIST/raw``.
_RAW_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def write_idx_tree(data: LabelledImages, root: Path) -> Path:
    """Write ``data`` as the four IDX files torchvision's ``MNIST`` reads from ``root/MNIST/raw``.

    Args:
        data: Single-channel uint8 images ``(N, 1, H, W)`` and labels. Without a
            test split, the training split is written as the test files too
            (only the training split is read).
        root: Dataset root; created if missing.

    Returns:
        ``root``.

    Raises:
        IncompatibleError: the images have more than one channel (torchvision's
            ``MNIST`` reads ``(N, H, W)`` grey images only).
    """
    if data.images.shape[1] != 1:
        raise IncompatibleError(f"the reference pipeline reads grey images (MNIST's way); dataset "
                                f"{data.info.name!r} has {data.images.shape[1]} channels")
    test_images = data.test_images if data.test_images is not None else data.images
    test_labels = data.test_labels if data.test_labels is not None else data.labels
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    arrays = (data.images[:, 0], data.labels, test_images[:, 0], test_labels)
    for name, tensor in zip(_RAW_FILES, arrays):
        (raw / name).write_bytes(idx_bytes(tensor.numpy().astype(np.uint8)))
    return root


class ReferencePipeline:
    """One reference-script training step per call.

    Args:
        config: The model's run config (networks, loss, latent_dim, img_size, lr, betas, seed).
        data: The data set, as cganzoo loads it (written to ``root`` as IDX files).
        root: Directory for torchvision's ``MNIST/raw`` tree.
        device: Training device.
        batch_size: DataLoader batch (the reference's is 64).

    Raises:
        IncompatibleError: the data set is not single-channel.
    """

    def __init__(self, config: RunConfig, data: LabelledImages, root: Path, device: torch.device,
                 batch_size: int = 64) -> None:
        self.config, self.device, self.batch_size = config, device, batch_size
        self.num_classes = data.info.num_classes
        write_idx_tree(data, root)
        transform = transforms.Compose([transforms.Resize(config.img_size), transforms.ToTensor(),
                                        transforms.Normalize([0.5], [0.5])])
        dataset = datasets.MNIST(str(root), train=True, download=False, transform=transform)
        np.random.seed(config.seed % 2**32)
        torch.manual_seed(config.seed)
        self.loader = DataLoader(dataset, batch_size=batch_size, shuffle=True)
        self.generator, self.discriminator = build_models(config, data.info)
        self.generator.to(device)
        self.discriminator.to(device)
        self.loss = create_loss(config.loss.name, config.loss.params)
        betas = (config.b1, config.b2)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=config.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=config.lr, betas=betas)
        self._batches: Iterator[tuple[torch.Tensor, torch.Tensor]] = itertools.chain.from_iterable(
            self.loader for _ in itertools.count())
        self.last_losses = (float("nan"), float("nan"))

    def step(self) -> None:
        """One reference step: the G update, then the D update, then both losses read back."""
        imgs, labels = next(self._batches)
        G, D, loss, device = self.generator, self.discriminator, self.loss, self.device
        batch = imgs.shape[0]
        real_imgs = imgs.to(device, torch.float32)
        labels = labels.to(device, torch.int64)

        self.opt_g.zero_grad()
        z = torch.as_tensor(np.random.normal(0, 1, (batch, self.config.latent_dim)), dtype=torch.float32,
                            device=device)
        gen_labels = torch.as_tensor(np.random.randint(0, self.num_classes, batch), dtype=torch.int64,
                                     device=device)
        gen_imgs = G(z, gen_labels)
        g_loss = loss.generator_loss(D(gen_imgs, gen_labels))
        g_loss.backward()
        self.opt_g.step()

        self.opt_d.zero_grad()
        d_loss = loss.discriminator_loss(D(real_imgs, labels), D(gen_imgs.detach(), gen_labels))
        d_loss.backward()
        self.opt_d.step()
        self.last_losses = (d_loss.item(), g_loss.item())  # the reference prints both every batch

    def finish(self) -> float:
        """Sum of the last step's losses (already on the host)."""
        return sum(self.last_losses)
