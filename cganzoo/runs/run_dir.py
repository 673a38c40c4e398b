"""Before training: the run directory checked and created, free space checked up front, ``config.json`` written once.

The directory's layout (every file name) is :class:`~cganzoo.runs.layout.RunDir`.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cganzoo.errors import ConfigError, OutputError
from cganzoo.io import make_dirs, probe_writable
from cganzoo.runs.layout import RunDir


def prepare_run_dir(run_dir: Path, resume: bool) -> None:
    """Check ``run_dir`` and create it with its ``samples/`` folder.

    A directory that a run left without any checkpoint (it died or was refused
    before its first one) holds nothing worth keeping but ``config.json`` and a
    few grids: a fresh run may reuse it (its old files are replaced).

    Raises:
        ConfigError: resuming a directory without ``config.json``; ``run_dir``
            is a file, holds another run's checkpoints or other files, or is not writable.
    """
    run = RunDir(run_dir)
    if resume:
        if not run.config_file.is_file():
            raise ConfigError(f"cannot resume: {str(run_dir)!r} has no config.json (not a cganzoo run?)")
    elif run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"run directory {str(run_dir)!r} is a file, not a directory; choose another --out")
    elif run_dir.exists() and any(run_dir.iterdir()):
        if run.checkpoint_names() or not _only_an_unstarted_run(run):
            raise ConfigError(
                f"run directory {str(run_dir)!r} is not empty; choose another --out, "
                f"or continue it with --resume {run_dir}"
            )
        _clear_unstarted_run(run)
    try:
        make_dirs(run.samples_dir)
        probe_writable(run_dir)
    except OSError as exc:
        raise ConfigError(f"run directory {str(run_dir)!r} is not writable: {exc.strerror or exc}") from None


def _only_an_unstarted_run(run: RunDir) -> bool:
    """Whether ``run`` holds nothing but what a run that never reached its first checkpoint leaves behind."""
    names = {p.name for p in run.path.iterdir()}
    return run.config_file.name in names and names <= {p.name for p in run.entries}


def _clear_unstarted_run(run: RunDir) -> None:
    for path in run.entries:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def remove_if_empty(run_dir: Path) -> None:
    """Remove ``run_dir`` (and its ``samples/``) if nothing was written: a refused run leaves no directory behind."""
    for directory in (RunDir(run_dir).samples_dir, run_dir):
        with contextlib.suppress(OSError):
            directory.rmdir()  # only ever removes an empty directory


def check_disk_space(run_dir: Path, checkpoint_bytes: int, keep: int) -> None:
    """Refuse to start when the checkpoints cannot fit: ``keep`` plus the one being written.

    Raises:
        OutputError: too little free space (the message gives MiB free and needed).
    """
    have = len(RunDir(run_dir).checkpoint_names())
    need = checkpoint_bytes * max(1, keep + 1 - have) + (1 << 20)  # + samples and metrics
    free = shutil.disk_usage(run_dir).free
    if free < need:
        raise OutputError(
            f"not enough free disk space for {str(run_dir)!r}: {free / 2**20:.1f} MiB free, the "
            f"checkpoints need about {need / 2**20:.1f} MiB ({checkpoint_bytes / 2**20:.1f} MiB each, "
            f"keep_checkpoints={keep} plus the one being written); free some space or choose another --out"
        )


def write_run_config(run_dir: Path, record: dict[str, Any]) -> None:
    """Write ``config.json`` atomically: ``record`` plus the creation time and command line.

    Raises:
        OutputError: the file cannot be written.
    """
    record = {**record, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "command": sys.argv}
    RunDir(run_dir).write_record(record)
