"""Exceptions raised by cganzoo.

Every error cganzoo raises on purpose derives from :class:`CganzooError`. The
CLI turns these into one readable line and a non-zero exit code (2 for bad
input, 1 for failures at run time); anything else is a bug and keeps its
traceback.

:func:`describe` is the one way an exception becomes one line (the CLI's
error line, a skipped plugin, an unreadable cache, a failed data source);
:func:`format_validation_error` is the one way a pydantic error does.

May import: nothing of cganzoo (this is the bottom layer).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class CganzooError(Exception):
    """Base class of every error cganzoo raises on purpose.

    The message (``str(error)``) is one line. What does not fit on it (each
    source's reason, a long list) goes in ``details``: the CLI prints it only
    with ``--verbose``.

    Args:
        message: One line naming the bad value and what is accepted.
        details: Optional further lines.
    """

    exit_code = 1
    details: str | None = None

    def __init__(self, *args: object, details: str | None = None) -> None:
        super().__init__(*args)
        if details is not None:
            self.details = details


def one_line(text: str, limit: int = 2000, sep: str = "; ") -> str:
    """``text`` with its lines joined by ``sep`` and runs of spaces collapsed, cut at ``limit`` characters."""
    lines = [" ".join(line.split()) for line in str(text).splitlines()]
    joined = sep.join(line for line in lines if line) or "no details"
    return joined if len(joined) <= limit else joined[: limit - 3] + "..."


def describe(exc: BaseException, *, limit: int = 2000, sep: str = "; ", first_sentence: bool = False,
             typed: bool = True) -> str:
    """An exception as one line: what every place that reports an error prints.

    Args:
        exc: Any exception.
        limit: Longest line returned, in characters (cut with ``...``).
        sep: What joins the message's lines (``" "`` reads better inside a sentence).
        first_sentence: Keep only the gist: the first sentence, without a
            ``[source.cc:123]`` prefix (as gloo's C++ errors carry).
        typed: Name the type of an exception that is not a :class:`CganzooError`.

    Returns:
        cganzoo's own errors (:class:`CganzooError`) as their message, any
        other exception as ``Type: message``.
    """
    text = str(exc).strip()
    if first_sentence:
        text = re.sub(r"^\[[^\]]*\]\s*", "", text)
        text = text.splitlines()[0].split(". ")[0].rstrip(".") if text else ""
    if typed and not isinstance(exc, CganzooError):
        text = f"{type(exc).__name__}: {text}"
    return one_line(text, limit, sep)


def format_validation_error(exc: "ValidationError") -> str:
    """A pydantic ``ValidationError`` as one line, one clause per problem: ``field: message (got value)``."""
    parts = []
    for err in exc.errors():
        # A key from a config file may hold control characters (even line separators): escape them.
        loc = ".".join(str(p) if str(p).isprintable() else ascii(str(p)) for p in err["loc"]) or "(root)"
        got = err.get("input")
        shown = "" if isinstance(got, dict) else f" (got {got!r})"
        message = err["msg"]
        if err["type"] == "value_error":  # our validators' own sentence, without pydantic's "Value error, "
            message = message.removeprefix("Value error, ")
        if isinstance(got, bool) and err["type"] in _WORD_ERRORS:
            message, shown = _yaml_boolean(message, got, err), ""
        parts.append(f"{loc}: {message}{shown}")
    return "; ".join(parts)


#: Errors of a field that wants a word (a string, one of some strings, a component) but got a bool.
_WORD_ERRORS = frozenset({"literal_error", "string_type", "enum", "model_type", "dict_type"})

#: The unquoted words YAML 1.1 (PyYAML's ``safe_load``) reads as each boolean, in any of three cases.
_YAML_BOOLEANS = {False: ("no", "off", "false"), True: ("yes", "on", "true")}


def _yaml_boolean(message: str, got: bool, err: dict) -> str:
    """``message`` for a bool where a word was wanted: say that YAML 1.1 made it, and how to write the word.

    ``amp: off`` reaches the config as ``False`` (the "Norway problem": ``no``, ``on``,
    ``off``, ``yes`` are booleans in YAML 1.1); the fix is to quote the word.
    """
    words = _YAML_BOOLEANS[got]
    said = f"{message}, not the boolean {got}: YAML 1.1 reads an unquoted "
    key = next((str(p) for p in reversed(err["loc"]) if isinstance(p, str)), "")
    if err["type"] == "literal_error":
        meant = [w for w in words if f"'{w}'" in str((err.get("ctx") or {}).get("expected", ""))]
        if meant:
            return said + " or ".join(meant) + f" as {str(got).lower()}; write " + " or ".join(
                f'{key}: "{w}"' for w in meant)
    said += f"{', '.join(words[:-1])} or {words[-1]} as {str(got).lower()}"
    if err["type"] == "string_type":
        return said + f'; quote the word, e.g. {key + ": " if key else ""}"{words[0]}"'
    return said


class UnknownComponentError(CganzooError, KeyError):
    """A component name (model, dataset, conditioner, network, loss, metric) is not registered."""

    exit_code = 2

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DuplicateComponentError(CganzooError):
    """Two plugins registered the same name for the same kind of component."""


class ConfigError(CganzooError, ValueError):
    """A configuration value is invalid; the message names the field and what is accepted."""

    exit_code = 2


class IncompatibleError(ConfigError):
    """A combination of components cannot work together (found before training starts)."""


class OptionalDependencyError(ConfigError):
    """A component needs an optional package that is not installed; the message says what to install."""


class LabelError(CganzooError, ValueError):
    """Condition labels ``y`` are out of range, of a wrong dtype or shape."""

    exit_code = 2


class DataError(CganzooError):
    """A data set could not be obtained, or failed its integrity check."""


class CheckpointError(CganzooError):
    """A checkpoint or run directory is missing, corrupt, truncated or foreign."""


class ResumeMismatchError(CheckpointError):
    """A resume asks for settings or data that differ from the run's (a flag changed its model, data, seed...).

    Bad input, so exit code 2, like :class:`ConfigError`.
    """

    exit_code = 2


class PluginError(CganzooError):
    """A plugin failed to load or its hook raised."""


class TrainingDivergedError(CganzooError):
    """A loss, a weight or an optimizer moment became NaN or infinite during training."""


class OutputError(CganzooError):
    """An output file (metrics, sample grid, checkpoint) could not be written: disk full, permissions."""


class TrainingInterrupted(CganzooError):
    """Training was stopped by SIGINT (Ctrl-C) or SIGTERM after writing a checkpoint.

    Attributes:
        signal_name: ``"SIGINT"`` or ``"SIGTERM"``.
        step: The step the checkpoint holds.
        run_dir: The run directory to resume.
        exit_code: ``128 + signal number`` (130 for SIGINT, 143 for SIGTERM), the shell's convention.
    """

    def __init__(self, message: str, *, signal_name: str, signum: int, step: int, run_dir: str) -> None:
        super().__init__(message)
        self.signal_name, self.step, self.run_dir = signal_name, step, run_dir
        self.exit_code = 128 + signum


class RunDirectoryError(CganzooError, ValueError):
    """A path named as a run is not a cganzoo run directory, or holds nothing yet to read (``cganzoo plot``, ``compare``).

    Args:
        message: One line naming the directory and what is wrong.
        reason: What is wrong, for a caller that reports it as another error
            type (:func:`cganzoo.api.read_run_config`): ``"no directory"``,
            ``"no config"``, ``"bad config"``, ``"unreadable metrics"``,
            ``"no metrics"``; ``""`` where not said.
        details: As for :class:`CganzooError`.
    """

    exit_code = 2

    def __init__(self, *args: object, reason: str = "", details: str | None = None) -> None:
        super().__init__(*args, details=details)
        self.reason = reason


class EvaluationError(CganzooError):
    """Evaluation cannot run or would be meaningless: no test split, images outside the
    judge's input range, or a judge classifier below its required test accuracy."""


class MetricSkipped(CganzooError):
    """A metric cannot run on this machine (an optional package or its weights are absent).

    Raised by a metric's ``compute``; the evaluation records the metric as
    skipped with this one-line reason (what is missing and how to get it) and
    computes the other metrics. Not an error of the evaluation as a whole.
    """


class DistributedError(CganzooError):
    """A rank lost contact with the others: a collective failed or timed out, or the process group could not form.

    Exit code 75 (``EX_TEMPFAIL``), so that the launcher can tell a rank that
    merely lost its peers from the rank that failed first.
    """

    exit_code = 75
