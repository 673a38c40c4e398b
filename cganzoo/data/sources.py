"""Ordered data sources: try each in turn, one line per failure, the first verified one wins.

A data set plugin lists where its data can come from (the cache, files the
user placed, a hub, a mirror...) as :class:`Source` objects and hands them,
with its verification, to :func:`first_verified`. Each source that fails,
or whose data fails verification, is reported in one line before the next is
tried; when none is left, one :class:`DataError` lists every reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from cganzoo.data.cache import one_line
from cganzoo.errors import DataError

__all__ = ["Source", "first_verified"]

T = TypeVar("T")


@dataclass(frozen=True)
class Source(Generic[T]):
    """One place a data set can come from.

    Attributes:
        name: How the source is named in log lines and errors
            (``"hand-placed files in /data"``, ``"hub ylecun/mnist"``).
        fetch: Returns the data; raises :class:`DataError` (or anything, which
            is reported as one line) when the source cannot deliver.
    """

    name: str
    fetch: Callable[[], T]


def first_verified(dataset: str, sources: Sequence[Source[T]], verify: Callable[[T], None],
                   log: Callable[[str], None] = print,
                   advice: Callable[[list[str]], tuple[str, str]] | None = None) -> tuple[T, str]:
    """Fetch from the first source whose data passes ``verify``.

    Args:
        dataset: Data set name, the prefix of every logged line.
        sources: Tried in order.
        verify: Raises :class:`DataError` when fetched data is not the data set
            (wrong checksum, counts, shapes or classes).
        log: Receives ``"<dataset>: <source> unavailable: <reason>; trying next
            source"`` per failure, and ``"<dataset>: verified data from <source>"``.
        advice: Builds the final error from the list of ``"<source>: <reason>"``
            lines: ``(one_line_message, details)``; the CLI prints the line and,
            under ``--verbose``, the details (default: the reasons alone, one line).

    Returns:
        ``(data, source name)``.

    Raises:
        DataError: every source failed; the message lists each reason.
    """
    failures: list[str] = []
    for position, source in enumerate(sources):
        try:
            data = source.fetch()
            verify(data)
        except Exception as err:  # a source may fail in any way; the next one gets its go
            reason = one_line(err)
            failures.append(f"{source.name}: {reason}")
            then = "trying next source" if position + 1 < len(sources) else "no source left"
            log(f"{dataset}: {source.name} unavailable: {reason}; {then}")
            continue
        log(f"{dataset}: verified data from {source.name}")
        return data, source.name
    if advice is not None:
        line, details = advice(failures)
        raise DataError(line, details=details)
    reasons = "; ".join(failures) or "no source is configured"
    raise DataError(f"{dataset}: every source failed ({reasons})")
