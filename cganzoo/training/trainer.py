"""The trainer: builds a run from its config and trains it with :class:`cganzoo.training.loop.FitLoop`.

It assembles the parts, each in its own module:

* :mod:`~cganzoo.training.build`: data, G, D, loss, optimizers, callbacks from the config;
* :mod:`~cganzoo.training.state`: :class:`TrainingState`, what a step changes and a checkpoint holds;
* :mod:`~cganzoo.training.step`: :class:`TrainStep`, the only ``backward()`` and ``step()``;
* :mod:`~cganzoo.training.preflight`: every check made before the data set loads;
* :mod:`~cganzoo.training.loop`: :class:`FitLoop`, the loop (its counters and stop condition);
* :mod:`~cganzoo.training.recovery`: the last good checkpoint and how to go on after a stop;
* callbacks: the run's own (``config.callbacks``: EMA, TensorBoard, plugins'),
  then the built-ins: :class:`ProgressBar`, :class:`MetricsLog`,
  :class:`SampleGrids`, :class:`Checkpointing`, :class:`PeriodicEvaluation`.

With ``run_dir=None`` nothing is written and no built-in callback runs: the
benchmark trains the same state through the same step and loop that way.
"""

from __future__ import annotations

import logging
import random
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from cganzoo.components.compatibility import check_combination, has_batch_statistics
from cganzoo.components.factory import create_augmentation, create_dataset, create_loss
from cganzoo.components.randomness import BatchNoise
from cganzoo.components.registry import Registry
from cganzoo.components.sampling import class_grid_inputs
from cganzoo.config import RunConfig
from cganzoo.data.batches import resize_images
from cganzoo.distributed.context import DistContext
from cganzoo.distributed.device import resolve_device
from cganzoo.errors import ConfigError
from cganzoo.interfaces import Callback
from cganzoo.runs import run_dir as run_dirs
from cganzoo.training import checkpointing, preflight
from cganzoo.training.build import (
    build_callbacks,
    build_models,
    build_optimizers,
    component_provenance,
    count_parameters,
    dataset_identity,
    package_versions,
)
from cganzoo.training.callbacks import CallbackList
from cganzoo.training.checkpointing import Checkpointing
from cganzoo.training.fastpath import adam_options, bf16_support, fast_modules, fast_step
from cganzoo.training.loop import Clock, FitLoop
from cganzoo.training.metrics_log import MetricsLog
from cganzoo.training.nonfinite import LossWindow
from cganzoo.training.objective import Objective
from cganzoo.training.periodic_eval import PeriodicEvaluation
from cganzoo.training.progress import ProgressBar
from cganzoo.training.recovery import Recovery
from cganzoo.training.sample_grids import SampleGrids
from cganzoo.training.state import TrainingState
from cganzoo.training.step import TrainStep

#: Status lines of a run (rank 0 only); the CLI prints them.
logger = logging.getLogger("cganzoo")


class Trainer:
    """Builds and trains one conditional GAN described by a :class:`RunConfig`.

    What it guarantees (``tests/test_resume.py``, ``tests/test_crash_safety.py``):

    * **Exact resume.** A checkpoint holds the weights, both optimizers, every
      RNG, the fixed sample noise, the step (the epoch's shuffle is a pure
      function of ``(seed, epoch)``, so the step fixes the position inside the
      epoch), the losses of the current log window and every callback's state
      (an EMA of G included). Training 2N steps straight through and N + N
      with a resume in between gives bit-identical weights and logged losses
      on the CPU.
    * **Stops loudly.** SIGINT or SIGTERM finishes the current step, writes a
      checkpoint and raises :class:`TrainingInterrupted`, whose message says
      how to resume. A NaN or infinite loss raises :class:`TrainingDivergedError`
      naming the first bad step and player; every checkpoint is preceded by a
      check of the losses and of every weight and optimizer moment.
    * **Refuses bad input before training.** Too little free disk space, an
      unwritable or foreign run directory, a batch size of one with
      BatchNorm, real images outside ``[-1, 1]`` (checked on the first batch).

    Args:
        config: The run configuration.
        run_dir: Where outputs go (``config.json``, ``metrics.jsonl``,
            ``samples/``, ``checkpoints/``); ``None``: write nothing (benchmarks).
        resume: Continue from the run directory's latest checkpoint.
        registry: Component registry (default: installed plugins).
        progress: Show a progress bar.
        log: Receives one-line status messages (default: :func:`default_status_log`).
        dist: Where this process stands in a torchrun job (default: one process
            on ``config.device``); with several ranks ``batch_size`` is the
            global batch, rank 0 alone writes and evaluates.
        callbacks: Callbacks to add to the config's, before the built-in ones.

    Raises:
        ConfigError: invalid settings for this data or machine, or a run
            directory that holds another run (without ``resume``).
        OutputError: too little free disk space for the checkpoints.
        CheckpointError: ``resume`` and the checkpoint is missing, corrupt or of
            another configuration or data set.
    """

    def __init__(self, config: RunConfig, run_dir: Path | str | None, *, resume: bool = False,
                 registry: Registry | None = None, progress: bool = True, log: Callable[[str], None] | None = None,
                 dist: DistContext | None = None, callbacks: Sequence[Callback] = ()) -> None:
        self.dist = dist if dist is not None else DistContext(device=resolve_device(config.device))
        log = log or default_status_log()
        self.log: Callable[[str], None] = log if self.dist.is_main else _quiet  # one voice per job
        self.config, self.registry, self.resume = config, registry, resume
        self.progress = progress and self.dist.is_main
        self.device = self.dist.device
        # Refused before any data is loaded and before any collective (every rank refuses alike).
        preflight.check_run(config, self.device, registry=registry,
                            world_size=self.dist.world_size if self.dist.enabled else 1,
                            resume_dir=Path(run_dir) if resume and run_dir is not None else None)
        self.run_dir: Path | None = None
        if run_dir is not None:
            self.run_dir = Path(self.dist.main_then_share(lambda: str(run_dir)))  # rank 0's default name wins
        self.recovery = Recovery(self.run_dir)
        if self.run_dir is not None:
            self.dist.main_then_share(lambda: run_dirs.prepare_run_dir(self.run_dir, resume))
            self.log(f"cganzoo: {'resuming' if resume else 'training'} {config.model or 'a custom model'} on "
                     f"{config.dataset.name}; outputs in {self.run_dir}")
        try:
            self._build(list(callbacks))
        except BaseException:
            if self.run_dir is not None and not resume and self.dist.is_main:
                run_dirs.remove_if_empty(self.run_dir)  # a refused run leaves no directory that blocks the retry
            raise

    # -- building ------------------------------------------------------------------------------

    def _build(self, extra_callbacks: list[Callback]) -> None:
        config, registry, dist = self.config, self.registry, self.dist
        # Each node's first rank fills the data cache, then the others read it.
        data = dist.local_main_first(lambda: create_dataset(
            config.dataset.name, config.dataset.params, data_dir=config.data_dir, log=self.log, registry=registry,
            img_size=config.img_size))
        self.data, self.info = data, data.info  # the test split is what evaluation compares with
        self.data_identity = dataset_identity(data)
        images = resize_images(data.images, config.img_size)

        # --seed seeds every generator a component might draw from; a resume restores them all.
        random.seed(config.seed)
        np.random.seed(config.seed % 2**32)
        generator, discriminator = build_models(config, self.info, registry)
        self.loss = create_loss(config.loss.name, config.loss.params, registry=registry)
        check_combination(config, generator, discriminator, self.loss)
        preflight.check_data_fits(config, images.shape[0], self.info.name)
        batchnorm = has_batch_statistics(generator) or has_batch_statistics(discriminator)
        self.batches = dist.epoch_batches(images, data.labels, config.batch_size, config.seed,
                                          drop_last=config.drop_last, device=self.device,
                                          min_batch=2 if batchnorm else 1, batches_per_step=config.d_steps_per_g_step)
        if not config.drop_last and self.batches.skipped_tail:
            self.log(f"cganzoo: the last batch of each epoch would hold {self.batches.skipped_tail} image(s), too few "
                     f"for BatchNorm in training mode; it is skipped ({len(self.batches)} batches per epoch)")
        if dist.enabled and config.sync_batchnorm:
            generator = torch.nn.SyncBatchNorm.convert_sync_batchnorm(generator)
            discriminator = torch.nn.SyncBatchNorm.convert_sync_batchnorm(discriminator)
        elif config.sync_batchnorm:
            self.log("cganzoo: --sync-batchnorm has no effect in a single process (it shares BatchNorm statistics "
                     "between the ranks of --nproc N); training as without it")
        generator.to(self.device)
        discriminator.to(self.device)
        optimizers = build_optimizers(config, generator, discriminator, fast_path=adam_options(config, self.device),
                                      registry=registry)
        noise = torch.Generator(device=self.device).manual_seed((config.seed + 0x9E3779B9) % 2**63)
        fixed_z, fixed_y = class_grid_inputs(min(self.info.num_classes, 20), config.latent_dim, config.seed,
                                             device=self.device, distribution=config.latent_distribution)
        self.state = TrainingState(generator, discriminator, optimizers, noise, fixed_z, fixed_y,
                                   LossWindow(config.log_interval, self.device))
        total = len(self.batches) * config.epochs
        self.total_steps = min(total, config.max_steps) if config.max_steps else total

        callbacks = build_callbacks(config, registry) + extra_callbacks
        if self.run_dir is not None:
            callbacks += [*([ProgressBar()] if self.progress else []), MetricsLog(), SampleGrids(), Checkpointing(),
                          PeriodicEvaluation()]
        self.callbacks = CallbackList(callbacks)
        self.callbacks.setup(self)  # before a resume restores their state, and before the fast path
        if self.resume:
            checkpointing.restore_latest(self)
            if self.state.step >= self.total_steps:
                raise ConfigError(
                    f"{str(self.run_dir)!r} is already at step {self.state.step}, and its budget (epochs "
                    f"{config.epochs} x {len(self.batches)} steps, max_steps {config.max_steps}) ends at step "
                    f"{self.total_steps}: nothing to train; give a larger --max-steps or --epochs with --resume")
        else:
            # Data-dependent initialisation (e.g. paper-mlp's output biases from the pixel
            # marginals); deterministic, so it leaves every RNG as it was. A resume loads weights.
            generator.init_from_data(images)
        if self.run_dir is not None:
            dist.main_then_share(lambda: run_dirs.check_disk_space(self.run_dir, self.checkpoint_bytes(),
                                                                    config.keep_checkpoints))
            if not self.resume and dist.is_main:
                run_dirs.write_run_config(self.run_dir, self.run_record())

        # The fast path wraps G's and D's forward passes (autocast, compile) after the state
        # is final; training forward passes then go through DDP, which averages gradients
        # over ranks. Sampling, evaluation and checkpoints use the modules themselves.
        fast_modules(config, self.device, generator, discriminator)
        augmentation = (create_augmentation(config.augmentation.name, config.augmentation.params, registry=registry)
                        if config.augmentation is not None else None)
        self.objective = Objective(self.loss, discriminator, BatchNoise(noise, dist.world_size, dist.rank),
                                   augmentation=augmentation, r1_gamma=config.r1_gamma,
                                   r1_interval=config.r1_interval)
        step = TrainStep(self.state, self.objective, generator=dist.wrap(generator),
                         discriminator=dist.wrap(discriminator), noise=self.objective.noise,
                         latent_dim=config.latent_dim, latent_distribution=config.latent_distribution,
                         num_classes=self.info.num_classes, d_steps=config.d_steps_per_g_step)
        self.step_fn = fast_step(config, self.device, step, generators=(noise,))
        self.loop = FitLoop(self, state=self.state, batches=self.batches, step=self.train_step,
                            callbacks=self.callbacks, dist=dist, recovery=self.recovery, seed=config.seed,
                            log_interval=config.log_interval,
                            checkpoint_interval=config.checkpoint_interval if self.run_dir is not None else None,
                            total_steps=self.total_steps, dataset_name=self.info.name)
        if config.amp == "auto":
            native, why = bf16_support(self.device)
            self.log(f"cganzoo: --amp auto: {'bf16 autocast' if native else 'fp32'} ({why})")
        if dist.enabled:
            self.log(dist.describe(config.batch_size))

    def run_record(self) -> dict[str, Any]:
        """What ``config.json`` holds (besides its creation time and command line)."""
        return {
            "config": self.config.to_json_dict(),
            "seed": self.config.seed,
            "device": str(self.device),
            "dataset": {k: self.data_identity[k] for k in checkpointing.DATASET_IDENTITY},
            "img_shape": [self.info.shape[0], self.config.img_size, self.config.img_size],
            "parameters": {"generator": count_parameters(self.state.generator),
                           "discriminator": count_parameters(self.state.discriminator)},
            "steps_per_epoch": len(self.batches),
            "components": component_provenance(self.config, self.registry),
            "distributed": self.dist.record(self.config.batch_size, self.config.sync_batchnorm),
            "versions": package_versions(),
        }

    def checkpoint_bytes(self) -> int:
        """Estimated size of one checkpoint in bytes: weights, buffers, two Adam moments per parameter."""
        size = 0
        modules = [self.state.generator, self.state.discriminator]
        offered = self.callbacks.sampling_generator()
        if offered is not None:
            modules.append(offered.module)
        for module in modules:
            size += sum(t.numel() * t.element_size() for t in module.state_dict().values())
        for module in modules[:2]:
            size += 2 * sum(p.numel() * p.element_size() for p in module.parameters() if p.requires_grad)
        return size + self.state.fixed_z.numel() * self.state.fixed_z.element_size() + (64 << 10)

    # -- training ------------------------------------------------------------------------------

    def run(self) -> Path | None:
        """Train until ``epochs`` or ``max_steps``; returns the run directory.

        Raises:
            TrainingInterrupted: SIGINT or SIGTERM arrived; the current step was
                finished and checkpointed (the message says how to resume).
            TrainingDivergedError: a loss, weight or optimizer moment became NaN
                or infinite; the last good checkpoint is kept.
            DataError: the first batch of real images lies outside ``[-1, 1]``.
            CheckpointError, OutputError: an output could not be written.
        """
        self.state.generator.train()
        self.state.discriminator.train()
        self.fit()
        self.log(f"cganzoo: trained to step {self.state.step} in {self.clock.elapsed():.1f} s; "
                 f"outputs in {self.run_dir}")
        return self.run_dir

    def fit(self) -> None:
        """Train from the current step to the budget or a stop (:meth:`FitLoop.run`), in the modules' current mode."""
        self.loop.run()

    def train_step(self, real: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One training step (:class:`TrainStep`, or its CUDA-graph replay): ``(d_loss, g_loss)`` on the device.

        Args:
            real: float ``(d_steps_per_g_step * B, C, H, W)`` in ``[-1, 1]``.
            labels: int64 ``(d_steps_per_g_step * B,)``.
        """
        return self.step_fn(real, labels)

    def request_stop(self) -> None:
        """Ask the loop to return after the current step (a callback's way to end training early)."""
        self.loop.request_stop()

    @property
    def clock(self) -> Clock:
        """Wall time of the current ``fit`` and the part of it spent training (callbacks' time left out)."""
        return self.loop.clock

    def sampling_generator(self) -> torch.nn.Module:
        """The generator to sample from: a callback's (the EMA of G) if one offers it, else G."""
        offered = self.callbacks.sampling_generator()
        return offered.module if offered is not None else self.state.generator

    def sampling_protocol(self) -> dict[str, Any]:
        """Which generator an evaluation sampled, for its protocol record."""
        offered = self.callbacks.sampling_generator()
        return {"generator": "trained G" if offered is None else offered.description}

    # -- names kept for code written against the first release ------------------------------------

    @property
    def generator(self) -> torch.nn.Module:
        return self.state.generator

    @property
    def discriminator(self) -> torch.nn.Module:
        return self.state.discriminator

    @property
    def step(self) -> int:
        return self.state.step


def _quiet(_: str) -> None:
    pass


def default_status_log() -> Callable[[str], None]:
    """The ``cganzoo`` logger where an INFO record of it reaches a handler, else a print to stdout.

    A bare ``cganzoo.train(config)`` in a script or notebook has no logging set up, and its
    status lines would vanish for minutes; with logging set up, printing too would say each line twice.
    """
    return logger.info if logger.isEnabledFor(logging.INFO) and logger.hasHandlers() else _print_status_line


def _print_status_line(line: str) -> None:
    print(line, file=sys.stdout, flush=True)  # the stdout of the moment (a notebook or a test may swap it)
