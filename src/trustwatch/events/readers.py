"""Read events from files, folders and globs; write them as JSON Lines or Parquet.

Formats follow the file name unless ``format`` forces one:

- ``jsonl``: names ending in ``.jsonl``, ``.ndjson`` or ``.json``, optionally
  followed by ``.gz``; one JSON event per line, decoded by
  :class:`~trustwatch.events.decode.EventDecoder`.
- ``parquet``: names ending in ``.parquet``; the shared event schema of
  :mod:`trustwatch.events.parquet`, read one record batch at a time.
- ``sshlog``: names ending in ``.log`` or ``.log.gz``; OpenSSH and PAM syslog,
  read by :mod:`trustwatch.events.sshlog`.

A folder stands for every supported file below it, in sorted order, skipping
names that start with ``.`` or ``_`` (hidden files, Spark's ``_SUCCESS`` and
``_temporary``). A record that cannot become an event is yielded as a
:class:`~trustwatch.events.deadletter.DeadLetter` and reading goes on; so is
a file that cannot be opened or breaks off, at the place it stopped.
"""

from __future__ import annotations

import glob
import gzip
import logging
from collections.abc import Iterable, Iterator
from io import BufferedIOBase
from pathlib import Path
from typing import Any

import msgspec

from trustwatch.errors import ConfigError, InvalidEventError
from trustwatch.events._files import UnreadableError, iter_line_blocks
from trustwatch.events.deadletter import DeadLetter
from trustwatch.events.decode import EventDecoder
from trustwatch.events.model import Event, EventBase
from trustwatch.events.parquet import iter_parquet_rows, write_events_parquet
from trustwatch.events.sshlog import read_auth_log

__all__ = [
    "FORMATS",
    "read_events",
    "resolve_inputs",
    "write_events_jsonl",
    "write_events_parquet",
]

logger = logging.getLogger(__name__)

FORMATS = ("auto", "jsonl", "parquet", "sshlog")
"""Values accepted by ``format``."""

_SUFFIXES = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".log": "sshlog",
}
_GLOB_CHARS = frozenset("*?[")


def read_events(
    paths: Iterable[str | Path] | str | Path,
    *,
    decoder: EventDecoder | None = None,
    format: str = "auto",
    sshlog_year: int | None = None,
    sshlog_tz: str = "UTC",
) -> Iterator[Event | DeadLetter]:
    """Read events from files, folders or globs, yielding dead letters inline.

    Parameters
    ----------
    paths
        Files, folders or glob patterns (``**`` recurses); a single path works.
    decoder
        Decoder for JSON Lines and Parquet rows; the default one otherwise.
    format
        ``"auto"`` to go by file names, or one of ``"jsonl"``, ``"parquet"``,
        ``"sshlog"`` for every file.
    sshlog_year, sshlog_tz
        Year and zone of syslog timestamps that lack them; without a year it
        is inferred from each file's modification time.

    Raises
    ------
    ConfigError
        Before anything is read, when a path does not exist, a glob matches
        nothing, a named file has no supported suffix or ``format`` is unknown.

    Examples
    --------
    >>> for item in read_events(["events/"]):  # doctest: +SKIP
    ...     if isinstance(item, DeadLetter):
    ...         quarantine(item)
    """
    inputs = resolve_inputs(paths, format=format)
    return _read_all(inputs, decoder or EventDecoder(), sshlog_year, sshlog_tz)


def resolve_inputs(
    paths: Iterable[str | Path] | str | Path, *, format: str = "auto"
) -> list[tuple[Path, str]]:
    """Expand paths, folders and globs into ``(file, format)`` pairs, in order.

    Raises
    ------
    ConfigError
        As for :func:`read_events`.
    """
    if format not in FORMATS:
        raise ConfigError(f"unknown format {format!r}; choose one of {FORMATS}")
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    resolved: list[tuple[Path, str]] = []
    for item in items:
        resolved.extend(_resolve_one(item, format))
    return resolved


def _resolve_one(item: str | Path, format: str) -> list[tuple[Path, str]]:
    path = Path(item)
    if path.is_dir():
        return _folder(path, format)
    if path.is_file():
        kind = _format_of(path, format)
        if kind is None:
            raise ConfigError(
                f"{path} has no supported suffix ({', '.join(_SUFFIXES)}, with .gz "
                "for text); hint: pass format= to say what it holds"
            )
        return [(path, kind)]
    text = str(item)
    if _GLOB_CHARS.intersection(text):
        matches = sorted(glob.glob(text, recursive=True))
        found = [pair for match in matches for pair in _matched(Path(match), format)]
        if found:
            return found
        raise ConfigError(f"glob {text!r} matches no readable event file")
    raise ConfigError(
        f"input path {text!r} does not exist; hint: check the spelling, or quote "
        "a glob so that the shell does not expand it"
    )


def _matched(path: Path, format: str) -> list[tuple[Path, str]]:
    if path.is_dir():
        return _folder(path, format)
    kind = _format_of(path, format)
    return [(path, kind)] if kind is not None and path.is_file() else []


def _folder(root: Path, format: str) -> list[tuple[Path, str]]:
    found = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).parts
        if any(part.startswith((".", "_")) for part in relative) or not path.is_file():
            continue
        kind = _format_of(path, format)
        if kind is not None:
            found.append((path, kind))
    return found


def _format_of(path: Path, format: str) -> str | None:
    if format != "auto":
        return format
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
        if name.endswith(".parquet"):
            return None
    return _SUFFIXES.get(Path(name).suffix)


def _read_all(
    inputs: list[tuple[Path, str]],
    decoder: EventDecoder,
    sshlog_year: int | None,
    sshlog_tz: str,
) -> Iterator[Event | DeadLetter]:
    for path, kind in inputs:
        if kind == "jsonl":
            yield from _read_jsonl(path, decoder)
        elif kind == "parquet":
            yield from _read_parquet(path, decoder)
        else:
            yield from read_auth_log(path, year=sshlog_year, tz=sshlog_tz)


def _letter(
    source: str, where: str, exc: InvalidEventError, raw: bytes | str
) -> DeadLetter:
    letter = DeadLetter.build(source, where, exc.reason, str(exc), raw)
    logger.debug("dead letter %s (%s)", letter.dead_letter_id, exc.reason)
    return letter


def _read_jsonl(path: Path, decoder: EventDecoder) -> Iterator[Event | DeadLetter]:
    source, decode, limit = str(path), decoder.decode, decoder.max_bytes
    lineno = letters = blanks = 0
    try:
        for lines in iter_line_blocks(path, limit):
            for line in lines:
                lineno += 1
                try:
                    yield decode(line)
                except InvalidEventError as exc:
                    if not line.strip():  # blank lines are not records
                        blanks += 1
                        continue
                    letters += 1
                    error = exc
                    if len(line) > limit + 1:  # cut short by the line reader
                        error = InvalidEventError(
                            "too_large", f"line is over the limit of {limit} bytes"
                        )
                    raw = line.rstrip(b"\r")
                    yield _letter(source, f"line {lineno}", error, raw)
    except UnreadableError as exc:
        letters += 1
        yield _letter(source, exc.location, _unreadable(exc), b"")
    events = lineno - letters - blanks
    logger.info("read %s: %d events, %d dead letters", path, events, letters)


def _read_parquet(path: Path, decoder: EventDecoder) -> Iterator[Event | DeadLetter]:
    source = str(path)
    rows = letters = 0
    try:
        for rows, row in iter_parquet_rows(path):
            try:
                yield decoder.decode_dict(row)
            except InvalidEventError as exc:
                letters += 1
                yield _letter(source, f"row {rows}", exc, _raw(row))
    except UnreadableError as exc:
        letters += 1
        yield _letter(source, exc.location, _unreadable(exc), b"")
    events = rows - letters
    logger.info("read %s: %d events, %d dead letters", path, max(events, 0), letters)


def _unreadable(exc: UnreadableError) -> InvalidEventError:
    return InvalidEventError("unreadable", str(exc))


def _raw(row: dict[str, Any]) -> bytes:
    """Render a Parquet row as JSON for a dead letter."""
    try:
        return msgspec.json.encode(row, enc_hook=repr)
    except (TypeError, ValueError, msgspec.EncodeError):
        return repr(row).encode("utf-8", "backslashreplace")


def write_events_jsonl(events: Iterable[EventBase], path: str | Path) -> int:
    """Write events as JSON Lines (gzip-compressed when the name ends in ``.gz``).

    Returns
    -------
    int
        How many events were written.

    Raises
    ------
    ConfigError
        When the file cannot be created.
    """
    target = Path(path)
    encode = msgspec.json.Encoder().encode
    written = 0
    try:
        with _open_for_writing(target) as out:
            for event in events:
                out.write(encode(event))
                out.write(b"\n")
                written += 1
    except OSError as exc:
        raise ConfigError(
            f"cannot write {target}: {exc.strerror}; hint: check that its folder "
            "exists and is writable"
        ) from exc
    logger.info("wrote %d events to %s", written, target)
    return written


def _open_for_writing(path: Path) -> BufferedIOBase:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "wb")
    return path.open("wb")
