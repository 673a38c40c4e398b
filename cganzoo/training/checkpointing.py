"""Checkpoints of a run: written by the :class:`Checkpointing` callback, read back by :func:`restore_latest`.

A checkpoint (:mod:`cganzoo.runs.checkpoint` for the file format) holds G's and D's
weights, the training state (:meth:`TrainingState.state_dict`: optimizers,
every RNG, the fixed sample noise, the loss window, the step), each callback's
``state_dict`` and a sampling generator's weights (the EMA of G), and records
the run's identity (the config fields that define what is trained and the data
set's checksum) so a resume on anything else is refused with the difference
named. Before writing, the losses since the last log and every weight and
optimizer moment are checked: poisoned weights never replace the last good
checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from cganzoo.errors import CheckpointError, ConfigError, ResumeMismatchError, RunDirectoryError, TrainingDivergedError
from cganzoo.interfaces import Callback
from cganzoo.runs.checkpoint import latest_checkpoint, load_latest_checkpoint, load_module_state, save_checkpoint
from cganzoo.runs.layout import RunDir
from cganzoo.training.build import dataset_differences

#: Fields that define what is trained; resuming with any of them changed is an error.
IDENTITY_FIELDS = ("dataset", "conditioner", "generator_conditioner", "discriminator_conditioner", "generator",
                   "discriminator", "loss", "latent_dim", "img_size", "batch_size", "lr", "b1", "b2", "seed",
                   "drop_last", "optimizer", "latent_distribution", "generator_optimizer",
                   "discriminator_optimizer", "d_steps_per_g_step")
#: What a checkpoint records of its data set; resuming on data that differs in any is an error.
DATASET_IDENTITY = ("name", "num_classes", "class_names", "shape", "train_size", "sha256")
#: Callback state entries stored as tensors live in training.safetensors under this prefix.
_CALLBACK_PREFIX = "callback."


class Checkpointing(Callback):
    """Writes a checkpoint when one is due: every ``checkpoint_interval`` steps, at each epoch end, at the end
    and when a stop signal arrived (rank 0 writes; every callback's ``on_checkpoint`` follows)."""

    state_key = "checkpointing"

    def on_step_end(self, trainer: Any, end: Any) -> None:
        if end.checkpoint and trainer.dist.is_main:
            path = save(trainer)
            trainer.callbacks.on_checkpoint(trainer, path)


def check_identity(saved: Any, now: dict[str, Any], where: str) -> None:
    """Raise :class:`ResumeMismatchError` naming the first field that defines what is trained and changed.

    Component specs and player settings are shown as they would be written in a
    config file; a setting that was not given is ``not set``.
    """
    if not isinstance(saved, dict):
        return
    diff = [k for k in IDENTITY_FIELDS if k in saved and saved[k] != now[k]]
    if diff:
        k = diff[0]
        raise ResumeMismatchError(f"{where}: {k} was {_shown(saved[k])} in the checkpoint but is {_shown(now[k])} now; "
                              f"resume with the run's own {k} (leave the flag out), or start a new run")


def _shown(value: Any) -> str:
    if value is None:
        return "not set"
    if isinstance(value, dict):  # settings left out are not shown
        return repr({k: v for k, v in value.items() if v is not None})
    return repr(value)


def check_resumable(run_dir: Path, config: Any) -> None:
    """Refuse a resume whose settings differ from the run's ``config.json``, before any data is loaded.

    Raises:
        ResumeMismatchError: a field that defines what is trained (model, data set, batch size,
            optimizers, seed...) differs; the message names it.
        CheckpointError: the run has no checkpoint, or ``latest`` names a missing one.
        ConfigError: ``max_steps`` is not beyond the latest checkpoint's step (nothing to
            train). A budget in epochs is checked once the data set's size is known.
    """
    try:
        saved = RunDir(run_dir).read_record()["config"]
    except RunDirectoryError:
        return  # an unreadable config.json is reported by whoever reads it next, with its own message
    # config.json records the same identity as every checkpoint of the run (it may not change on resume).
    check_identity(saved, identity(config), f"cannot resume {str(run_dir)!r}")
    step = RunDir.checkpoint_step(latest_checkpoint(Path(run_dir)).name)
    if step is not None and config.max_steps is not None and step >= config.max_steps:
        raise ConfigError(f"{str(run_dir)!r} is already at step {step} (its latest checkpoint), and --max-steps "
                          f"{config.max_steps} ends there: nothing to train; give a larger --max-steps with --resume")


def identity(config: Any) -> dict[str, Any]:
    data = config.to_json_dict()
    return {k: data[k] for k in IDENTITY_FIELDS}


def save(trainer: Any) -> Path:
    """Write a checkpoint of everything resume needs; returns its directory.

    Raises:
        TrainingDivergedError: a loss since the last log, a weight or an
            optimizer moment is not finite; nothing is written.
        CheckpointError: the checkpoint could not be written; the previous one is kept.
    """
    state = trainer.state
    trainer.recovery.check_losses(state.losses.read(), state.step)
    bad = state.first_non_finite()
    if bad:
        raise TrainingDivergedError(f"{bad} holds NaN or infinite values at step {state.step} (its losses were "
                                    f"still finite); " + trainer.recovery.diverged_tail())
    tensors, meta = state.state_dict()
    callbacks: dict[str, Any] = {}
    for callback in trainer.callbacks:
        values = callback.state_dict()
        if not values:
            continue
        key = callback.state_key or type(callback).__name__
        callbacks[key] = {k: v for k, v in values.items() if not isinstance(v, torch.Tensor)}
        tensors.update({f"{_CALLBACK_PREFIX}{key}.{k}": v for k, v in values.items() if isinstance(v, torch.Tensor)})
    modules, sampling = {}, None
    offered = trainer.callbacks.sampling_generator()
    if offered is not None:
        modules[f"generator_{offered.label}"] = offered.module
        sampling = {"label": offered.label, "file": f"generator_{offered.label}.safetensors",
                    "description": offered.description}
    per_epoch = len(trainer.batches)
    record = {**meta, "epoch": state.step // per_epoch, "batch_in_epoch": state.step % per_epoch,
              "callbacks": callbacks, "sampling": sampling, "identity": identity(trainer.config),
              "dataset": trainer.data_identity}
    path = save_checkpoint(trainer.run_dir, RunDir.checkpoint_name(state.step), generator=state.generator,
                           discriminator=state.discriminator, training_tensors=tensors, state=record,
                           keep=trainer.config.keep_checkpoints, modules=modules)
    trainer.recovery.checkpointed(state.step, path)
    return path


def restore_latest(trainer: Any) -> None:
    """Resume: load the run directory's latest checkpoint into the trainer's state and callbacks.

    Rank 0 reads the files and hands them to every rank (other nodes need no copy).

    Raises:
        CheckpointError: no checkpoint, a corrupt one, or one of another
            configuration or data set (the message names the difference).
    """
    path, loaded = trainer.dist.main_then_share(lambda: load_latest_checkpoint(trainer.run_dir))
    g_state, d_state, tensors, meta = loaded
    where = f"cannot resume {str(trainer.run_dir)!r}"
    saved, now = meta.get("identity", {}), identity(trainer.config)
    check_identity(saved, now, where)
    saved_data = meta.get("dataset", {})
    changed = dataset_differences(saved_data, trainer.data_identity, DATASET_IDENTITY)
    if changed == ["sha256"]:  # the data the flags point at is not the run's: bad input, like a changed field
        raise ResumeMismatchError(
            f"{where}: the data set {trainer.info.name!r} has the same size and classes as in the "
            f"checkpoint but other content (SHA-256 of its images and labels differs)")
    if changed:
        k = changed[0]
        raise ResumeMismatchError(f"{where}: the data set's {k} was {saved_data[k]!r} in the checkpoint "
                              f"but is {trainer.data_identity[k]!r} now")
    state = trainer.state
    load_module_state(state.generator, g_state, "generator")
    load_module_state(state.discriminator, d_state, "discriminator")
    try:
        state.load_state_dict(tensors, meta)
        _restore_callbacks(trainer, tensors, meta, loaded.modules)
    except (KeyError, ValueError, RuntimeError, TypeError, IndexError) as exc:
        raise CheckpointError(f"checkpoint {str(path)!r} is incomplete or corrupt: {exc}") from None
    trainer.recovery.checkpointed(state.step, path)
    if trainer.dist.is_main:
        dropped = RunDir(trainer.run_dir).truncate_metrics(state.step)
        if dropped:
            trainer.log(f"cganzoo: metrics.jsonl: dropped {dropped} record(s) written after step {state.step}, "
                        f"the checkpoint resumed from")
    trainer.log(f"cganzoo: resumed {trainer.run_dir} at step {state.step} "
                f"(epoch {state.step // len(trainer.batches)})")


def _restore_callbacks(trainer: Any, tensors: dict[str, torch.Tensor], meta: dict[str, Any],
                       modules: dict[str, dict[str, torch.Tensor]]) -> None:
    saved = meta.get("callbacks") or {}
    for callback in trainer.callbacks:
        key = callback.state_key or type(callback).__name__
        head = f"{_CALLBACK_PREFIX}{key}."
        values = {**saved.get(key, {}), **{k[len(head):]: v for k, v in tensors.items() if k.startswith(head)}}
        if values:
            callback.load_state_dict(values)
        elif callback.state_dict():
            trainer.log(f"cganzoo: the checkpoint holds no state of callback {key!r} (added on resume?); it starts "
                        f"afresh at step {trainer.state.step}")
    offered = trainer.callbacks.sampling_generator()
    if offered is not None and f"generator_{offered.label}" in modules:
        load_module_state(offered.module, modules[f"generator_{offered.label}"], f"generator ({offered.label})")
