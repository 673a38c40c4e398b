"""The training runner: the only place with optimizers, ``backward()`` and ``step()``.

One loop for every model. Per batch, as the reference MLP CGAN does it:

1. generator step: fresh ``z`` from the latent prior (reference: ``N(0, 1)``,
   see :mod:`cganzoo.latent`) and labels drawn uniformly,
   ``g_loss = loss.generator_loss(D(G(z, y_g), y_g))``;
2. discriminator step on the real batch and the detached fakes,
   ``d_loss = loss.discriminator_loss(D(x, y), D(G(z, y_g).detach(), y_g))``.

Components add to both through their interfaces (:mod:`cganzoo.objective`):
a discriminator-side conditioner's auxiliary losses (AC-GAN) and a loss's
discriminator penalty (WGAN-GP).

Optimizers come from :mod:`cganzoo.optim` (reference: Adam, lr 2e-4, betas
(0.5, 0.999), for both). With ``eval_interval`` or ``eval_at_end`` the run is
evaluated (:mod:`cganzoo.evaluation`) and the results appended to
``metrics.jsonl``; evaluation runs under a forked RNG, so it never changes the
training trajectory. Under ``torchrun`` the same loop runs on every rank
(:mod:`cganzoo.distributed`): DDP averages the gradients and rank 0 writes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import platform
import random
import shlex
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from cganzoo.checkpoint import (
    atomic_write_text,
    checkpoint_names,
    flatten_optimizer_state,
    load_latest_checkpoint,
    load_module_state,
    save_checkpoint,
    unflatten_optimizer_state,
)
from cganzoo.components import (
    create_conditioner,
    create_dataset,
    create_discriminator,
    create_generator,
    create_loss,
)
from cganzoo.compatibility import check_combination, has_batch_statistics
from cganzoo.config import RunConfig
from cganzoo.data.batches import resize_images
from cganzoo.distributed import DistContext, check_multi_rank_config
from cganzoo.divergence import LossWindow, first_bad_loss, first_non_finite
from cganzoo.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    OutputError,
    TrainingDivergedError,
    TrainingInterrupted,
)
from cganzoo.fastpath import adam_options, check_fast_path, install_fast_path
from cganzoo.interfaces import ConditionalDiscriminator, ConditionalGenerator, DatasetInfo, LabelledImages
from cganzoo.latent import sample_latent
from cganzoo.objective import Objective
from cganzoo.optim import create_optimizers, validate_optimizer
from cganzoo.registry import Registry
from cganzoo.sampling import PER_CLASS, class_grid_inputs, generate, save_grid
from cganzoo.stopping import StopRequest, stop_signals_handled

#: Fields that define what is trained; resuming with any of them changed is an error.
IDENTITY_FIELDS = ("dataset", "conditioner", "generator_conditioner", "discriminator_conditioner", "generator",
                   "discriminator", "loss", "latent_dim", "img_size", "batch_size", "lr", "b1", "b2", "seed",
                   "drop_last", "optimizer", "latent_distribution")
#: What a checkpoint records of its data set; resuming on data that differs in any is an error.
DATASET_IDENTITY = ("name", "num_classes", "class_names", "shape", "train_size", "sha256")
#: Real images may exceed [-1, 1] by this much (float rounding) before the first-batch check objects.
RANGE_TOLERANCE = 1e-3


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> CUDA if available, else CPU.

    Raises:
        ConfigError: not a CPU or CUDA device name, or CUDA was asked for but is not available.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError(f"device {name!r} is not a device; use auto, cpu, cuda or cuda:N") from None
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"device {name!r} is not supported; use auto, cpu, cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available here; use --device cpu or auto")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s) present")
    return device


def package_versions() -> dict[str, str]:
    """Versions recorded in ``config.json``."""
    import importlib.metadata as md

    versions = {"python": platform.python_version(), "torch": torch.__version__}
    for dist in ("cganzoo", "torchvision", "pluggy", "pydantic", "datasets", "safetensors"):
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            versions[dist] = "not installed"
    return versions


def count_parameters(module: torch.nn.Module) -> int:
    """Number of trainable and frozen parameters (buffers excluded)."""
    return sum(p.numel() for p in module.parameters())


def validate_components(config: RunConfig, registry: Registry | None = None) -> None:
    """Check every component name and its params before any data is touched.

    Raises:
        UnknownComponentError: a name is not registered (the message lists the choices).
        ConfigError: a component's params are invalid.
    """
    from cganzoo.components import get_registry

    reg = get_registry(registry)
    for kind, spec in (("dataset", config.dataset), ("conditioner", config.conditioner_for("generator")),
                       ("conditioner", config.conditioner_for("discriminator")),
                       ("generator", config.generator), ("discriminator", config.discriminator),
                       ("loss", config.loss)):
        reg.validate_params(kind, spec.name, spec.params)
    validate_optimizer(config.optimizer.name, config.optimizer.params)


def build_models(config: RunConfig, info: DatasetInfo, registry: Registry | None = None
                 ) -> tuple[ConditionalGenerator, ConditionalDiscriminator]:
    """Build ``G`` and ``D`` from a config, each with its own conditioner built for its role.

    Weights are initialised from ``torch.manual_seed(config.seed)``.

    Raises:
        UnknownComponentError, ConfigError, IncompatibleError: a component is
            unknown, its params are invalid, or the combination cannot work.
    """
    img_shape = (info.shape[0], config.img_size, config.img_size)
    torch.manual_seed(config.seed)
    g_spec, d_spec = config.conditioner_for("generator"), config.conditioner_for("discriminator")
    g_cond = create_conditioner(g_spec.name, g_spec.params, info=info, role="generator", registry=registry)
    d_cond = create_conditioner(d_spec.name, d_spec.params, info=info, role="discriminator", registry=registry)
    generator = create_generator(config.generator.name, config.generator.params, conditioner=g_cond,
                                 latent_dim=config.latent_dim, img_shape=img_shape, registry=registry)
    discriminator = create_discriminator(config.discriminator.name, config.discriminator.params,
                                         conditioner=d_cond, img_shape=img_shape, registry=registry)
    return generator, discriminator


def dataset_identity(data: LabelledImages) -> dict[str, Any]:
    """What a run records about its training data, to refuse resuming on other data.

    Returns:
        ``{"name", "num_classes", "class_names", "shape", "train_size", "sha256"}``;
        ``sha256`` covers the uint8 training images and the int64 labels (about
        0.1 s for MNIST).
    """
    digest = hashlib.sha256()
    for tensor in (data.images, data.labels):
        digest.update(tensor.detach().contiguous().cpu().numpy().tobytes())
    info = data.info
    return {"name": info.name, "num_classes": info.num_classes, "class_names": list(info.class_names),
            "shape": list(info.shape), "train_size": int(data.images.shape[0]), "sha256": digest.hexdigest()}


def default_run_dir(config: RunConfig) -> Path:
    """``runs/<model>-<dataset>-<UTC time>``."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    name = config.model or f"{config.generator.name}-{config.conditioner.name}"
    return Path("runs") / f"{name}-{config.dataset.name}-{stamp}"


class Trainer:
    """Trains one conditional GAN described by a :class:`RunConfig`.

    What it guarantees (``tests/test_resume.py``, ``tests/test_crash_safety.py``):

    * **Exact resume.** A checkpoint holds the weights, both optimizers'
      moments and step counts, every RNG (torch's global one, the CUDA one,
      the noise generator, Python's ``random``, NumPy's global one), the
      fixed sample noise, the step (the epoch's shuffle is a pure function of
      ``(seed, epoch)``, so the step fixes the position inside the epoch) and
      the losses of the current log window. Training 2N steps straight
      through and N + N with a resume in between gives bit-identical weights
      and logged losses on the CPU.
    * **Stops loudly.** SIGINT (Ctrl-C) or SIGTERM finishes the current step,
      writes a checkpoint and raises :class:`TrainingInterrupted`, whose
      message says how to resume. A NaN or infinite loss stops the run with
      :class:`TrainingDivergedError` naming the first bad step and component;
      every checkpoint is preceded by a check of the losses since the last
      one and of every weight and optimizer moment, so poisoned weights never
      replace the last good checkpoint. The per-step losses stay on the device
      (no host sync per step) and are read back at log and checkpoint time.
    * **Refuses bad input before training.** Too little free disk space for
      the checkpoints, an unwritable run directory, a batch size of one with
      BatchNorm, and real images outside ``[-1, 1]`` (checked on the first batch).

    Args:
        config: The run configuration.
        run_dir: Where outputs go: ``config.json``, ``metrics.jsonl``,
            ``samples/step_<N>.png``, ``checkpoints/``.
        resume: Continue from the run directory's latest checkpoint.
        registry: Component registry (default: installed plugins).
        progress: Show a tqdm progress bar.
        log: Receives one-line status messages.
        dist: Where this process stands in a torchrun job (see :mod:`cganzoo.distributed`);
            default: a single process on ``config.device``. With several ranks
            ``batch_size`` is the global batch, each rank trains on its shard
            through DDP, rank 0 alone writes outputs and evaluates, and logged
            losses are averaged over ranks.

    Raises:
        ConfigError: the run directory already holds a run (without ``resume``),
            or cannot be written; or the config is invalid for the data.
        OutputError: the disk holding the run directory has too little free
            space for the checkpoints.
        CheckpointError: ``resume`` and the checkpoint is missing, corrupt or
            belongs to a different configuration or data set (the message
            names the difference).
    """

    def __init__(self, config: RunConfig, run_dir: Path, *, resume: bool = False, registry: Registry | None = None,
                 progress: bool = True, log: Callable[[str], None] = print, dist: DistContext | None = None) -> None:
        self.dist = dist if dist is not None else DistContext(device=resolve_device(config.device))
        if not self.dist.is_main:  # one voice per job: rank 0 logs and shows progress
            progress, log = False, _quiet
        self.config, self.registry = config, registry
        self.progress, self.log, self.resume = progress, log, resume
        validate_components(config, registry)
        self.device = self.dist.device
        check_fast_path(config, self.device)
        self.dist.check_batch(config.batch_size, config.drop_last)
        if self.dist.enabled:
            check_multi_rank_config(config, self.device)
        self.run_dir = Path(self.dist.main_then_share(lambda: str(run_dir)))  # rank 0's default name wins
        self.dist.main_then_share(self._prepare_run_dir)
        try:
            self._build()
        except BaseException:
            if not resume and self.dist.is_main:  # a refused run leaves no directory that blocks the retry
                self._remove_if_empty()
            raise

    def _build(self) -> None:
        config, registry, log, resume = self.config, self.registry, self.log, self.resume
        # Each node's first rank fills the data cache, then the others read it.
        data = self.dist.local_main_first(lambda: create_dataset(
            config.dataset.name, config.dataset.params, data_dir=config.data_dir, log=log, registry=registry,
            img_size=config.img_size))
        self.info = data.info
        self.data_identity = dataset_identity(data)
        self.data = data  # the test split is what evaluation compares with
        images = resize_images(data.images, config.img_size)

        # --seed seeds every generator a component might draw from; a resume restores them all.
        random.seed(config.seed)
        np.random.seed(config.seed % 2**32)
        self.generator, self.discriminator = build_models(config, self.info, registry)
        self.loss = create_loss(config.loss.name, config.loss.params, registry=registry)
        check_combination(config, self.generator, self.discriminator, self.loss)
        batchnorm = has_batch_statistics(self.generator) or has_batch_statistics(self.discriminator)
        if config.batch_size > images.shape[0]:
            raise ConfigError(f"batch_size {config.batch_size} is larger than the data set {self.info.name!r} "
                              f"({images.shape[0]} training images); use --batch-size {images.shape[0]} or less")
        self.batches = self.dist.epoch_batches(images, data.labels, config.batch_size, config.seed,
                                               drop_last=config.drop_last, device=self.device,
                                               min_batch=2 if batchnorm else 1)
        if not config.drop_last and self.batches.skipped_tail:
            log(f"cganzoo: the last batch of each epoch would hold {self.batches.skipped_tail} image(s), too few for "
                f"BatchNorm in training mode; it is skipped ({len(self.batches)} batches per epoch)")
        if self.dist.enabled and config.sync_batchnorm:
            self.generator = torch.nn.SyncBatchNorm.convert_sync_batchnorm(self.generator)
            self.discriminator = torch.nn.SyncBatchNorm.convert_sync_batchnorm(self.discriminator)
        self.generator.to(self.device)
        self.discriminator.to(self.device)
        self.optimizers = create_optimizers(config, self.generator, self.discriminator,
                                            adam_kwargs=adam_options(config, self.device))
        self.opt_g, self.opt_d = self.optimizers.generator, self.optimizers.discriminator

        self.noise_gen = torch.Generator(device=self.device).manual_seed((config.seed + 0x9E3779B9) % 2**63)
        self.objective = Objective(self.loss, self.discriminator, self.noise_gen)
        rows = min(self.info.num_classes, 20)
        self.fixed_z, self.fixed_y = class_grid_inputs(rows, config.latent_dim, config.seed, device=self.device,
                                                       distribution=config.latent_distribution)
        self.step = 0
        total = len(self.batches) * config.epochs
        self.total_steps = min(total, config.max_steps) if config.max_steps else total
        # Steps (last multiple of log_interval, step]; a checkpoint carries it over a resume.
        self.losses = LossWindow(config.log_interval, self.device)
        self._last_checkpoint: tuple[int, Path] | None = None
        self._stop = StopRequest()
        self._range_checked = False
        if resume:
            self._load_latest()
            if self.step >= self.total_steps:
                raise ConfigError(
                    f"{str(self.run_dir)!r} is already at step {self.step}, and its budget (epochs {config.epochs} x "
                    f"{len(self.batches)} steps, max_steps {config.max_steps}) ends at step {self.total_steps}: "
                    f"nothing to train; give a larger --max-steps or --epochs with --resume")
            self.dist.main_then_share(self._check_disk_space)
        else:
            # Data-dependent initialisation (e.g. paper-mlp's output biases from the pixel
            # marginals); deterministic, so it leaves every RNG as it was. A resume loads weights.
            self.generator.init_from_data(images)
            self.dist.main_then_share(self._check_disk_space)
            self._write_config()
        install_fast_path(self)  # after loading: a CUDA graph must capture the final tensors
        # Training forward passes go through DDP (it averages gradients over ranks); sampling,
        # evaluation and checkpoints use the modules themselves. With one rank these are the modules.
        self.train_generator = self.dist.wrap(self.generator)
        self.train_discriminator = self.dist.wrap(self.discriminator)
        if self.dist.enabled:
            log(self.dist.describe(config.batch_size))

    # -- run directory -------------------------------------------------------------------------

    def _prepare_run_dir(self) -> None:
        if self.resume:
            if not (self.run_dir / "config.json").is_file():
                raise ConfigError(f"cannot resume: {str(self.run_dir)!r} has no config.json (not a cganzoo run?)")
        elif self.run_dir.exists() and not self.run_dir.is_dir():
            raise ConfigError(f"run directory {str(self.run_dir)!r} is a file, not a directory; choose another --out")
        elif self.run_dir.exists() and any(self.run_dir.iterdir()):
            raise ConfigError(
                f"run directory {str(self.run_dir)!r} is not empty; choose another --out, "
                f"or continue it with --resume {self.run_dir}"
            )
        try:
            (self.run_dir / "samples").mkdir(parents=True, exist_ok=True)
            probe = self.run_dir / ".write-test"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise ConfigError(f"run directory {str(self.run_dir)!r} is not writable: {exc.strerror or exc}") from None

    def _remove_if_empty(self) -> None:
        for directory in (self.run_dir / "samples", self.run_dir):
            with contextlib.suppress(OSError):
                directory.rmdir()  # only ever removes an empty directory

    def checkpoint_bytes(self) -> int:
        """Estimated size of one checkpoint in bytes: weights, buffers, two Adam moments per parameter."""
        size = 0
        for module in (self.generator, self.discriminator):
            size += sum(t.numel() * t.element_size() for t in module.state_dict().values())
            size += 2 * sum(p.numel() * p.element_size() for p in module.parameters() if p.requires_grad)
        return size + self.fixed_z.numel() * self.fixed_z.element_size() + (64 << 10)

    def _check_disk_space(self) -> None:
        """Refuse to start when the checkpoints cannot fit: ``keep_checkpoints`` plus the one being written."""
        each = self.checkpoint_bytes()
        have = len(checkpoint_names(self.run_dir))
        need = each * max(1, self.config.keep_checkpoints + 1 - have) + (1 << 20)  # + samples and metrics
        free = shutil.disk_usage(self.run_dir).free
        if free < need:
            raise OutputError(
                f"not enough free disk space for {str(self.run_dir)!r}: {free / 2**20:.1f} MiB free, the "
                f"checkpoints need about {need / 2**20:.1f} MiB ({each / 2**20:.1f} MiB each, "
                f"keep_checkpoints={self.config.keep_checkpoints} plus the one being written); "
                f"free some space or choose another --out"
            )

    def _write_config(self) -> None:
        if not self.dist.is_main:
            return
        record = {
            "config": self.config.to_json_dict(),
            "seed": self.config.seed,
            "device": str(self.device),
            "dataset": {k: self.data_identity[k] for k in DATASET_IDENTITY},
            "img_shape": [self.info.shape[0], self.config.img_size, self.config.img_size],
            "parameters": {"generator": count_parameters(self.generator),
                           "discriminator": count_parameters(self.discriminator)},
            "steps_per_epoch": len(self.batches),
            "distributed": self.dist.record(self.config.batch_size, self.config.sync_batchnorm),
            "versions": package_versions(),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": sys.argv,
        }
        try:
            atomic_write_text(self.run_dir / "config.json", json.dumps(record, indent=2) + "\n")
        except OSError as exc:
            raise OutputError(f"could not write {str(self.run_dir / 'config.json')!r}: {exc.strerror or exc}") from None

    # -- the training step ---------------------------------------------------------------------

    def train_step(self, real: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One generator update then one discriminator update.

        Args:
            real: float ``(B, C, H, W)`` in ``[-1, 1]`` on the training device.
            labels: int64 ``(B,)``.

        Returns:
            ``(d_loss, g_loss)`` as detached 0-dim tensors on the device (no host sync).
        """
        G, D, objective = self.train_generator, self.discriminator, self.objective
        # Every rank draws the global batch's noise from the same generator and keeps its
        # shard, so which z goes with which image does not depend on the number of ranks.
        batch = real.shape[0] * self.dist.world_size
        shard = self.dist.shard(batch)
        z = sample_latent(batch, self.config.latent_dim, self.config.latent_distribution, generator=self.noise_gen,
                          device=self.device)[shard]
        gen_labels = torch.randint(0, self.info.num_classes, (batch,), generator=self.noise_gen,
                                   device=self.device)[shard]

        self.optimizers.before_step(self.step)

        # Generator step. D's parameters are frozen for it: their gradients would be
        # discarded by the D step's zero_grad anyway, so this changes no arithmetic.
        # D is called unwrapped here: DDP has no gradients of D to average in this step.
        D.requires_grad_(False)
        self.opt_g.zero_grad(set_to_none=True)
        fake = G(z, gen_labels)
        g_loss = objective.generator_loss(D, fake, gen_labels)
        g_loss.backward()
        self.opt_g.step()
        D.requires_grad_(True)

        # Discriminator step: real first, then the detached fakes (the reference's order,
        # which fixes the order of dropout's random draws).
        self.opt_d.zero_grad(set_to_none=True)
        d_loss = objective.discriminator_loss(self.train_discriminator, real, labels, fake.detach(), gen_labels)
        d_loss.backward()
        self.opt_d.step()
        return d_loss.detach(), g_loss.detach()

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> Path:
        """Train until ``epochs`` or ``max_steps``; returns the run directory.

        Raises:
            TrainingInterrupted: SIGINT or SIGTERM arrived; the current step was
                finished and checkpointed (the message says how to resume).
            TrainingDivergedError: a loss, weight or optimizer moment became NaN
                or infinite; the last good checkpoint is kept.
            DataError: the first batch of real images lies outside ``[-1, 1]``.
            CheckpointError, OutputError: an output could not be written.
        """
        from tqdm.auto import tqdm

        cfg, per_epoch = self.config, len(self.batches)
        self.generator.train()
        self.discriminator.train()
        bar = tqdm(total=self.total_steps, initial=self.step, disable=not self.progress, unit="step",
                   dynamic_ncols=True, desc=cfg.model or "train")
        timed_steps, window_start, run_start = 0, time.perf_counter(), time.perf_counter()
        try:
            with stop_signals_handled() as self._stop:
                while self.step < self.total_steps:
                    epoch, start = divmod(self.step, per_epoch)
                    for real, labels in self.batches.epoch(epoch, start):
                        if not self._range_checked:
                            self._check_real_range(real)
                        self.dist.seed_step(cfg.seed, self.step)
                        d_loss, g_loss = self.train_step(real, labels)
                        self.losses.record(d_loss, g_loss)
                        self.step += 1
                        timed_steps += 1
                        bar.update(1)
                        finished = self.step >= self.total_steps
                        stopping = self._stopping()
                        log_now = self.step % cfg.log_interval == 0 or finished
                        checkpoint_now = (self.step % cfg.checkpoint_interval == 0 or self.step % per_epoch == 0
                                          or finished or stopping)
                        if log_now or checkpoint_now:
                            losses = self.dist.mean(self.losses.read())  # the only host sync
                            self._check_losses(losses)
                        if log_now:
                            now = time.perf_counter()
                            images_per_s = timed_steps * cfg.batch_size / max(now - window_start, 1e-9)
                            d_mean, g_mean = losses.mean(dim=0).tolist()
                            self._log_metrics({"epoch": (self.step - 1) // per_epoch,
                                               "step": self.step, "d_loss": d_mean, "g_loss": g_mean,
                                               "images_per_s": round(images_per_s, 1),
                                               "elapsed_s": round(now - run_start, 3)})
                            bar.set_postfix(d_loss=f"{d_mean:.4f}", g_loss=f"{g_mean:.4f}",
                                            img_s=f"{images_per_s:.0f}")
                            if self.step % cfg.log_interval == 0:  # a final partial window carries on at resume
                                self.losses.clear()
                            timed_steps, window_start = 0, time.perf_counter()
                        io_start = time.perf_counter()
                        if self.step % cfg.sample_interval == 0 or finished:
                            self.save_samples()
                        if checkpoint_now:
                            self.save_checkpoint()
                        if (cfg.eval_interval and self.step % cfg.eval_interval == 0) or (
                                finished and (cfg.eval_at_end or cfg.eval_interval)):
                            if self.dist.is_main:  # once per job, not once per rank
                                self.evaluate()
                            self.dist.barrier()
                        # images/s measures training only: time spent writing outputs is left out.
                        window_start += time.perf_counter() - io_start
                        if stopping and not finished:
                            self._raise_interrupted()
                        if finished:
                            break
        finally:
            bar.close()
        elapsed = time.perf_counter() - run_start
        self.log(f"cganzoo: trained to step {self.step} in {elapsed:.1f} s; outputs in {self.run_dir}")
        return self.run_dir

    def _stopping(self) -> bool:
        """Whether a stop signal arrived; under DDP, whether one arrived on any rank.

        Ranks may see a signal at different steps, and every rank must stop at the
        same one (or the others would wait in a collective), so with several ranks
        the flag is reduced over ranks, at log steps only (one small collective per
        ``log_interval`` steps): the job stops at the first log step after the signal.
        """
        local = self._stop.signum is not None
        if not self.dist.enabled:
            return local
        if self.step % self.config.log_interval and self.step < self.total_steps:
            return False
        flag = torch.tensor([1.0 if local else 0.0], device=self.device)
        return bool(self.dist.mean(flag).item() > 0)

    def _check_real_range(self, real: torch.Tensor) -> None:
        """The first batch must lie in ``[-1, 1]``, the range every generator's output layer produces."""
        lo, hi = (v.item() for v in torch.aminmax(real.detach().float()))
        if lo < -1 - RANGE_TOLERANCE or hi > 1 + RANGE_TOLERANCE:
            raise DataError(
                f"real images of data set {self.info.name!r} lie in [{lo:.3f}, {hi:.3f}], but generators produce "
                f"[-1, 1] (tanh): the discriminator would tell real from fake by range alone. Scale images to "
                f"[-1, 1] (x / 127.5 - 1 for uint8), not by a mean/std normalisation"
            )
        self._range_checked = True

    def _check_losses(self, losses: torch.Tensor) -> None:
        """Raise on the first non-finite loss of a window read with :meth:`LossWindow.read`."""
        bad = first_bad_loss(losses, self.step)
        if bad:
            raise TrainingDivergedError(f"{bad}; " + self._diverged_tail())

    def _check_weights(self) -> None:
        """Raise if a weight, buffer or optimizer moment is NaN or infinite (poisoned without a bad loss yet)."""
        named: list[tuple[str, torch.Tensor]] = []
        for what, module in (("generator", self.generator), ("discriminator", self.discriminator)):
            named += [(f"{what} tensor {k}", v) for k, v in module.state_dict().items()]
        for what, opt in (("generator", self.opt_g), ("discriminator", self.opt_d)):
            params = [p for group in opt.param_groups for p in group["params"]]
            for index, param in enumerate(params):
                named += [(f"{what} optimizer {k} of parameter {index}", v)
                          for k, v in opt.state.get(param, {}).items() if isinstance(v, torch.Tensor)]
        bad = first_non_finite(named)
        if bad:
            raise TrainingDivergedError(f"{bad} holds NaN or infinite values at step {self.step} (its losses were "
                                        f"still finite); " + self._diverged_tail())

    def _diverged_tail(self) -> str:
        if self._last_checkpoint is None:
            kept = "no checkpoint had been written yet"
        else:
            kept = (f"the last good checkpoint, {self._last_checkpoint[1].name} (step {self._last_checkpoint[0]}), "
                    f"is kept and was not overwritten")
        return (f"training stopped; {kept}. Resuming would repeat the same steps: start a new run with a lower "
                f"--lr, another --loss or another --seed")

    def _raise_interrupted(self) -> None:
        step, path = self._last_checkpoint if self._last_checkpoint else (self.step, self.run_dir)
        raise TrainingInterrupted(
            f"stopped by {self._stop.name} after step {step}; checkpoint written to {path}. "
            f"Resume with: cganzoo run --resume {shlex.quote(str(self.run_dir))}",
            signal_name=self._stop.name, signum=int(self._stop.signum or 2), step=step, run_dir=str(self.run_dir))

    def _log_metrics(self, record: dict[str, Any]) -> None:
        if not self.dist.is_main:
            return
        path = self.run_dir / "metrics.jsonl"
        try:
            with open(path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
        except OSError as exc:
            raise OutputError(f"could not write {str(path)!r}: {exc.strerror or exc}; " + self._resume_hint()) from None

    def _resume_hint(self) -> str:
        if self._last_checkpoint is None:
            return "no checkpoint had been written yet"
        return (f"the last checkpoint ({self._last_checkpoint[1].name}) is kept: free space or fix permissions, then "
                f"cganzoo run --resume {shlex.quote(str(self.run_dir))}")

    def evaluate(self) -> dict[str, Any]:
        """Evaluate the generator now (every registered metric) and append the record to ``metrics.jsonl``.

        Runs under a forked RNG and leaves G in its previous mode, so training
        continues exactly as without it.

        Returns:
            The record appended: ``{"epoch", "step", "eval": report}``.
        """
        from cganzoo.evaluation import evaluate_generator

        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            report = evaluate_generator(self.generator, self.data, per_class=self.config.eval_samples_per_class,
                                        latent_distribution=self.config.latent_distribution,
                                        cache_root=self.config.data_dir, device=self.device,
                                        registry=self.registry, log=self.log, step=self.step)
        record = {"epoch": max(0, self.step - 1) // len(self.batches), "step": self.step, "eval": report.to_json()}
        self._log_metrics(record)
        self.log(report.format_summary())
        return record

    def save_samples(self) -> Path | None:
        """Write ``samples/step_<N>.png``: row ``i`` is class ``i``, fixed noise, G in eval mode (rank 0 only).

        Raises:
            OutputError: the file cannot be written (disk full, permissions).
        """
        if not self.dist.is_main:
            return None
        images = generate(self.generator, self.fixed_z, self.fixed_y)
        path = self.run_dir / "samples" / f"step_{self.step}.png"
        try:
            return save_grid(images, path, nrow=PER_CLASS)
        except OSError as exc:
            raise OutputError(f"could not write {str(path)!r}: {exc.strerror or exc}; " + self._resume_hint()) from None

    # -- checkpoints ---------------------------------------------------------------------------

    def save_checkpoint(self) -> Path | None:
        """Write a checkpoint of everything resume needs (weights, optimizers, RNGs, position, loss window).

        Rank 0 alone writes it. Weights are the unwrapped modules' (no DDP
        ``module.`` prefix), so a checkpoint written by N ranks resumes on any
        number of ranks.

        Raises:
            TrainingDivergedError: a loss since the last log, a weight or an
                optimizer moment is not finite; nothing is written.
            CheckpointError: the checkpoint could not be written; the previous one is kept.
        """
        if not self.dist.is_main:
            return None
        self._check_losses(self.losses.read())
        self._check_weights()
        g_tensors, g_meta = flatten_optimizer_state("opt_g", self.opt_g.state_dict())
        d_tensors, d_meta = flatten_optimizer_state("opt_d", self.opt_d.state_dict())
        np_kind, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
        tensors = {**g_tensors, **d_tensors,
                   "rng.torch": torch.get_rng_state(),
                   "rng.noise": self.noise_gen.get_state(),
                   "rng.numpy": torch.from_numpy(np.asarray(np_keys, dtype=np.int64)),
                   "fixed_z": self.fixed_z, "fixed_y": self.fixed_y,
                   "loss_window": self.losses.state()}
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        state = {"step": self.step, "epoch": self.step // len(self.batches),
                 "batch_in_epoch": self.step % len(self.batches),
                 "optimizers": {"opt_g": g_meta, "opt_d": d_meta},
                 "python_random": _jsonable_random_state(),
                 "numpy_random": {"kind": np_kind, "pos": int(np_pos), "has_gauss": int(np_has_gauss),
                                  "cached_gaussian": float(np_gauss)},
                 "identity": {k: self.config.to_json_dict()[k] for k in IDENTITY_FIELDS},
                 "dataset": self.data_identity}
        path = save_checkpoint(self.run_dir, f"step_{self.step:09d}", generator=self.generator,
                               discriminator=self.discriminator, training_tensors=tensors, state=state,
                               keep=self.config.keep_checkpoints)
        self._last_checkpoint = (self.step, path)
        return path

    def _load_latest(self) -> None:
        # Rank 0 reads the files and hands them to every rank: other nodes need no copy.
        path, (g_state, d_state, tensors, state) = self.dist.main_then_share(
            lambda: load_latest_checkpoint(self.run_dir))
        where = f"cannot resume {str(self.run_dir)!r}"
        saved = state.get("identity", {})
        now = {k: self.config.to_json_dict()[k] for k in IDENTITY_FIELDS}
        diff = [k for k in IDENTITY_FIELDS if isinstance(saved, dict) and k in saved and saved[k] != now[k]]
        if diff:
            k = diff[0]
            raise CheckpointError(f"{where}: {k} was {saved[k]!r} in the checkpoint but is {now[k]!r} now")
        saved_data = state.get("dataset", {})
        for k in DATASET_IDENTITY:
            if isinstance(saved_data, dict) and k in saved_data and saved_data[k] != self.data_identity[k]:
                if k == "sha256":
                    raise CheckpointError(
                        f"{where}: the data set {self.info.name!r} has the same size and classes as in the "
                        f"checkpoint but other content (SHA-256 of its images and labels differs)")
                raise CheckpointError(f"{where}: the data set's {k} was {saved_data[k]!r} in the checkpoint "
                                      f"but is {self.data_identity[k]!r} now")
        load_module_state(self.generator, g_state, "generator")
        load_module_state(self.discriminator, d_state, "discriminator")
        try:
            self.opt_g.load_state_dict(unflatten_optimizer_state("opt_g", tensors, state["optimizers"]["opt_g"]))
            self.opt_d.load_state_dict(unflatten_optimizer_state("opt_d", tensors, state["optimizers"]["opt_d"]))
            torch.set_rng_state(tensors["rng.torch"])
            self.noise_gen.set_state(tensors["rng.noise"])
            if self.device.type == "cuda" and "rng.cuda" in tensors:
                torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)
            np_state = state["numpy_random"]
            np.random.set_state((np_state["kind"], tensors["rng.numpy"].numpy().astype(np.uint32),
                                 int(np_state["pos"]), int(np_state["has_gauss"]),
                                 float(np_state["cached_gaussian"])))
            random.setstate(_random_state_from_json(state["python_random"]))
            fixed_z, fixed_y = tensors["fixed_z"], tensors["fixed_y"]
            if fixed_z.shape != self.fixed_z.shape or fixed_y.shape != self.fixed_y.shape:
                raise ValueError(f"fixed sample noise has shape {tuple(fixed_z.shape)}, expected "
                                 f"{tuple(self.fixed_z.shape)}")
            self.fixed_z, self.fixed_y = fixed_z.to(self.device), fixed_y.to(self.device)
            self.losses.load(tensors["loss_window"])
            step = int(state["step"])
            if step < 0:
                raise ValueError(f"step {step} is negative")
        except (KeyError, ValueError, RuntimeError, TypeError, IndexError) as exc:
            raise CheckpointError(f"checkpoint {str(path)!r} is incomplete or corrupt: {exc}") from None
        self.step = step
        self._last_checkpoint = (step, path)
        if self.dist.is_main:
            self._truncate_metrics()
        self.log(f"cganzoo: resumed {self.run_dir} at step {self.step} (epoch {self.step // len(self.batches)})")

    def _truncate_metrics(self) -> None:
        """Drop ``metrics.jsonl`` records logged after the checkpoint: those steps are trained again."""
        path = self.run_dir / "metrics.jsonl"
        if not path.is_file():
            return
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        kept = []
        for line in lines:
            try:
                record = json.loads(line)
                if int(record["step"]) <= self.step:
                    kept.append(line)
            except (ValueError, KeyError, TypeError):
                pass  # a line cut short by a crash
        if len(kept) != len(lines):
            atomic_write_text(path, "".join(line + "\n" for line in kept))
            self.log(f"cganzoo: metrics.jsonl: dropped {len(lines) - len(kept)} record(s) written after step "
                     f"{self.step}, the checkpoint resumed from")


def _quiet(_: str) -> None:
    pass


def _jsonable_random_state() -> list[Any]:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def _random_state_from_json(value: list[Any]) -> tuple[Any, ...]:
    version, internal, gauss = value
    return (version, tuple(internal), gauss)
