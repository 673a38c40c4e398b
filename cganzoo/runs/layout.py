"""A run directory's layout: every file name in one place, and the one reader of ``config.json`` and ``metrics.jsonl``.

What ``cganzoo run`` writes under ``RUN_DIR``::

    config.json              the resolved config, its components, the data set's identity, creation time, command
                             line; written once, before the first step (:func:`cganzoo.runs.run_dir.write_run_config`)
    metrics.jsonl            one JSON object per line, appended as training goes: logged steps
                             ``{"epoch", "step", "d_loss", "g_loss", "images_per_s", "elapsed_s"}`` and
                             evaluations ``{"epoch", "step", "eval": report}``
    samples/step_<N>.png     the sample grid after N steps (N as it is: ``step_400.png``)
    checkpoints/
        step_<N, 9 digits>/  the checkpoint after N steps: ``step_000000400`` (:mod:`cganzoo.runs.checkpoint`
                             for what it holds)
        latest               the name of the newest complete checkpoint
    tensorboard/             TensorBoard event files (``cganzoo run --tensorboard``; its default ``log_dir``)

:class:`RunDir` is the only place these names are written in code. It imports
nothing else of :mod:`cganzoo.runs`, so every module there (and training, the
API, the benchmarks) builds on it without an import cycle.

May import: :mod:`cganzoo.errors`, :mod:`cganzoo.io`.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cganzoo.config import parse_config_text
from cganzoo.errors import ConfigError, OutputError, RunDirectoryError
from cganzoo.io import atomic_write_text, dumps_json

#: A checkpoint directory's name: ``step_`` and the step, zero-padded to 9 digits so names sort as steps do.
_CHECKPOINT_NAME = re.compile(r"step_([0-9]+)")
#: A sample grid's file name: ``step_`` and the step, not padded.
_GRID_NAME = re.compile(r"step_([0-9]+)\.png")


@dataclass(frozen=True, init=False)
class RunDir:
    """One run directory: the path of each file it holds, and the readers and writers of its records.

    A value: two ``RunDir`` of the same path are equal, and ``os.fspath(run)``
    (so ``open``, ``Path(run)``) gives the directory. Building one touches no
    file; the readers and writers below do.

    Attributes:
        path: The run directory (``RUN_DIR``), as given (it need not exist yet).
    """

    path: Path

    def __init__(self, path: str | os.PathLike[str]) -> None:
        object.__setattr__(self, "path", Path(path))

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    def __str__(self) -> str:
        return str(self.path)

    # -- names ---------------------------------------------------------------

    @property
    def config_file(self) -> Path:
        """``RUN_DIR/config.json``: the run's record, written once (read by :meth:`read_record`)."""
        return self.path / "config.json"

    @property
    def metrics_file(self) -> Path:
        """``RUN_DIR/metrics.jsonl``: logged steps and evaluations, one JSON object a line (:meth:`read_metrics`)."""
        return self.path / "metrics.jsonl"

    @property
    def samples_dir(self) -> Path:
        """``RUN_DIR/samples``: the sample grids (:meth:`sample_grid`)."""
        return self.path / "samples"

    @property
    def checkpoints_dir(self) -> Path:
        """``RUN_DIR/checkpoints``: one directory per checkpoint (:meth:`checkpoint_dir`) and :attr:`latest_pointer`."""
        return self.path / "checkpoints"

    @property
    def latest_pointer(self) -> Path:
        """``RUN_DIR/checkpoints/latest``: a text file naming the newest complete checkpoint directory."""
        return self.checkpoints_dir / "latest"

    @property
    def tensorboard_dir(self) -> Path:
        """``RUN_DIR/tensorboard``: where the ``tensorboard`` callback writes by default."""
        return self.path / "tensorboard"

    @property
    def entries(self) -> tuple[Path, ...]:
        """Every top-level entry a run writes: config, metrics, samples, checkpoints, TensorBoard events."""
        return (self.config_file, self.metrics_file, self.samples_dir, self.checkpoints_dir, self.tensorboard_dir)

    def sample_grid(self, step: int) -> Path:
        """The sample grid drawn after ``step`` steps: ``RUN_DIR/samples/step_<step>.png``."""
        return self.samples_dir / f"step_{step}.png"

    def sample_grids(self) -> list[tuple[int, Path]]:
        """``(step, path)`` of every sample grid present, by step; ``[]`` without ``samples/``."""
        return sorted((int(m.group(1)), p) for p in self.samples_dir.glob("step_*.png")
                      if (m := _GRID_NAME.fullmatch(p.name)))

    def checkpoint_dir(self, step: int) -> Path:
        """The directory of the checkpoint after ``step`` steps: ``RUN_DIR/checkpoints/step_000000937``."""
        return self.checkpoints_dir / self.checkpoint_name(step)

    @staticmethod
    def checkpoint_name(step: int) -> str:
        """The directory name of the checkpoint after ``step`` steps: ``step_000000937`` (9 digits, so names sort
        as steps do)."""
        return f"step_{step:09d}"

    @staticmethod
    def checkpoint_step(name: str) -> int | None:
        """The step a :meth:`checkpoint_name` stands for; ``None`` for any other name."""
        match = _CHECKPOINT_NAME.fullmatch(name)
        return int(match.group(1)) if match else None

    def checkpoint_names(self) -> list[str]:
        """Names of the checkpoint directories present (complete or not), oldest first; ``[]`` without any."""
        if not self.checkpoints_dir.is_dir():
            return []
        return sorted(p.name for p in self.checkpoints_dir.iterdir()
                      if p.is_dir() and self.checkpoint_step(p.name) is not None)

    # -- config.json -----------------------------------------------------------

    def read_record(self) -> dict[str, Any]:
        """``config.json``, parsed and checked: a mapping whose ``"config"`` is a mapping.

        ``"config"`` holds the resolved :class:`~cganzoo.config.RunConfig`
        fields; it is not validated here (a run written by an older cganzoo
        still reads; :func:`cganzoo.api.read_run_config` validates it).

        Raises:
            RunDirectoryError: with ``reason`` ``"no directory"`` (the path does
                not exist or is not a directory), ``"no config"`` (no
                ``config.json``: not a cganzoo run) or ``"bad config"`` (it is
                unreadable, not JSON, gives a key twice, or holds no ``"config"`` mapping). Callers
                whose documented error differs translate by ``reason``.
        """
        shown = str(self.path)
        if not self.path.is_dir():
            raise RunDirectoryError(f"{shown!r} is not a run directory (it does not exist or is not a directory); "
                                    f"name a directory written by `cganzoo run`", reason="no directory")
        if not self.config_file.exists():
            raise RunDirectoryError(f"{shown!r} is not a cganzoo run directory: it holds no config.json; name a "
                                    f"directory written by `cganzoo run`", reason="no config")
        path = str(self.config_file)
        try:
            # The rules of a config file's text: a key given twice is refused, not silently the last.
            record = parse_config_text(self.config_file.read_text(encoding="utf-8"), "JSON")
        except ConfigError as exc:
            raise RunDirectoryError(f"{path!r} holds an invalid run config ({exc})", reason="bad config") from None
        except OSError as exc:
            raise RunDirectoryError(f"{path!r} is unreadable: {exc.strerror or exc}", reason="bad config") from None
        except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, nested beyond what json parses
            raise RunDirectoryError(f"{path!r} is missing or not a cganzoo run config: {exc}",
                                    reason="bad config") from None
        if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
            raise RunDirectoryError(f"{path!r} is missing or not a cganzoo run config: it holds no \"config\" "
                                    f"mapping", reason="bad config")
        return record

    def write_record(self, record: dict[str, Any]) -> None:
        """Write ``config.json`` atomically (indented strict JSON): whole or not at all, even if killed.

        Raises:
            OutputError: the file cannot be written.
        """
        try:
            atomic_write_text(self.config_file, dumps_json(record, indent=2) + "\n")
        except OSError as exc:
            raise OutputError(f"could not write {str(self.config_file)!r}: {exc.strerror or exc}") from None

    # -- metrics.jsonl ---------------------------------------------------------

    def read_metrics(self) -> list[dict[str, Any]]:
        """The complete records of ``metrics.jsonl`` in file order, each ``"step"`` an ``int``.

        A line cut short by a crash (or anything else that is not a JSON
        object with an integer ``"step"``) is skipped, as a resume drops it.

        Returns:
            The records; ``[]`` when there is no ``metrics.jsonl`` yet.

        Raises:
            RunDirectoryError: the file exists but cannot be read (``reason`` ``"unreadable metrics"``).
        """
        return [record for _, record in self._metric_lines() if record is not None]

    def append_metric(self, record: dict[str, Any]) -> None:
        """Append one record to ``metrics.jsonl`` as one line of strict JSON (an undefined value is ``null``).

        Raises:
            OSError: the file cannot be written; the caller says what was kept.
        """
        with open(self.metrics_file, "a", encoding="utf-8") as f:
            f.write(dumps_json(record) + "\n")

    def truncate_metrics(self, step: int) -> int:
        """Drop the records logged after ``step`` (a resumed run trains those steps again), and cut-short lines.

        The file is replaced atomically, and only when something is dropped.

        Returns:
            How many lines were dropped.

        Raises:
            RunDirectoryError: ``metrics.jsonl`` cannot be read.
            OutputError: it cannot be rewritten.
        """
        lines = self._metric_lines()
        kept = [line for line, record in lines if record is not None and record["step"] <= step]
        if len(kept) != len(lines):
            try:
                atomic_write_text(self.metrics_file, "".join(line + "\n" for line in kept))
            except OSError as exc:
                raise OutputError(f"could not write {str(self.metrics_file)!r}: {exc.strerror or exc}") from None
        return len(lines) - len(kept)

    def _metric_lines(self) -> list[tuple[str, dict[str, Any] | None]]:
        """Each line of ``metrics.jsonl`` with its record, ``None`` for a line that holds no complete one."""
        if not self.metrics_file.is_file():
            return []
        try:
            text = self.metrics_file.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise RunDirectoryError(f"cannot read {str(self.metrics_file)!r}: {exc.strerror or exc}",
                                    reason="unreadable metrics") from None
        return [(line, _metric_record(line)) for line in text.splitlines()]


def _metric_record(line: str) -> dict[str, Any] | None:
    """One line's record with its ``"step"`` as an ``int``; ``None`` for a line cut short or otherwise broken."""
    try:
        record = json.loads(line)
        record["step"] = int(record["step"])
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError):  # OverflowError: int(Infinity)
        return None
    return record
