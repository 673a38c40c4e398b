"""Checkpoints: tensors in safetensors, everything else in JSON, written atomically.

Layout of ``run_dir/checkpoints/``::

    step_0001000/
        generator.safetensors       G's parameters and buffers (conditioner included)
        discriminator.safetensors   D's parameters and buffers
        training.safetensors        optimizer moments, RNG states, fixed sample noise
        state.json                  step, epoch, position, optimizer hyper-parameters
    latest                          name of the newest complete checkpoint

A checkpoint directory is assembled under a temporary name, every file is
fsync'ed, and only then renamed into place and named in ``latest`` (itself
replaced atomically). A process killed at any moment leaves the previous
checkpoint loadable. Loading never unpickles: safetensors and JSON only.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from cganzoo.errors import CheckpointError

FORMAT = "cganzoo-checkpoint"
VERSION = 1
_FILES = ("generator.safetensors", "discriminator.safetensors", "training.safetensors", "state.json")


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a mix."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_path(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def flatten_optimizer_state(prefix: str, state_dict: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer ``state_dict`` into tensors (for safetensors) and JSON.

    Returns:
        ``({f"{prefix}.{param_index}.{key}": tensor}, {"param_groups": ..., "scalars": ...})``.
    """
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entry in state_dict["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.{index}.{key}"] = value.detach().contiguous().cpu()
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def unflatten_optimizer_state(prefix: str, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`flatten_optimizer_state`."""
    state: dict[int, dict[str, Any]] = {}
    head = prefix + "."
    for name, value in tensors.items():
        if name.startswith(head):
            index, key = name[len(head):].split(".", 1)
            state.setdefault(int(index), {})[key] = value
    for index, entry in meta.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(entry)
    return {"state": state, "param_groups": meta["param_groups"]}


def _module_tensors(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}


def save_checkpoint(run_dir: Path, name: str, *, generator: torch.nn.Module, discriminator: torch.nn.Module,
                    training_tensors: dict[str, torch.Tensor], state: dict[str, Any], keep: int = 2) -> Path:
    """Write a checkpoint atomically and point ``latest`` at it.

    Args:
        run_dir: The run directory.
        name: Checkpoint directory name, e.g. ``"step_0001000"``.
        generator: ``G``; its ``state_dict`` is saved.
        discriminator: ``D``; its ``state_dict`` is saved.
        training_tensors: Optimizer moments, RNG states, sample noise.
        state: JSON-serialisable counters and metadata.
        keep: Keep this many newest checkpoints; older ones are removed after
            the new one is in place.

    Returns:
        The checkpoint directory.

    Raises:
        CheckpointError: the directory cannot be written (disk full, permissions);
            the previous checkpoint is untouched.
    """
    root = Path(run_dir) / "checkpoints"
    final = root / name
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=root))
        try:
            save_file(_module_tensors(generator), tmp / "generator.safetensors")
            save_file(_module_tensors(discriminator), tmp / "discriminator.safetensors")
            save_file({k: v.detach().contiguous().cpu() for k, v in training_tensors.items()},
                      tmp / "training.safetensors")
            (tmp / "state.json").write_text(
                json.dumps({"format": FORMAT, "version": VERSION, **state}, indent=1), encoding="utf-8")
            for file in _FILES:
                _fsync_path(tmp / file)
            if final.exists():
                shutil.rmtree(final)
            os.rename(tmp, final)
            _fsync_path(root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        atomic_write_text(root / "latest", name + "\n")
    except OSError as exc:
        raise CheckpointError(f"could not write checkpoint {str(final)!r}: {exc.strerror or exc}") from exc
    _prune(root, keep, protect=name)
    return final


def _prune(root: Path, keep: int, protect: str) -> None:
    done = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("step_"))
    for old in done[:-keep]:
        if old.name != protect:
            shutil.rmtree(old, ignore_errors=True)


def latest_checkpoint(run_dir: Path) -> Path:
    """The newest complete checkpoint of a run.

    Raises:
        CheckpointError: the run has no checkpoint, or ``latest`` names a missing one.
    """
    root = Path(run_dir) / "checkpoints"
    pointer = root / "latest"
    if not pointer.is_file():
        raise CheckpointError(
            f"no checkpoint in {str(root)!r} (expected a 'latest' file); is {str(run_dir)!r} a cganzoo run directory?"
        )
    name = pointer.read_text(encoding="utf-8").strip()
    if not name or "/" in name or name.startswith("."):
        raise CheckpointError(f"{str(pointer)!r} is corrupt: it names {name!r}")
    path = root / name
    if not path.is_dir():
        raise CheckpointError(f"{str(pointer)!r} names checkpoint {name!r}, which does not exist")
    return path


def load_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint directory.

    Returns:
        ``(generator_state, discriminator_state, training_tensors, state)``, tensors on the CPU.

    Raises:
        CheckpointError: a file is missing, truncated, corrupt, or not a cganzoo checkpoint.
    """
    path = Path(path)
    for file in _FILES:
        if not (path / file).is_file():
            raise CheckpointError(f"checkpoint {str(path)!r} is incomplete: {file} is missing")
    try:
        state = json.loads((path / "state.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"checkpoint {str(path)!r}: state.json is unreadable or corrupt ({exc})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{str(path)!r} is not a cganzoo checkpoint (state.json has no format {FORMAT!r})")
    if state.get("version") != VERSION:
        raise CheckpointError(
            f"checkpoint {str(path)!r} has format version {state.get('version')!r}; this cganzoo reads version {VERSION}"
        )
    tensors = []
    for file in _FILES[:3]:
        try:
            tensors.append(load_file(path / file, device="cpu"))
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"checkpoint file {str(path / file)!r} is corrupt or truncated: {exc}") from None
    return tensors[0], tensors[1], tensors[2], state


def load_module_state(module: torch.nn.Module, tensors: dict[str, torch.Tensor], what: str) -> None:
    """``module.load_state_dict(tensors)`` with an error that names the mismatch.

    Raises:
        CheckpointError: keys or shapes differ (e.g. another architecture or class count).
    """
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = sorted(k for k in set(expected) & set(tensors) if expected[k].shape != tensors[k].shape)
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {missing[:3]}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:3]}")
        if wrong:
            k = wrong[0]
            parts.append(f"shape of {k}: checkpoint {tuple(tensors[k].shape)} vs model {tuple(expected[k].shape)}")
        raise CheckpointError(f"the checkpoint's {what} does not match the configured {what}: " + "; ".join(parts))
    module.load_state_dict(tensors)
