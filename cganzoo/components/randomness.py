"""Every random draw a component makes: the latent prior of ``z`` and per-sample batch noise.

**The latent prior** (:func:`sample_latent`), one function every sampler uses
(training, sample grids, evaluation):

* ``"normal"``: ``z ~ N(0, I)``, the reference MLP CGAN's ``np.random.normal(0, 1, ...)``;
  drawn with ``torch.randn``, so runs that predate this choice draw the very same numbers.
* ``"uniform"``: ``z ~ U[0, 1)^latent_dim``, Mirza & Osindero 2014, Sec. 4.1: "a noise
  prior z with dimensionality 100 was drawn from a uniform distribution within the unit
  hypercube".

**Draws inside a training step that do not depend on the number of processes**
(:class:`BatchNoise`).

Under data parallelism (``cganzoo run --nproc N``) each rank trains on its
shard of the global batch. A component that draws one random number per
sample (WGAN-GP's interpolation weights, a conditioner's or an augmentation's
noise) must get, for each sample, the number it would get in a single process,
and every rank's stream must advance by the same amount, or the ranks drift
apart and a 2-process run stops matching a 1-process run. :class:`BatchNoise`
makes that hold by construction: every rank draws the values of the *global*
batch from the same generator and keeps its own contiguous shard. With one
process the shard is the whole batch, so the draws are exactly those of
``torch.rand(..., generator=generator)`` on the batch.
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



class BatchNoise:
    """Per-sample random draws for this process's shard of the global batch.

    Args:
        generator: The run's noise generator (seeded from ``--seed``,
            checkpointed and restored exactly), on the training device.
        world_size: Number of data-parallel processes (ranks).
        rank: This process's rank in ``[0, world_size)``.

    Every method takes ``local_batch``, the number of samples this rank holds,
    draws ``local_batch * world_size`` rows and returns rows
    ``[rank * local_batch, (rank + 1) * local_batch)``.
    """

    def __init__(self, generator: torch.Generator, world_size: int = 1, rank: int = 0) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in [0, {world_size})")
        self.generator, self.world_size, self.rank = generator, world_size, rank

    @property
    def device(self) -> torch.device:
        return self.generator.device

    def _shard(self, values: torch.Tensor, local_batch: int) -> torch.Tensor:
        if self.world_size == 1:
            return values
        return values[self.rank * local_batch:(self.rank + 1) * local_batch]

    def rand(self, local_batch: int, *shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """``U[0, 1)`` values of shape ``(local_batch, *shape)``."""
        values = torch.rand((local_batch * self.world_size, *shape), generator=self.generator, device=self.device,
                            dtype=dtype)
        return self._shard(values, local_batch)

    def randn(self, local_batch: int, *shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """``N(0, 1)`` values of shape ``(local_batch, *shape)``."""
        values = torch.randn((local_batch * self.world_size, *shape), generator=self.generator, device=self.device,
                             dtype=dtype)
        return self._shard(values, local_batch)

    def randint(self, high: int, local_batch: int, *shape: int) -> torch.Tensor:
        """int64 values in ``[0, high)`` of shape ``(local_batch, *shape)``."""
        values = torch.randint(0, high, (local_batch * self.world_size, *shape), generator=self.generator,
                               device=self.device)
        return self._shard(values, local_batch)

    def latent(self, local_batch: int, latent_dim: int, distribution: str = "normal") -> torch.Tensor:
        """Latent ``z``, float32 ``(local_batch, latent_dim)``, from the run's prior (see :mod:`cganzoo.components.randomness`)."""
        values = sample_latent(local_batch * self.world_size, latent_dim, distribution, generator=self.generator,
                               device=self.device)
        return self._shard(values, local_batch)
