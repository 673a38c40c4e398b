"""The training runner: the only place with optimizers, ``backward()`` and ``step()``.

One loop for every model. Per batch, as the reference MLP CGAN does it:

1. generator step: fresh ``z`` from the latent prior (reference: ``N(0, 1)``,
   see :mod:`cganzoo.latent`) and labels drawn uniformly,
   ``g_loss = loss.generator_loss(D(G(z, y_g), y_g))``;
2. discriminator step on the real batch and the detached fakes,
   ``d_loss = loss.discriminator_loss(D(x, y), D(G(z, y_g).detach(), y_g))``.

Optimizers come from :mod:`cganzoo.optim` (reference: Adam, lr 2e-4, betas
(0.5, 0.999), for both). With ``eval_interval`` or ``eval_at_end`` the run is
evaluated (:mod:`cganzoo.evaluation`) and the results appended to
``metrics.jsonl``; evaluation runs under a forked RNG, so it never changes the
training trajectory.
"""

from __future__ import annotations

import json
import math
import platform
import random
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import torch

from cganzoo.checkpoint import (
    atomic_write_text,
    flatten_optimizer_state,
    latest_checkpoint,
    load_checkpoint,
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
from cganzoo.config import RunConfig
from cganzoo.data.batches import EpochBatches, resize_images
from cganzoo.errors import CheckpointError, ConfigError, TrainingDivergedError
from cganzoo.interfaces import ConditionalDiscriminator, ConditionalGenerator, DatasetInfo
from cganzoo.latent import sample_latent
from cganzoo.optim import create_optimizers, validate_optimizer
from cganzoo.registry import Registry
from cganzoo.sampling import PER_CLASS, class_grid_inputs, generate, save_grid

#: Fields that define what is trained; resuming with any of them changed is an error.
IDENTITY_FIELDS = ("dataset", "conditioner", "generator", "discriminator", "loss", "latent_dim", "img_size",
                   "batch_size", "lr", "b1", "b2", "seed", "drop_last", "optimizer", "latent_distribution")


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> CUDA if available, else CPU.

    Raises:
        ConfigError: CUDA was asked for but is not available.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
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
    for kind, spec in (("dataset", config.dataset), ("conditioner", config.conditioner),
                       ("generator", config.generator), ("discriminator", config.discriminator),
                       ("loss", config.loss)):
        reg.validate_params(kind, spec.name, spec.params)
    validate_optimizer(config.optimizer.name, config.optimizer.params)


def build_models(config: RunConfig, info: DatasetInfo, registry: Registry | None = None
                 ) -> tuple[ConditionalGenerator, ConditionalDiscriminator]:
    """Build ``G`` and ``D`` from a config, each with its own conditioner.

    Weights are initialised from ``torch.manual_seed(config.seed)``.

    Raises:
        UnknownComponentError, ConfigError, IncompatibleError: a component is
            unknown, its params are invalid, or the combination cannot work.
    """
    img_shape = (info.shape[0], config.img_size, config.img_size)
    torch.manual_seed(config.seed)
    g_cond = create_conditioner(config.conditioner.name, config.conditioner.params, info=info, registry=registry)
    d_cond = create_conditioner(config.conditioner.name, config.conditioner.params, info=info, registry=registry)
    generator = create_generator(config.generator.name, config.generator.params, conditioner=g_cond,
                                 latent_dim=config.latent_dim, img_shape=img_shape, registry=registry)
    discriminator = create_discriminator(config.discriminator.name, config.discriminator.params,
                                         conditioner=d_cond, img_shape=img_shape, registry=registry)
    return generator, discriminator


def default_run_dir(config: RunConfig) -> Path:
    """``runs/<model>-<dataset>-<UTC time>``."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    name = config.model or f"{config.generator.name}-{config.conditioner.name}"
    return Path("runs") / f"{name}-{config.dataset.name}-{stamp}"


class Trainer:
    """Trains one conditional GAN described by a :class:`RunConfig`.

    Args:
        config: The run configuration.
        run_dir: Where outputs go: ``config.json``, ``metrics.jsonl``,
            ``samples/step_<N>.png``, ``checkpoints/``.
        resume: Continue from the run directory's latest checkpoint.
        registry: Component registry (default: installed plugins).
        progress: Show a tqdm progress bar.
        log: Receives one-line status messages.

    Raises:
        ConfigError: the run directory already holds a run (without ``resume``),
            or cannot be written; or the config is invalid for the data.
        CheckpointError: ``resume`` and the checkpoint is missing, corrupt or
            belongs to a different configuration (the message names the field).
    """

    def __init__(self, config: RunConfig, run_dir: Path, *, resume: bool = False, registry: Registry | None = None,
                 progress: bool = True, log: Callable[[str], None] = print) -> None:
        self.config, self.run_dir, self.registry = config, Path(run_dir), registry
        self.progress, self.log, self.resume = progress, log, resume
        validate_components(config, registry)
        self.device = resolve_device(config.device)
        self._prepare_run_dir()

        data = create_dataset(config.dataset.name, config.dataset.params, data_dir=config.data_dir, log=log,
                              registry=registry)
        self.info = data.info
        self.data = data  # the test split is what evaluation compares with
        images = resize_images(data.images, config.img_size)
        self.batches = EpochBatches(images, data.labels, config.batch_size, config.seed,
                                    drop_last=config.drop_last, device=self.device)
        if len(self.batches) == 0:
            raise ConfigError(f"batch_size {config.batch_size} leaves no full batch in {data.images.shape[0]} images")

        self.generator, self.discriminator = build_models(config, self.info, registry)
        self.generator.to(self.device)
        self.discriminator.to(self.device)
        self.loss = create_loss(config.loss.name, config.loss.params, registry=registry)
        self.optimizers = create_optimizers(config, self.generator, self.discriminator)
        self.opt_g, self.opt_d = self.optimizers.generator, self.optimizers.discriminator

        self.noise_gen = torch.Generator(device=self.device).manual_seed((config.seed + 0x9E3779B9) % 2**63)
        rows = min(self.info.num_classes, 20)
        self.fixed_z, self.fixed_y = class_grid_inputs(rows, config.latent_dim, config.seed, device=self.device,
                                                       distribution=config.latent_distribution)
        self.step = 0
        total = len(self.batches) * config.epochs
        self.total_steps = min(total, config.max_steps) if config.max_steps else total
        if resume:
            self._load_latest()
        else:
            self._write_config()

    # -- run directory -------------------------------------------------------------------------

    def _prepare_run_dir(self) -> None:
        if self.resume:
            if not (self.run_dir / "config.json").is_file():
                raise CheckpointError(f"cannot resume: {str(self.run_dir)!r} has no config.json (not a cganzoo run?)")
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

    def _write_config(self) -> None:
        record = {
            "config": self.config.to_json_dict(),
            "seed": self.config.seed,
            "device": str(self.device),
            "dataset": {"name": self.info.name, "num_classes": self.info.num_classes,
                        "class_names": list(self.info.class_names), "shape": list(self.info.shape),
                        "train_size": int(self.batches.images.shape[0])},
            "img_shape": [self.info.shape[0], self.config.img_size, self.config.img_size],
            "parameters": {"generator": count_parameters(self.generator),
                           "discriminator": count_parameters(self.discriminator)},
            "steps_per_epoch": len(self.batches),
            "versions": package_versions(),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": sys.argv,
        }
        atomic_write_text(self.run_dir / "config.json", json.dumps(record, indent=2) + "\n")

    # -- the training step ---------------------------------------------------------------------

    def train_step(self, real: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One generator update then one discriminator update.

        Args:
            real: float ``(B, C, H, W)`` in ``[-1, 1]`` on the training device.
            labels: int64 ``(B,)``.

        Returns:
            ``(d_loss, g_loss)`` as detached 0-dim tensors on the device (no host sync).
        """
        G, D, loss = self.generator, self.discriminator, self.loss
        batch = real.shape[0]
        z = sample_latent(batch, self.config.latent_dim, self.config.latent_distribution, generator=self.noise_gen,
                          device=self.device)
        gen_labels = torch.randint(0, self.info.num_classes, (batch,), generator=self.noise_gen, device=self.device)

        self.optimizers.before_step(self.step)

        # Generator step. D's parameters are frozen for it: their gradients would be
        # discarded by the D step's zero_grad anyway, so this changes no arithmetic.
        D.requires_grad_(False)
        self.opt_g.zero_grad(set_to_none=True)
        fake = G(z, gen_labels)
        g_loss = loss.generator_loss(D(fake, gen_labels))
        g_loss.backward()
        self.opt_g.step()
        D.requires_grad_(True)

        # Discriminator step: real first, then the detached fakes (the reference's order,
        # which fixes the order of dropout's random draws).
        self.opt_d.zero_grad(set_to_none=True)
        d_loss = loss.discriminator_loss(D(real, labels), D(fake.detach(), gen_labels))
        d_loss.backward()
        self.opt_d.step()
        return d_loss.detach(), g_loss.detach()

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> Path:
        """Train until ``epochs`` or ``max_steps``; returns the run directory."""
        from tqdm.auto import tqdm

        cfg, per_epoch = self.config, len(self.batches)
        self.generator.train()
        self.discriminator.train()
        bar = tqdm(total=self.total_steps, initial=self.step, disable=not self.progress, unit="step",
                   dynamic_ncols=True, desc=cfg.model or "train")
        d_sum = torch.zeros((), device=self.device)
        g_sum = torch.zeros((), device=self.device)
        window_steps, window_start, run_start = 0, time.perf_counter(), time.perf_counter()
        images_per_s = 0.0
        try:
            while self.step < self.total_steps:
                epoch, start = divmod(self.step, per_epoch)
                for real, labels in self.batches.epoch(epoch, start):
                    d_loss, g_loss = self.train_step(real, labels)
                    d_sum += d_loss
                    g_sum += g_loss
                    self.step += 1
                    window_steps += 1
                    bar.update(1)
                    end_of_epoch = self.step % per_epoch == 0
                    finished = self.step >= self.total_steps
                    if self.step % cfg.log_interval == 0 or finished:
                        d_mean, g_mean = (d_sum / window_steps).item(), (g_sum / window_steps).item()
                        self._check_finite(d_mean, g_mean)
                        now = time.perf_counter()
                        images_per_s = window_steps * cfg.batch_size / max(now - window_start, 1e-9)
                        self._log_metrics({"epoch": (self.step - 1) // per_epoch,
                                           "step": self.step, "d_loss": d_mean, "g_loss": g_mean,
                                           "images_per_s": round(images_per_s, 1),
                                           "elapsed_s": round(now - run_start, 3)})
                        bar.set_postfix(d_loss=f"{d_mean:.4f}", g_loss=f"{g_mean:.4f}", img_s=f"{images_per_s:.0f}")
                        d_sum.zero_()
                        g_sum.zero_()
                        window_steps, window_start = 0, time.perf_counter()
                    io_start = time.perf_counter()
                    if self.step % cfg.sample_interval == 0 or finished:
                        self.save_samples()
                    if self.step % cfg.checkpoint_interval == 0 or end_of_epoch or finished:
                        if window_steps:  # never checkpoint weights that may already be poisoned
                            self._check_finite((d_sum / window_steps).item(), (g_sum / window_steps).item())
                        self.save_checkpoint()
                    if (cfg.eval_interval and self.step % cfg.eval_interval == 0) or (
                            finished and (cfg.eval_at_end or cfg.eval_interval)):
                        self.evaluate()
                    # images/s measures training only: time spent writing outputs is left out.
                    window_start += time.perf_counter() - io_start
                    if finished:
                        break
        finally:
            bar.close()
        elapsed = time.perf_counter() - run_start
        self.log(f"cganzoo: trained to step {self.step} in {elapsed:.1f} s; outputs in {self.run_dir}")
        return self.run_dir

    def _check_finite(self, d_loss: float, g_loss: float) -> None:
        for name, value in (("discriminator", d_loss), ("generator", g_loss)):
            if not math.isfinite(value):
                raise TrainingDivergedError(
                    f"{name} loss became {value} by step {self.step}; the last good checkpoint in "
                    f"{self.run_dir / 'checkpoints'} was kept. Try a lower --lr or another --loss."
                )

    def _log_metrics(self, record: dict[str, Any]) -> None:
        with open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

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

    def save_samples(self) -> Path:
        """Write ``samples/step_<N>.png``: row ``i`` is class ``i``, fixed noise, G in eval mode."""
        images = generate(self.generator, self.fixed_z, self.fixed_y)
        return save_grid(images, self.run_dir / "samples" / f"step_{self.step}.png", nrow=PER_CLASS)

    # -- checkpoints ---------------------------------------------------------------------------

    def save_checkpoint(self) -> Path:
        """Write a checkpoint of everything resume needs (weights, optimizers, RNGs, position)."""
        g_tensors, g_meta = flatten_optimizer_state("opt_g", self.opt_g.state_dict())
        d_tensors, d_meta = flatten_optimizer_state("opt_d", self.opt_d.state_dict())
        tensors = {**g_tensors, **d_tensors,
                   "rng.torch": torch.get_rng_state(),
                   "rng.noise": self.noise_gen.get_state(),
                   "fixed_z": self.fixed_z, "fixed_y": self.fixed_y}
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        state = {"step": self.step, "epoch": self.step // len(self.batches),
                 "batch_in_epoch": self.step % len(self.batches),
                 "optimizers": {"opt_g": g_meta, "opt_d": d_meta},
                 "python_random": _jsonable_random_state(),
                 "identity": {k: self.config.to_json_dict()[k] for k in IDENTITY_FIELDS}}
        return save_checkpoint(self.run_dir, f"step_{self.step:09d}", generator=self.generator,
                               discriminator=self.discriminator, training_tensors=tensors, state=state,
                               keep=self.config.keep_checkpoints)

    def _load_latest(self) -> None:
        path = latest_checkpoint(self.run_dir)
        g_state, d_state, tensors, state = load_checkpoint(path)
        saved = state.get("identity", {})
        now = {k: self.config.to_json_dict()[k] for k in IDENTITY_FIELDS}
        diff = [k for k in IDENTITY_FIELDS if k in saved and saved[k] != now[k]]
        if diff:
            k = diff[0]
            raise CheckpointError(
                f"cannot resume {str(self.run_dir)!r}: {k} was {saved[k]!r} in the checkpoint but is {now[k]!r} now"
            )
        load_module_state(self.generator, g_state, "generator")
        load_module_state(self.discriminator, d_state, "discriminator")
        try:
            self.opt_g.load_state_dict(unflatten_optimizer_state("opt_g", tensors, state["optimizers"]["opt_g"]))
            self.opt_d.load_state_dict(unflatten_optimizer_state("opt_d", tensors, state["optimizers"]["opt_d"]))
            torch.set_rng_state(tensors["rng.torch"])
            self.noise_gen.set_state(tensors["rng.noise"])
            if self.device.type == "cuda" and "rng.cuda" in tensors:
                torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)
            self.fixed_z = tensors["fixed_z"].to(self.device)
            self.fixed_y = tensors["fixed_y"].to(self.device)
            random.setstate(_random_state_from_json(state["python_random"]))
            self.step = int(state["step"])
        except (KeyError, ValueError, RuntimeError, TypeError) as exc:
            raise CheckpointError(f"checkpoint {str(path)!r} is incomplete or corrupt: {exc}") from None
        self.log(f"cganzoo: resumed {self.run_dir} at step {self.step} (epoch {self.step // len(self.batches)})")


def _jsonable_random_state() -> list[Any]:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def _random_state_from_json(value: list[Any]) -> tuple[Any, ...]:
    version, internal, gauss = value
    return (version, tuple(internal), gauss)
