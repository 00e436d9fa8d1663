"""Open input files, compressed or not, and read them line by line with a limit.

Compression is recognised by its magic number, not by the file name, so a
gzip file named ``events.jsonl`` (or reached through a symbolic link with
another name) is still decompressed. Before any line is yielded, the start of
the file can be checked: :func:`check_text` refuses UTF-16 and UTF-32 text
and well-known binary formats, so that such a file becomes one dead letter
instead of one per line.
"""

from __future__ import annotations

import gzip
import io
import sys
import zlib
from collections.abc import Callable, Iterator
from io import BufferedIOBase
from pathlib import Path
from typing import BinaryIO

from trustwatch.errors import TrustwatchError

__all__ = [
    "HEAD_BYTES",
    "STDIN",
    "UnreadableError",
    "check_text",
    "iter_line_blocks",
    "open_binary",
]

HEAD_BYTES = 4096
"""Bytes from the start of a file that a check sees (fewer if the file is shorter)."""

STDIN = Path("<stdin>")
"""The input named ``-``: standard input, read as a file that cannot seek.

Every other resolved input is an absolute path, and readers test for this
very object (``is``), so a file named ``<stdin>`` is read as a file.
"""

_BOM = b"\xef\xbb\xbf"
_GZIP_MAGIC = b"\x1f\x8b"
_BLOCK = 1 << 16  # bytes read at a time
_RAW_HEAD = 1024  # bytes of the start of a refused file kept in its dead letter
_SAMPLE = 256  # bytes looked at for NUL bytes between characters

# Longer marks first: the UTF-32 LE mark begins with the UTF-16 LE one.
_WIDE_MARKS = (
    (b"\x00\x00\xfe\xff", "UTF-32 (big-endian)"),
    (b"\xff\xfe\x00\x00", "UTF-32 (little-endian)"),
    (b"\xfe\xff", "UTF-16 (big-endian)"),
    (b"\xff\xfe", "UTF-16 (little-endian)"),
)
_BINARY_MAGIC = (
    (b"PAR1", "a Parquet file", "pass --format parquet (format='parquet' in Python)"),
    (b"PK\x03\x04", "a zip archive", "unpack it, or compress with gzip instead"),
    (b"BZh", "bzip2-compressed", "decompress it, or compress with gzip instead"),
    (b"\xfd7zXZ\x00", "xz-compressed", "decompress it, or compress with gzip instead"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed", "decompress it, or use gzip instead"),
)
_UTF8_HINT = "convert it to UTF-8 first, e.g. with iconv -f UTF-16 -t UTF-8"


class UnreadableError(TrustwatchError):
    """A file could not be opened, is not text the reader can use, or broke off.

    Attributes
    ----------
    location
        Where reading stopped: ``"file"`` when nothing could be read,
        ``"line N"`` when the data broke off before line N.
    reason
        The dead-letter reason: ``"unreadable"``, ``"encoding"`` or
        ``"unsupported_format"``.
    raw
        The start of the file when its content was refused, else empty.
    """

    def __init__(
        self,
        location: str,
        message: str,
        *,
        reason: str = "unreadable",
        raw: bytes = b"",
    ) -> None:
        super().__init__(message)
        self.location = location
        self.reason = reason
        self.raw = raw


def open_binary(path: Path) -> BufferedIOBase:
    """Open a file for reading bytes, decompressing gzip data on the fly.

    :data:`STDIN` opens standard input; closing what is returned leaves it open.
    """
    if path is STDIN:
        stream = io.BufferedReader(_Borrowed(sys.stdin.buffer))
        if stream.peek(len(_GZIP_MAGIC))[: len(_GZIP_MAGIC)] == _GZIP_MAGIC:
            return gzip.GzipFile(fileobj=stream, mode="rb")
        return stream
    with path.open("rb") as probe:
        compressed = probe.read(len(_GZIP_MAGIC)) == _GZIP_MAGIC
    if compressed:
        return gzip.open(path, "rb")
    return path.open("rb")


class _Borrowed(io.RawIOBase):
    """Reads another binary stream and leaves it open when closed."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._source.read1(len(buffer))  # type: ignore[attr-defined]
        n = len(data)
        buffer[:n] = data
        return n


def check_text(path: Path, head: bytes) -> None:
    """Refuse a file whose first bytes show it is not UTF-8 (or ASCII) text.

    Parameters
    ----------
    path
        The file, for the message.
    head
        Up to :data:`HEAD_BYTES` bytes from its start, decompressed, without
        a UTF-8 byte order mark.

    Raises
    ------
    UnreadableError
        ``"encoding"`` for UTF-16 or UTF-32 text (a byte order mark, or NUL
        bytes between characters); ``"unsupported_format"`` for a Parquet
        file, a zip archive or data compressed with something else than gzip.
    """
    for mark, name in _WIDE_MARKS:
        if head.startswith(mark):
            raise _refused(path, head, "encoding", f"is {name} text", _UTF8_HINT)
    if _nul_between_characters(head[:_SAMPLE]):
        why = "is UTF-16 or UTF-32 text (NUL bytes between characters)"
        raise _refused(path, head, "encoding", why, _UTF8_HINT)
    for magic, name, hint in _BINARY_MAGIC:
        if head.startswith(magic):
            raise _refused(path, head, "unsupported_format", f"is {name}", hint)


def _nul_between_characters(sample: bytes) -> bool:
    """Tell ASCII text stored in two or four bytes a character (NUL in between)."""
    if len(sample) < 4:
        return False
    even, odd = sample[0::2], sample[1::2]
    # In UTF-16 one of the two byte positions is almost always NUL; in UTF-32
    # the odd positions are.
    return max(even.count(0) / len(even), odd.count(0) / len(odd)) >= 0.75


def _refused(
    path: Path, head: bytes, reason: str, why: str, hint: str
) -> UnreadableError:
    return UnreadableError(
        "file", f"{path} {why}; hint: {hint}", reason=reason, raw=head[:_RAW_HEAD]
    )


def iter_line_blocks(
    path: Path,
    limit: int,
    *,
    block_size: int = _BLOCK,
    check: Callable[[Path, bytes], None] | None = None,
) -> Iterator[list[bytes]]:
    """Yield a file's lines in lists, one list per block read.

    Lines come without their ``\\n`` (a ``\\r`` before it stays) and in order,
    so a reader numbers them by counting. A line longer than ``limit + 1``
    bytes is never held whole: only its first ``limit + 2`` bytes are
    yielded, so ``len(line) > limit + 1`` tells an overlong line. A UTF-8 byte
    order mark at the start is dropped. Lists, not single lines, keep the cost
    per line low.

    Parameters
    ----------
    path
        The file; gzip data is decompressed whatever its name.
    limit
        Longest line, in bytes, that is yielded whole.
    block_size
        Bytes read at a time.
    check
        Called with ``path`` and the first :data:`HEAD_BYTES` bytes (fewer
        for a shorter file; decompressed, without a byte order mark) before
        any line is yielded; it refuses the file by raising
        :class:`UnreadableError`.

    Raises
    ------
    UnreadableError
        When the file cannot be opened, ``check`` refuses it, or its data is
        corrupt or cut short; ``location`` says where reading stopped.
    """
    try:
        stream = open_binary(path)
    except OSError as exc:
        raise UnreadableError("file", f"cannot open {path}: {exc.strerror}") from exc
    splitter = _LineSplitter(limit)
    failed: list[Exception] = []  # a read's failure, held until its bytes are fed
    with stream:
        try:
            block = _read_head(stream, max(block_size, HEAD_BYTES), failed)
            if check is not None and block:
                check(path, block)
            while block:
                yield splitter.feed(block)
                if failed:
                    raise failed[0]
                block = _read_some(stream, block_size, failed)
        except (OSError, EOFError, zlib.error) as exc:
            where = splitter.lines
            raise UnreadableError(
                f"line {where + 1}",
                f"{path} is corrupt or cut short after line {where}: {exc}",
            ) from exc
    last = splitter.finish()
    if last:
        yield last


def _read_some(stream: BufferedIOBase, size: int, failed: list[Exception]) -> bytes:
    """Read up to ``size`` bytes, fewer only at the end or at a failure.

    Pieces, not one ``read(size)``: a gzip stream cut short raises at its
    end, and ``read`` would drop every byte it had decompressed in that
    call. Each ``read1`` hands over what one step decompressed; a failure
    after some bytes is put in ``failed`` and those bytes are returned, so
    that every line before the cut is read.
    """
    parts: list[bytes] = []
    left = size
    try:
        while left > 0:
            part = stream.read1(left)
            if not part:
                break
            parts.append(part)
            left -= len(part)
    except (OSError, EOFError, zlib.error) as exc:
        if not parts:
            raise
        failed.append(exc)
    return b"".join(parts)


def _read_head(stream: BufferedIOBase, size: int, failed: list[Exception]) -> bytes:
    """Read the first ``size`` bytes (fewer only at the end), dropping a BOM."""
    head = _read_some(stream, size, failed)
    return head[len(_BOM) :] if head.startswith(_BOM) else head


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
