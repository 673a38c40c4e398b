"""The prior of the latent ``z``: one function every sampler uses (training, sample grids, evaluation).

* ``"normal"``: ``z ~ N(0, I)``, the reference MLP CGAN's ``np.random.normal(0, 1, ...)``;
  drawn with ``torch.randn``, so runs that predate this choice draw the very same numbers.
* ``"uniform"``: ``z ~ U[0, 1)^latent_dim``, Mirza & Osindero 2014, Sec. 4.1: "a noise
  prior z with dimensionality 100 was drawn from a uniform distribution within the unit
  hypercube".
"""

from __future__ import annotations

from typing import Literal

import torch

LatentDistribution = Literal["normal", "uniform"]
#: The accepted names, in the order the CLI lists them.
LATENT_DISTRIBUTIONS: tuple[str, ...] = ("normal", "uniform")


def sample_latent(n: int, latent_dim: int, distribution: str = "normal", *, generator: torch.Generator | None = None,
                  device: torch.device | str | None = None) -> torch.Tensor:
    """Draw ``n`` latent vectors.

    Args:
        n: How many.
        latent_dim: Width of each.
        distribution: ``"normal"`` or ``"uniform"`` (see the module docstring).
        generator: Source of randomness (its device must be ``device``).
        device: Where to create them (default: the generator's device, else CPU).

    Returns:
        float32 ``(n, latent_dim)``.

    Raises:
        ValueError: an unknown ``distribution``.
    """
    if device is None and generator is not None:
        device = generator.device
    if distribution == "normal":
        return torch.randn(n, latent_dim, generator=generator, device=device)
    if distribution == "uniform":
        return torch.rand(n, latent_dim, generator=generator, device=device)
    raise ValueError(f"unknown latent distribution {distribution!r}; choose one of: {', '.join(LATENT_DISTRIBUTIONS)}")
