"""Every file and directory cganzoo writes: atomic writes, strict JSON and one file-mode rule.

The rule, for everything cganzoo creates (run directories, checkpoints, data and
judge caches, evaluation reports, benchmark tables and plots, sample grids):

* directories get ``0o777`` and files ``0o666``, minus the process umask, as
  ``mkdir`` and ``open`` give them; under the usual umask 022 that is 0755 and
  0644, so a teammate who can read ``config.json`` can read the weights too.
  :mod:`tempfile` creates 0700 directories and 0600 files, so nothing here
  uses it for anything that stays.
* a file appears whole or not at all: it is written under a hidden temporary
  name in the same directory, fsync'ed, then renamed over the target
  (:func:`atomic_write_bytes`); a directory of files (a checkpoint, a cache
  entry) is assembled the same way and renamed into place
  (:func:`atomic_directory`).
* JSON is strict (RFC 8259): ``NaN`` and infinities are not JSON, so
  :func:`dumps_json` writes them as ``null``. The code that produces a value
  knows why it is undefined and says so in a note next to it (see
  :class:`cganzoo.evaluation.MetricResult`); this module only guarantees that
  every file and stream parses.

This is a bottom layer: it imports nothing from cganzoo but :mod:`cganzoo.errors`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import secrets
import shutil
from pathlib import Path
from typing import Any, Iterator

from cganzoo.errors import ConfigError

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "append_line",
    "atomic_directory",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "check_output_dir",
    "check_output_file",
    "dir_mode",
    "dumps_json",
    "file_mode",
    "fsync_path",
    "json_safe",
    "make_dirs",
    "new_directory",
    "umask",
    "write_synced",
]

#: Mode asked for when creating a directory, before the umask (``mkdir``'s default).
DIR_MODE = 0o777
#: Mode asked for when creating a file, before the umask (``open``'s default).
FILE_MODE = 0o666


def umask() -> int:
    """The process umask, read without changing it where the kernel allows (Linux >= 4.7).

    Elsewhere it is read by setting and restoring it, which another thread
    creating a file at that very moment could observe.
    """
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Mode of a file cganzoo creates: ``0o666`` minus the umask (0644 under umask 022)."""
    return FILE_MODE & ~umask()


def dir_mode() -> int:
    """Mode of a directory cganzoo creates: ``0o777`` minus the umask (0755 under umask 022)."""
    return DIR_MODE & ~umask()


def make_dirs(path: str | Path) -> Path:
    """``mkdir -p``: create ``path`` and missing parents with :func:`dir_mode`; existing ones are left alone."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def fsync_path(path: str | Path) -> None:
    """fsync a file or directory by path (a directory's fsync makes a rename inside it durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_synced(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a new file (mode :func:`file_mode`) and fsync it.

    Not atomic by itself: for files inside a directory that
    :func:`atomic_directory` renames into place.
    """
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _temporary_name(path: Path) -> Path:
    return path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"


def probe_writable(directory: str | Path) -> None:
    """Create and remove a hidden file in ``directory``: the one sure test that files can be created there.

    Raises:
        OSError: they cannot (permissions, a read-only file system, a full disk).
    """
    probe = Path(directory) / f".cganzoo-write-test.{secrets.token_hex(8)}.tmp"  # a name no one else uses
    probe.write_bytes(b"")
    probe.unlink()


def file_sha256(path: str | Path, block: int = 1 << 22) -> str:
    """SHA-256 of a file's bytes, read in blocks of ``block`` bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(block), b""):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a mix.

    The new file gets :func:`file_mode`, whatever mode an older file had.

    Raises:
        OSError: the directory is missing or not writable, the disk is full;
            the old file, if any, is untouched and no temporary is left.
    """
    path = Path(path)
    while True:
        tmp = _temporary_name(path)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)  # the umask applies
        except FileExistsError:
            continue
        break
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_path(path.parent)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, +-inf) replaced by ``None``, recursively.

    Dicts, lists and tuples are rebuilt (tuples become lists, as JSON has them);
    anything else is returned as it is.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def dumps_json(value: Any, *, indent: int | None = None, **kwargs: Any) -> str:
    """Strict JSON text of ``value``: non-finite floats become ``null`` (see :func:`json_safe`).

    Every JSON cganzoo writes or prints goes through here, so ``json.loads``
    with a strict parser (or any other language's) reads it.
    """
    return json.dumps(json_safe(value), indent=indent, allow_nan=False, **kwargs)


def atomic_write_json(path: str | Path, value: Any, *, indent: int | None = 2) -> Path:
    """:func:`atomic_write_text` of :func:`dumps_json` plus a final newline."""
    return atomic_write_text(path, dumps_json(value, indent=indent) + "\n")


def append_line(path: str | Path, line: str) -> None:
    """Append one line (a newline is added) to a text file, creating it with :func:`file_mode`.

    One ``write`` call per line, so a crash leaves at most one line cut short
    (readers skip it).
    """
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def new_directory(parent: str | Path, prefix: str, suffix: str = "") -> Path:
    """Create and return an empty directory ``parent/<prefix><random><suffix>`` with :func:`dir_mode`.

    Unlike :func:`tempfile.mkdtemp` (always 0700), ``mkdir`` honours the umask.
    """
    parent = Path(parent)
    while True:
        candidate = parent / f"{prefix}{secrets.token_hex(4)}{suffix}"
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate


@contextlib.contextmanager
def atomic_directory(final: str | Path, *, replace: bool = True) -> Iterator[Path]:
    """Assemble a directory under a temporary name, then rename it to ``final``.

    Yields the temporary directory (``.<name>.<random>.tmp`` next to
    ``final``, mode :func:`dir_mode`); write the files into it (with
    :func:`write_synced`). When the block ends without an exception the
    directory is fsync'ed and renamed to ``final``; on an exception it is
    removed and ``final`` is untouched.

    Args:
        final: The directory to create.
        replace: If ``final`` already exists, remove it first (rename cannot
            replace a non-empty directory; the caller knows it is stale).
            With ``replace=False`` an existing ``final`` is kept and the new
            copy discarded (another writer finished first).

    Raises:
        OSError: creating, writing or renaming failed.
    """
    final = Path(final)
    make_dirs(final.parent)
    tmp = new_directory(final.parent, f".{final.name}.", ".tmp")  # ".tmp": a killed writer's leftover
    try:
        yield tmp
        fsync_path(tmp)
        if final.exists():
            if not replace:
                return
            shutil.rmtree(final)
        os.rename(tmp, final)
        fsync_path(final.parent)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def check_output_file(path: str | Path, flag: str) -> Path:
    """Check, before any work, that a command can write ``path`` at its end.

    Probes the directory by creating and removing a hidden file in it, so a
    read-only directory, a missing one or a path that is a directory is
    refused up front rather than after minutes of computing.

    Args:
        path: The file the command will write (it may exist; it is replaced atomically).
        flag: How the user named it, for the message (``"-o"``).

    Raises:
        ConfigError: the parent directory does not exist, ``path`` is a
            directory, or the directory is not writable; one line naming the path.
    """
    path = Path(path)
    parent = path.parent
    if not parent.is_dir():
        raise ConfigError(f"{flag} {str(path)!r}: directory {str(parent)!r} does not exist (or is not a directory); "
                          f"create it first or write elsewhere")
    if path.is_dir():
        raise ConfigError(f"{flag} {str(path)!r} is a directory; name a file")
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(f"{flag} {str(path)!r} is not writable (read-only file); choose another path")
    try:
        probe_writable(parent)
    except OSError as exc:
        raise ConfigError(f"{flag} {str(path)!r}: directory {str(parent)!r} is not writable "
                          f"({exc.strerror or exc}); choose another path") from None
    return path


def check_output_dir(path: str | Path, flag: str) -> Path:
    """Check, before any work, that a command can create or write into the directory ``path``.

    Nothing is created: if ``path`` does not exist, its nearest existing
    ancestor must be a writable directory (``mkdir -p`` will then work).

    Raises:
        ConfigError: ``path`` or an ancestor is a file, or the directory that
            would receive the files is not writable; one line naming it.
    """
    path = Path(path)
    probe_in = path
    while not probe_in.exists():
        if probe_in.parent == probe_in:
            break
        probe_in = probe_in.parent
    if not probe_in.is_dir():
        raise ConfigError(f"{flag} {str(path)!r}: {str(probe_in)!r} is not a directory; choose another path")
    try:
        probe_writable(probe_in)
    except OSError as exc:
        raise ConfigError(f"{flag} {str(path)!r}: directory {str(probe_in)!r} is not writable "
                          f"({exc.strerror or exc}); choose another path") from None
    return path
