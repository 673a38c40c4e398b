"""Random draws inside a training step that do not depend on the number of processes.

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

import torch

from cganzoo.latent import sample_latent


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
        """Latent ``z``, float32 ``(local_batch, latent_dim)``, from the run's prior (see :mod:`cganzoo.latent`)."""
        values = sample_latent(local_batch * self.world_size, latent_dim, distribution, generator=self.generator,
                               device=self.device)
        return self._shard(values, local_batch)
