"""Pre-flight: every check made before data loads or a process starts, in one place.

A mistake in a run's settings is refused in one line before anything costly
happens: :func:`check_run` runs in the process that launches torchrun, once,
before any worker starts (``cganzoo run --nproc N``), and in each trainer
before its data set loads. :func:`check_data_fits` follows as soon as the data
set's size is known. Which components may train together is decided by
:mod:`cganzoo.components.compatibility` once they are built.
"""

from __future__ import annotations

from pathlib import Path

import torch

from cganzoo.components.registry import Registry
from cganzoo.config import RunConfig
from cganzoo.distributed.context import check_batch_split, check_multi_rank_config
from cganzoo.errors import ConfigError
from cganzoo.training.build import validate_components
from cganzoo.training.checkpointing import check_resumable
from cganzoo.training.fastpath import check_fast_path


def check_run(config: RunConfig, device: torch.device, *, registry: Registry | None = None,
              world_size: int | None = 1, resume_dir: Path | str | None = None) -> None:
    """Refuse a run that cannot start, before its data loads and before any process starts.

    Args:
        config: The run configuration.
        device: Where it would train.
        registry: Component registry (default: installed plugins).
        world_size: Processes that train together; the batch must split over them. ``None``: several,
            counted by torchrun once it starts them (the launching process checks for its workers).
        resume_dir: The run directory a resume continues, or ``None`` for a new run.

    Raises:
        UnknownComponentError, ConfigError: a component name or its params are invalid; a fast-path
            setting the device cannot run; a batch that does not split over the ranks; a setting
            that cannot work with several ranks.
        ResumeMismatchError, CheckpointError: a resume whose settings differ from the run's, or
            that has no checkpoint or nothing left to train.
    """
    validate_components(config, registry)
    check_fast_path(config, device)
    if world_size is None or world_size > 1:
        if world_size is not None:
            check_batch_split(config.batch_size, config.drop_last, world_size)
        check_multi_rank_config(config, device)
    if resume_dir is not None:
        check_resumable(Path(resume_dir), config)


def check_data_fits(config: RunConfig, train_size: int, dataset_name: str) -> None:
    """Refuse a batch (times ``d_steps_per_g_step``) larger than the data set, once its size is known.

    Raises:
        ConfigError: one step would need more images than ``train_size``; the message gives the largest batch.
    """
    n, k = train_size, config.d_steps_per_g_step
    if config.batch_size > n:
        raise ConfigError(f"batch_size {config.batch_size} is larger than the data set {dataset_name!r} ({n} "
                          f"training images); use --batch-size {n} or less")
    if config.batch_size * k > n:
        raise ConfigError(f"batch_size {config.batch_size} x d_steps_per_g_step {k} = {config.batch_size * k} "
                          f"images per step is more than the data set {dataset_name!r} holds ({n} training "
                          f"images); use --batch-size {n // k} or less")
