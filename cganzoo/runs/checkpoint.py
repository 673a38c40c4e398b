"""Checkpoints: tensors in safetensors, everything else in JSON, written atomically.

Layout of ``RUN_DIR/checkpoints/`` (the names are :class:`~cganzoo.runs.layout.RunDir`'s)::

    step_000001000/
        generator.safetensors       G's parameters and buffers (conditioner included)
        discriminator.safetensors   D's parameters and buffers
        training.safetensors        optimizer moments, RNG states, fixed sample noise, callbacks' tensors
        generator_<label>.safetensors  optional: a sampling generator's weights (``generator_ema``)
        state.json                  step, epoch, position, optimizer hyper-parameters, callbacks' state
    latest                          name of the newest complete checkpoint

A checkpoint directory is assembled under a temporary name, every file is
fsync'ed, and only then renamed into place and named in ``latest`` (itself
replaced atomically). A process killed at any moment leaves the previous
checkpoint loadable (``tests/test_crash_safety.py`` kills writers with SIGKILL
at every stage of this protocol, and at random moments of a training run).
Temporary leftovers of a killed writer are removed by the next save.

``state.json`` records the SHA-256 of each ``.safetensors`` file, so a file
damaged after it was written (a flipped bit, a truncated copy) is reported
rather than loaded: safetensors itself checks the header, not the data.

Loading never unpickles: safetensors and JSON only, so a malicious checkpoint
cannot run code.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from cganzoo.errors import CheckpointError
from cganzoo.io import atomic_directory, atomic_write_bytes, atomic_write_text, dumps_json, fsync_path, write_synced
from cganzoo.runs.layout import RunDir

__all__ = [
    "atomic_write_bytes",  # re-exported from cganzoo.io for code that imported them from here
    "atomic_write_text",
    "checkpoint_names",
    "flatten_optimizer_state",
    "latest_checkpoint",
    "load_checkpoint",
    "load_latest_checkpoint",
    "load_module_state",
    "save_checkpoint",
    "unflatten_optimizer_state",
]

FORMAT = "cganzoo-checkpoint"
#: Version 2 added the optional sampling-generator files and callback state; version 1 still loads.
VERSION = 2
READABLE_VERSIONS = (1, 2)
_FILES = ("generator.safetensors", "discriminator.safetensors", "training.safetensors", "state.json")
_TENSOR_FILES = _FILES[:3]
#: What a sampling generator's file may be called: ``generator_<label>.safetensors``.
_MODULE_FILE = re.compile(r"generator_[a-z0-9][a-z0-9_-]{0,40}\.safetensors")


@dataclass
class LoadedCheckpoint:
    """A checkpoint read back; unpacks as ``(generator, discriminator, training, state)``.

    Attributes:
        generator: G's ``state_dict`` tensors, on the CPU.
        discriminator: D's ``state_dict`` tensors.
        training: Optimizer moments, RNG states, fixed noise, loss window, callbacks' tensors.
        state: ``state.json``.
        modules: Extra module weights by file stem, e.g. ``{"generator_ema": {...}}``.
    """

    generator: dict[str, torch.Tensor]
    discriminator: dict[str, torch.Tensor]
    training: dict[str, torch.Tensor]
    state: dict[str, Any]
    modules: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.generator, self.discriminator, self.training, self.state))

    def __getitem__(self, index: int) -> Any:
        return (self.generator, self.discriminator, self.training, self.state)[index]


#: What ``latest`` may name: a plain directory name, never a path or a hidden temporary.
_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}")


# The file-writing helpers live in cganzoo.io; these names stay importable from here.
_write_synced = write_synced
_fsync_path = fsync_path


def _safetensors_ready(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Detached, contiguous CPU tensors that safetensors accepts, tied ones included.

    safetensors refuses two entries that share memory (tied weights: one
    ``nn.Parameter`` under two names, or views of one storage), so every entry
    after the first of a shared storage is saved as its own copy. Loading
    copies the values back into the module, whose own tie then holds again.
    """
    out: dict[str, torch.Tensor] = {}
    seen: set[tuple[str, int]] = set()
    for key, value in tensors.items():
        tensor = value.detach().contiguous().cpu()
        storage = tensor.untyped_storage()
        ident = (str(tensor.device), storage.data_ptr())
        if storage.nbytes() and ident in seen:
            tensor = tensor.clone()
        elif storage.nbytes():
            seen.add(ident)
        if tensor.numel() and tensor.untyped_storage().nbytes() != tensor.numel() * tensor.element_size():
            tensor = tensor.clone()  # a view into a larger storage (a slice of another weight)
        out[key] = tensor
    return out


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
    return _safetensors_ready(module.state_dict())


def save_checkpoint(run_dir: Path, name: str, *, generator: torch.nn.Module, discriminator: torch.nn.Module,
                    training_tensors: dict[str, torch.Tensor], state: dict[str, Any], keep: int = 2,
                    modules: dict[str, torch.nn.Module] | None = None) -> Path:
    """Write a checkpoint atomically and point ``latest`` at it.

    Args:
        run_dir: The run directory.
        name: Checkpoint directory name: :meth:`RunDir.checkpoint_name` of the step, e.g. ``"step_000001000"``.
        generator: ``G``; its ``state_dict`` is saved.
        discriminator: ``D``; its ``state_dict`` is saved.
        training_tensors: Optimizer moments, RNG states, sample noise.
        state: JSON-serialisable counters and metadata.
        keep: Keep this many newest checkpoints; older ones are removed after
            the new one is in place.
        modules: Extra modules saved as ``<key>.safetensors``; each key matches
            ``generator_<label>`` (a sampling generator such as ``generator_ema``).

    Returns:
        The checkpoint directory. If ``latest`` already names ``name`` (a run
        resumed at a step and stopped at that very step), that checkpoint is
        kept as it is: replacing it in place could not be atomic.

    Raises:
        CheckpointError: the directory cannot be written (disk full, permissions);
            the previous checkpoint is untouched.
    """
    run = RunDir(run_dir)
    root = run.checkpoints_dir
    final = root / name
    try:
        root.mkdir(parents=True, exist_ok=True)
        if final.is_dir() and _read_latest_name(run) == name:
            return final
        _remove_leftovers(root)
        with atomic_directory(final) as tmp:  # replaces a stale copy that `latest` does not name (checked above)
            digests = {}
            files = [("generator.safetensors", _module_tensors(generator)),
                     ("discriminator.safetensors", _module_tensors(discriminator)),
                     ("training.safetensors", _safetensors_ready(training_tensors))]
            for key, module in (modules or {}).items():
                if not _MODULE_FILE.fullmatch(key + ".safetensors"):
                    raise ValueError(f"extra checkpoint module {key!r} is not named generator_<label>")
                files.append((key + ".safetensors", _module_tensors(module)))
            for file, tensors in files:
                data = save_safetensors(tensors)
                digests[file] = hashlib.sha256(data).hexdigest()
                _write_synced(tmp / file, data)
            record = {"format": FORMAT, "version": VERSION, "sha256": digests, **state}
            _write_synced(tmp / "state.json", dumps_json(record, indent=1).encode("utf-8"))
        atomic_write_text(run.latest_pointer, name + "\n")
    except OSError as exc:
        raise CheckpointError(
            f"could not write checkpoint {str(final)!r}: {exc.strerror or exc}; the previous checkpoint is kept"
        ) from exc
    _prune(run, keep, protect=name)
    return final


def _read_latest_name(run: RunDir) -> str | None:
    try:
        return run.latest_pointer.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _prune(run: RunDir, keep: int, protect: str) -> None:
    """Keep the ``keep`` newest checkpoints up to ``protect`` (the one just written).

    Newer-named ones (left by a run resumed from an older checkpoint) are not
    counted: they are replaced when training reaches their step again.
    """
    done = [name for name in run.checkpoint_names() if name <= protect]
    for old in done[:-keep]:
        if old != protect:
            shutil.rmtree(run.checkpoints_dir / old, ignore_errors=True)


def _remove_leftovers(root: Path) -> None:
    """Remove temporaries a killed writer left (``.step_*.tmp`` directories, ``.latest.*.tmp`` files).

    Only one process writes a run's checkpoints, so every temporary present
    before a save starts is abandoned.
    """
    for path in root.iterdir():
        if path.name.startswith(".") and path.name.endswith(".tmp"):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def latest_checkpoint(run_dir: Path) -> Path:
    """The newest complete checkpoint of a run.

    Raises:
        CheckpointError: the run has no checkpoint, or ``latest`` names a missing one.
    """
    run = RunDir(run_dir)
    root, pointer = run.checkpoints_dir, run.latest_pointer
    if not pointer.is_file() and run.config_file.is_file():
        raise CheckpointError(
            f"run {str(run_dir)!r} has no checkpoint yet: it stopped before writing its first one (they are written "
            f"every --checkpoint-interval steps and at each epoch end); start it again with the same --out, "
            f"without --resume"
        )
    if not pointer.is_file():
        raise CheckpointError(
            f"no checkpoint in {str(root)!r} (expected a 'latest' file); is {str(run_dir)!r} a cganzoo run directory?"
        )
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{str(pointer)!r} is unreadable or corrupt: {exc}") from None
    if not _SAFE_NAME.fullmatch(name):
        raise CheckpointError(f"{str(pointer)!r} is corrupt: it names {name[:80]!r}, not a checkpoint directory")
    path = root / name
    if not path.is_dir():
        raise CheckpointError(f"{str(pointer)!r} names checkpoint {name!r}, which does not exist")
    return path


def checkpoint_names(run_dir: Path) -> list[str]:
    """Names of the checkpoint directories of a run, oldest first (:meth:`RunDir.checkpoint_names`)."""
    return RunDir(run_dir).checkpoint_names()


def load_checkpoint(path: Path) -> LoadedCheckpoint:
    """Read a checkpoint directory, verifying each tensor file's SHA-256.

    Returns:
        A :class:`LoadedCheckpoint`, which unpacks as ``(generator_state,
        discriminator_state, training_tensors, state)``; tensors on the CPU.

    Raises:
        CheckpointError: a file is missing, truncated, corrupt, fails its
            checksum, or is not a cganzoo checkpoint.
    """
    path = Path(path)
    for file in _FILES:
        if not (path / file).is_file():
            raise CheckpointError(f"checkpoint {str(path)!r} is incomplete: {file} is missing")
    try:
        state = json.loads((path / "state.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(f"checkpoint {str(path)!r}: state.json is unreadable or corrupt ({exc})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{str(path)!r} is not a cganzoo checkpoint (state.json has no format {FORMAT!r})")
    if state.get("version") not in READABLE_VERSIONS:
        raise CheckpointError(
            f"checkpoint {str(path)!r} has format version {state.get('version')!r}; this cganzoo reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))} (a checkpoint from a newer cganzoo? upgrade: pip install -U cganzoo)"
        )
    digests = state.get("sha256")
    if not isinstance(digests, dict):
        raise CheckpointError(f"checkpoint {str(path)!r}: state.json records no sha256 checksums")
    tensors = []
    extra = sorted(f for f in digests if isinstance(f, str) and _MODULE_FILE.fullmatch(f))
    for file in (*_TENSOR_FILES, *extra):
        try:
            data = (path / file).read_bytes()
        except OSError as exc:
            raise CheckpointError(f"checkpoint file {str(path / file)!r} is unreadable: {exc.strerror or exc}") from None
        if hashlib.sha256(data).hexdigest() != digests.get(file):
            raise CheckpointError(
                f"checkpoint file {str(path / file)!r} is corrupt or truncated: its SHA-256 differs from the one "
                f"recorded in state.json when it was written"
            )
        try:
            tensors.append(load_safetensors(data))
        except (SafetensorError, ValueError) as exc:
            raise CheckpointError(f"checkpoint file {str(path / file)!r} is corrupt or truncated: {exc}") from None
    modules = {file.removesuffix(".safetensors"): t for file, t in zip(extra, tensors[3:])}
    return LoadedCheckpoint(tensors[0], tensors[1], tensors[2], state, modules)


def load_latest_checkpoint(run_dir: Path) -> tuple[Path, LoadedCheckpoint]:
    """:func:`latest_checkpoint` then :func:`load_checkpoint`.

    Returns:
        The checkpoint directory and what :func:`load_checkpoint` returns.

    Raises:
        CheckpointError: as those two; if an older checkpoint exists, the
            message says how to fall back to it (never done silently).
    """
    try:
        path = latest_checkpoint(run_dir)
        return path, load_checkpoint(path)
    except CheckpointError as exc:
        run = RunDir(run_dir)
        current = _read_latest_name(run)
        older = [n for n in run.checkpoint_names() if n != current and (current is None or n < current)]
        if not older:
            raise
        pointer = run.latest_pointer
        raise CheckpointError(
            f"{exc}. Another checkpoint, {older[-1]}, exists: to continue from it, run "
            f"`echo {older[-1]} > {pointer}` (steps after it are trained again)"
        ) from None


def load_module_state(module: torch.nn.Module, tensors: dict[str, torch.Tensor], what: str) -> None:
    """``module.load_state_dict(tensors)`` with an error that names the mismatch.

    Raises:
        CheckpointError: keys, shapes or dtypes differ (e.g. another architecture or class count).
    """
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = sorted(k for k in set(expected) & set(tensors) if expected[k].shape != tensors[k].shape)
    dtypes = sorted(k for k in set(expected) & set(tensors) if expected[k].dtype != tensors[k].dtype)
    if missing or unexpected or wrong or dtypes:
        parts = []
        if missing:
            parts.append(f"missing {missing[:3]}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:3]}")
        if wrong:
            k = wrong[0]
            parts.append(f"shape of {k}: checkpoint {tuple(tensors[k].shape)} vs model {tuple(expected[k].shape)}")
        if dtypes and not wrong:
            k = dtypes[0]
            parts.append(f"dtype of {k}: checkpoint {tensors[k].dtype} vs model {expected[k].dtype}")
        raise CheckpointError(f"the checkpoint's {what} does not match the configured {what}: " + "; ".join(parts))
    module.load_state_dict(tensors)
