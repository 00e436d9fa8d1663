"""A feed file's lines and CSV records, with damage kept to the bad line.

CSV quoting lets one record run over several lines, so a single stray quote
can swallow the rest of a file into one field (up to Python's field size
limit, where :mod:`csv` gives up with an error), or, closed by another stray
quote lines later, merge the rows between into one record of the right width
and garbage content. The feeds read here (URLhaus, PhishTank) write one line
per record and their URLs hold no raw line breaks, so :class:`CsvRecords`
reads one record per line: a line whose quoted field is still open at its
end, or that :mod:`csv` refuses outright (a field over its limit), is
reported as damaged, and reading goes on with the next line.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import TypeAlias

__all__ = ["CsvRecord", "CsvRecords", "Lines"]

_Line: TypeAlias = tuple[int, str, bool]  # number, text, held non-UTF-8 bytes

#: One CSV record: ``(line, row, bad, damage)``. ``line`` is its line number,
#: ``bad`` whether the line held bytes that are not UTF-8, ``damage`` ``None``
#: for a readable record, else why it could not be read (``row`` then holds
#: the line as written). A plain tuple: one is built per record of a feed.
CsvRecord: TypeAlias = tuple[int, list[str], bool, str | None]


class Lines:
    """A feed file's lines decoded as UTF-8, one at a time.

    Lines end at ``\n`` or ``\r\n``, and keep their ending; a file whose first
    line holds a bare ``\r`` (old Mac exports) has its lines split at those
    too. ``number`` is the number of the last line read;
    ``bad`` turns true when a line held bytes that are not UTF-8 (decoded
    with U+FFFD) and stays true until the reader resets it.
    """

    def __init__(self, handle: Iterable[bytes]) -> None:
        self._handle = handle
        self.number = 0
        self.bad = False

    def __iter__(self) -> Iterator[str]:
        handle = iter(self._handle)
        first = next(handle, None)
        if first is None:
            return
        raws = chain((first,), handle)
        if -1 < first.find(b"\r") < len(first) - 2:
            # A bare CR inside the first line: the file ends lines with CRs.
            yield from (self._decode(piece) for piece in _cr_split(raws))
            return
        for raw in raws:
            self.number += 1
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("utf-8", "replace")
                self.bad = True
            if self.number == 1 and text.startswith("\ufeff"):
                text = text[1:]
            yield text

    def _decode(self, raw: bytes) -> str:
        """Count and decode one line, noting bytes that are not UTF-8."""
        self.number += 1
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("utf-8", "replace")
            self.bad = True
        if self.number == 1 and text.startswith("\ufeff"):
            text = text[1:]
        return text


def _cr_split(raws: Iterable[bytes]) -> Iterator[bytes]:
    """Split lines further at bare carriage returns, keeping the endings."""
    for raw in raws:
        yield from raw.splitlines(keepends=True)


class CsvRecords:
    """CSV records, one per line, of a file whose ``#`` lines are comments.

    Only lines that start with ``#`` are comments; ``commented`` keeps them
    (without the ``#``), where abuse.ch puts its header. Blank lines are
    skipped. Iterating yields :data:`CsvRecord` tuples.
    """

    def __init__(self, handle: Iterable[bytes]) -> None:
        self.lines = Lines(handle)
        self.commented: list[str] = []
        self._file = iter(self.lines)
        self._current: _Line | None = None  # the line of the record being read
        self._next: _Line | None = None  # a line read too far, to read again
        self._left_open = False

    def __iter__(self) -> Iterator[CsvRecord]:
        while True:
            try:
                yield from self._records(csv.reader(self._source()))
            except csv.Error as exc:
                damage = f"the line cannot be read as CSV ({exc})"
            else:
                if not self._left_open:
                    return
                damage = "a quoted field opened on this line is not closed on it"
            current, self._current, self._left_open = self._current, None, False
            if current is not None:
                yield current[0], [current[1].rstrip("\r\n")], current[2], damage

    def _records(self, reader: Iterator[list[str]]) -> Iterator[CsvRecord]:
        """Yield the records of one reader until its source stops."""
        for row in reader:
            if self._left_open:
                return  # the partial row of a quote left open: not a record
            if self._current is None:  # pragma: no cover - a row needs a line
                raise RuntimeError("csv returned a row without reading a line")
            line, _, bad = self._current
            self._current = None
            if len(row) > 1 or (row and row[0].strip()):
                yield line, row, bad, None

    def _source(self) -> Iterator[str]:
        """Data lines for one reader: a line to read again first, then the file's.

        Stops, marking the record left open, when the reader asks for a
        second line for one record, or the file ends inside a record.
        """
        lines = self.lines
        if self._next is not None:
            self._current, self._next = self._next, None
            yield self._current[1]
        for text in self._file:
            if text[:1] == "#":
                self.commented.append(text.lstrip("#").strip())
                lines.bad = False
                continue
            item = (lines.number, text, bad := lines.bad)
            if bad:
                lines.bad = False
            if self._current is not None:
                self._next, self._left_open = item, True
                return
            self._current = item
            yield text
        self._left_open = self._current is not None
