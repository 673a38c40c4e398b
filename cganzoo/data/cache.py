"""One on-disk cache format for every data set: a checksummed safetensors file, written atomically.

A cache entry is a directory holding two files:

``tensors.safetensors``
    Named tensors of any shape and dtype (for image data sets: uint8
    ``train_images (N, C, H, W)``, int64 ``train_labels (N,)``, and the same for
    ``test``), so no image size or channel count is baked into the format.
``record.json``
    ``{"format", "version", "key", "sha256", "meta"}``: the sha256 of the
    tensors file, the key the entry was built for (what the data set's loader
    expects, e.g. its official checksums or its source files' sizes and times)
    and free metadata (class names, source).

Readers see either no entry or a complete one: an entry is assembled in a
fresh temporary sibling directory and renamed into place. Every read checks
the sha256 first, so a truncated file or a flipped bit is rebuilt from the
sources, never used. Nothing is unpickled.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from cganzoo import errors
from cganzoo.errors import DataError
from cganzoo.io import dumps_json, file_sha256, write_synced

__all__ = ["TensorCache", "default_cache_dir", "one_line"]

_FORMAT = "cganzoo-tensor-cache"
_VERSION = 1
_TENSORS = "tensors.safetensors"
_RECORD = "record.json"
_STALE_TEMP_AGE_S = 3600.0


def default_cache_dir() -> Path:
    """Directory where cganzoo keeps downloaded and decoded data sets.

    Returns:
        ``$CGANZOO_DATA_DIR`` if set and non-empty, else
        ``$XDG_CACHE_HOME/cganzoo/data`` if ``XDG_CACHE_HOME`` is an absolute
        path, else ``~/.cache/cganzoo/data``. The directory may not exist yet.
    """
    override = os.environ.get("CGANZOO_DATA_DIR")
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    # The XDG spec says to ignore relative paths.
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "cganzoo" / "data"


def one_line(err: BaseException) -> str:
    """An exception as one line of at most 300 characters (:func:`cganzoo.errors.describe`), for data sources' logs."""
    return errors.describe(err, limit=300, sep=" ")


class TensorCache:
    """A cache entry at ``path`` for the data set ``name``, built for ``key``.

    Args:
        path: The entry's directory (e.g. ``<cache root>/mnist/v2``).
        name: Data set name, the prefix of every logged line.
        key: JSON-serialisable description of what the entry must hold; an
            entry recorded for another key is rebuilt.
    """

    def __init__(self, path: Path, name: str, key: Any) -> None:
        self.path, self.name, self.key = Path(path), name, json.loads(json.dumps(key))

    def read(self, log: Callable[[str], None],
             verify: Callable[[dict[str, torch.Tensor], dict[str, Any]], None] | None = None
             ) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
        """The cached tensors and metadata, or None (logged when an entry existed) to rebuild.

        Args:
            log: Receives one line when an existing entry is unusable.
            verify: Optional data-set check of the loaded tensors and metadata
                (e.g. official checksums); raises :class:`DataError` to reject.

        Returns:
            ``(tensors, meta)``: CPU tensors by name and the recorded metadata.
        """
        path = self.path
        if not path.exists():
            return None
        from safetensors.torch import load_file

        try:
            record = json.loads((path / _RECORD).read_text(encoding="utf-8"))
            if not isinstance(record, dict) or record.get("format") != _FORMAT:
                raise ValueError(f"{_RECORD} is not a {_FORMAT} record")
            if record.get("version") != _VERSION:
                raise ValueError(f"{_RECORD} has version {record.get('version')!r}, this cganzoo reads {_VERSION}")
            digest = file_sha256(path / _TENSORS)
        except Exception as err:  # any damage (missing file, bad JSON) means: rebuild
            log(f"{self.name}: cache at {path} is unreadable ({one_line(err)}); rebuilding from sources")
            return None
        if record.get("key") != self.key or digest != record.get("sha256"):
            log(f"{self.name}: cache at {path} failed its checksum; rebuilding from sources")
            return None
        try:
            tensors = load_file(path / _TENSORS, device="cpu")
            meta = record.get("meta") or {}
        except Exception as err:
            log(f"{self.name}: cache at {path} is unreadable ({one_line(err)}); rebuilding from sources")
            return None
        if verify is not None:
            try:
                verify(tensors, meta)
            except DataError:
                log(f"{self.name}: cache at {path} failed its checksum; rebuilding from sources")
                return None
        return tensors, meta

    def write(self, tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any], log: Callable[[str], None]) -> None:
        """Store verified tensors atomically; a failure is logged, never raised.

        The data is verified already, so a cache that cannot be written (a
        full disk, a read-only directory) only costs time on the next load.
        """
        from safetensors import torch as safetensors_torch

        path = self.path
        parent = path.parent
        temp = stale = None
        try:
            parent.mkdir(parents=True, exist_ok=True)
            _remove_abandoned_temps(parent, path.name)
            temp = _new_directory(parent, f".{path.name}.tmp-")
            contiguous = {name: t.detach().contiguous().cpu() for name, t in tensors.items()}
            # Written through cganzoo.io, not safetensors' save_file (which creates 0600 files): the
            # cache gets the umask's mode, so a teammate sharing it can read it.
            write_synced(temp / _TENSORS, safetensors_torch.save(contiguous))
            record = {"format": _FORMAT, "version": _VERSION, "key": self.key,
                      "sha256": file_sha256(temp / _TENSORS), "meta": dict(meta)}
            write_synced(temp / _RECORD, (dumps_json(record, indent=2) + "\n").encode("utf-8"))
            if path.exists():  # a damaged entry: move it aside, since rename cannot replace a non-empty directory
                stale = _new_directory(parent, f".{path.name}.stale-")
                os.replace(path, stale / path.name)
            try:
                os.replace(temp, path)
            except OSError:
                if not (path / _RECORD).exists():
                    raise
                # Another process finished its own (equally verified) entry first.
            else:
                temp = None
                log(f"{self.name}: cached at {path}")
        except Exception as err:
            log(f"{self.name}: could not write cache at {path} ({one_line(err)}); continuing without it")
        finally:
            for leftover in (temp, stale):
                if leftover is not None:
                    shutil.rmtree(leftover, ignore_errors=True)


def _new_directory(parent: Path, prefix: str) -> Path:
    """Create and return an empty directory ``parent/<prefix><random>``."""
    # Unlike tempfile.mkdtemp (mode 0700), mkdir honours the umask, so a shared cache stays readable.
    while True:
        candidate = parent / f"{prefix}{secrets.token_hex(4)}"
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate


def _remove_abandoned_temps(parent: Path, name: str) -> None:
    """Delete temporary directories left by writers that died over an hour ago."""
    cutoff = time.time() - _STALE_TEMP_AGE_S
    for prefix in (f".{name}.tmp-", f".{name}.stale-"):
        for candidate in parent.glob(f"{prefix}*"):
            try:
                if candidate.stat().st_mtime < cutoff:
                    shutil.rmtree(candidate, ignore_errors=True)
            except OSError:
                continue
