"""Read events from files, folders and globs; write them as JSON Lines or Parquet.

Formats follow the file name unless ``format`` (``--format`` in the CLI)
forces one; rotated names (``.1``, ``.2.gz``, ``-20240101``) keep the format
of the name they were rotated from:

- ``jsonl``: names ending in ``.jsonl``, ``.ndjson`` or ``.json``; one JSON
  event per line, decoded by :class:`~trustwatch.events.decode.EventDecoder`.
- ``parquet``: names ending in ``.parquet``; the shared event schema of
  :mod:`trustwatch.events.parquet`, read one record batch at a time within
  each row group; a damaged row group is one dead letter naming its rows.
- ``sshlog``: names ending in ``.log``, and the syslog names ``secure``,
  ``syslog`` and ``messages``; OpenSSH and PAM syslog, read by
  :mod:`trustwatch.events.sshlog`.

Text files may be gzip-compressed whatever their name. How paths, folders and
globs become files is told in :mod:`trustwatch.events._inputs`: every file is
read once, by its real path, which is also the ``source`` of its dead letters.

A record that cannot become an event is yielded as a
:class:`~trustwatch.events.deadletter.DeadLetter` and reading goes on. A file
that cannot be used as a whole is one dead letter (location ``"file"``) and
reading goes on with the next file: one that cannot be opened or is not
Parquet (``"unreadable"``), UTF-16 or UTF-32 text (``"encoding"``), a JSON
array instead of JSON Lines, a compressed archive, or a Parquet file without
the ``type``, ``event_id`` and ``ts`` columns (``"unsupported_format"``). A
file that breaks off yields a dead letter where it stopped.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Iterable, Iterator
from io import BufferedIOBase
from pathlib import Path
from typing import Any

import msgspec

from trustwatch.errors import ConfigError, InvalidEventError
from trustwatch.events._files import UnreadableError, check_text, iter_line_blocks
from trustwatch.events._inputs import FORMATS, format_of_name, resolve_inputs
from trustwatch.events.deadletter import DeadLetter
from trustwatch.events.decode import EventDecoder
from trustwatch.events.model import Event, EventBase
from trustwatch.events.parquet import (
    DamagedRowsError,
    iter_parquet_rows,
    write_events_parquet,
)
from trustwatch.events.sshlog import read_auth_log
from trustwatch.events.syslog import SyslogClock

__all__ = [
    "FORMATS",
    "format_of_name",
    "read_events",
    "resolve_inputs",
    "write_events_jsonl",
    "write_events_parquet",
]

logger = logging.getLogger(__name__)

_JSON_ARRAY = (
    "holds a JSON array, not JSON Lines; hint: convert it to JSON Lines, one "
    "object per line, e.g. with jq -c '.[]'"
)
_PRETTY_JSON = (
    "holds JSON spread over several lines, not JSON Lines; hint: convert it to "
    "JSON Lines, one object per line, e.g. with jq -c ."
)


def read_events(
    paths: Iterable[str | Path] | str | Path,
    *,
    decoder: EventDecoder | None = None,
    format: str = "auto",
    sshlog_year: int | None = None,
    sshlog_tz: str | None = None,
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
        is inferred from each file's modification time, and without a zone
        they are read as UTC, with a warning for each syslog file.

    Raises
    ------
    ConfigError
        Before anything is read, when a path is empty, does not exist or is
        not a regular file or folder, a glob matches nothing, a named file
        has no supported name, ``format`` is unknown, or ``sshlog_year`` or
        ``sshlog_tz`` is unusable. Nothing else escapes while reading.

    Examples
    --------
    >>> for item in read_events(["events/"]):  # doctest: +SKIP
    ...     if isinstance(item, DeadLetter):
    ...         quarantine(item)
    """
    inputs = resolve_inputs(paths, format=format)
    SyslogClock(year=sshlog_year, tz=sshlog_tz or "UTC")  # fail now on a bad one
    return _read_all(inputs, decoder or EventDecoder(), sshlog_year, sshlog_tz)


def _read_all(
    inputs: list[tuple[Path, str]],
    decoder: EventDecoder,
    sshlog_year: int | None,
    sshlog_tz: str | None,
) -> Iterator[Event | DeadLetter]:
    for path, kind in inputs:
        if kind == "jsonl":
            items = _read_jsonl(path, decoder)
        elif kind == "parquet":
            items = _read_parquet(path, decoder)
        else:
            if sshlog_tz is None:
                logger.warning(
                    "%s: syslog times carry no zone and are read as UTC; hint: "
                    "where the host logs in another zone, name it (--source-tz)",
                    path.name,
                )
            items = read_auth_log(path, year=sshlog_year, tz=sshlog_tz or "UTC")
        try:
            yield from items
        except Exception as exc:
            # A reader bug or a library surprise on one hostile file must not
            # end the run: the file ends in a dead letter, the next one is read.
            logger.warning(
                "reading %s failed unexpectedly (%s); going on with the next file",
                path,
                type(exc).__name__,
            )
            message = f"reading stopped unexpectedly ({type(exc).__name__}: {exc})"
            error = InvalidEventError("undecodable", message)
            yield _letter(str(path), "file", error, b"")


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
        for lines in iter_line_blocks(path, limit, check=_check_json_lines):
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
        yield _unreadable(source, exc)
        broken = 1
    else:
        broken = 0
    events = lineno - letters - blanks
    logger.info("read %s: %d events, %d dead letters", path, events, letters + broken)


def _check_json_lines(path: Path, head: bytes) -> None:
    """Refuse a file that is not UTF-8 text, or that is one JSON document.

    A JSON array starts with ``[``; a pretty-printed object has ``{`` alone on
    its first line. No line of JSON Lines events looks like either.
    """
    check_text(path, head)
    start = head.lstrip()
    if start[:1] == b"[":
        why = _JSON_ARRAY
    elif start.split(b"\n", 1)[0].strip() == b"{":
        why = _PRETTY_JSON
    else:
        return
    raise UnreadableError(
        "file", f"{path} {why}", reason="unsupported_format", raw=head[:1024]
    )


def _read_parquet(path: Path, decoder: EventDecoder) -> Iterator[Event | DeadLetter]:
    source = str(path)
    rows = letters = lost = 0
    try:
        for rows, row, problem in iter_parquet_rows(path, decoder.max_bytes):
            try:
                if problem is None:
                    yield decoder.decode_dict(row)
                    continue
                error = problem
            except InvalidEventError as exc:
                error = exc
            letters += 1
            if isinstance(error, DamagedRowsError):  # one letter for many rows
                lost += error.last - error.first
                yield _letter(source, error.location, error, b"")
                continue
            yield _letter(source, f"row {rows}", error, _raw(row))
    except UnreadableError as exc:
        yield _unreadable(source, exc)
        broken = 1
    else:
        broken = 0
    events = rows - letters - lost
    logger.info("read %s: %d events, %d dead letters", path, events, letters + broken)


def _unreadable(source: str, exc: UnreadableError) -> DeadLetter:
    """Make the dead letter for a file that was refused or broke off."""
    if exc.location == "file":
        logger.warning("%s refused (%s)", source, exc.reason)
    error = InvalidEventError(exc.reason, str(exc))
    return _letter(source, exc.location, error, exc.raw)


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
