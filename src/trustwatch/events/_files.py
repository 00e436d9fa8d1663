"""Open input files, compressed or not, and read them line by line with a limit."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from io import BufferedIOBase
from pathlib import Path

from trustwatch.errors import TrustwatchError

__all__ = ["UnreadableError", "iter_line_blocks", "open_binary"]

_BOM = b"\xef\xbb\xbf"
_BLOCK = 1 << 16  # small enough to salvage most of a cut-off gzip file


class UnreadableError(TrustwatchError):
    """A file could not be opened, or broke off while being read."""

    def __init__(self, location: str, message: str) -> None:
        super().__init__(message)
        self.location = location


def open_binary(path: Path) -> BufferedIOBase:
    """Open a file for reading bytes, decompressing ``.gz`` files on the fly."""
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")
    return path.open("rb")


def iter_line_blocks(
    path: Path, limit: int, *, block_size: int = _BLOCK
) -> Iterator[list[bytes]]:
    """Yield a file's lines in lists, one list per block read.

    Lines come without their ``\\n`` (a ``\\r`` before it stays) and in order,
    so a reader numbers them by counting. A line longer than ``limit + 1``
    bytes is never held whole: only its first ``limit + 2`` bytes are
    yielded, so ``len(line) > limit + 1`` tells an overlong line. A UTF-8 byte
    order mark at the start is dropped. Lists, not single lines, keep the cost
    per line low.

    Raises
    ------
    UnreadableError
        When the file cannot be opened, or its data is corrupt or cut short;
        ``location`` says where reading stopped.
    """
    try:
        stream = open_binary(path)
    except OSError as exc:
        raise UnreadableError("file", f"cannot open {path}: {exc.strerror}") from exc
    splitter = _LineSplitter(limit)
    with stream:
        try:
            block = stream.read(len(_BOM))
            if block == _BOM:
                block = stream.read(block_size)
            while block:
                yield splitter.feed(block)
                block = stream.read(block_size)
        except (OSError, EOFError, zlib.error) as exc:
            where = splitter.lines
            raise UnreadableError(
                f"line {where + 1}",
                f"{path} is corrupt or cut short after line {where}: {exc}",
            ) from exc
    last = splitter.finish()
    if last:
        yield last


class _LineSplitter:
    """Cut blocks of bytes into lines, bounding what is held."""

    __slots__ = ("_carry", "_dropping", "_limit", "lines")

    def __init__(self, limit: int) -> None:
        self._limit = limit + 1  # one more for a "\r" before the newline
        self._carry = b""
        self._dropping = False
        self.lines = 0

    def feed(self, block: bytes) -> list[bytes]:
        """Return the lines a block completes; keep the unfinished end."""
        parts = block.split(b"\n")
        tail = parts.pop()
        if parts and self._carry:
            parts[0] = self._carry + parts[0]
            self._carry = b""
        elif parts and self._dropping:  # the end of a line already cut short
            del parts[0]
            self._dropping = False
        limit = self._limit
        if len(block) > limit:
            lines = [p if len(p) <= limit else p[: limit + 1] for p in parts]
        else:
            # Only a line continued from earlier blocks can be too long.
            lines = parts
            if lines and len(lines[0]) > limit:
                lines[0] = lines[0][: limit + 1]
        if not self._dropping:
            self._carry = self._carry + tail if self._carry else tail
            if len(self._carry) > limit:
                lines.append(self._carry[: limit + 1])
                self._carry, self._dropping = b"", True
        self.lines += len(lines)
        return lines

    def finish(self) -> list[bytes]:
        """Return the last line when the input does not end with a newline."""
        last, self._carry = self._carry, b""
        self.lines += bool(last)
        return [last] if last else []
