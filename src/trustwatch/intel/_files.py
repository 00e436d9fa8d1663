"""Opening feed files, and errors that name the file instead of crashing.

Compression is told by content, not name: gzip data is decompressed whatever
the file is called, and a ``.gz`` file that holds no gzip data is refused
(it is often a download that was decompressed on the way; the hint says so).
Text feeds must be UTF-8: a file that starts with a UTF-16 or UTF-32 byte
order mark, or whose first bytes are mostly NULs or invalid UTF-8, is not a
text feed at all and is refused as a whole; a few bad bytes stay local to
their records (the loaders reject those records with reason ``encoding``).

:func:`expand_feed_path` turns one path a user named (file, folder or glob)
into feed files, for :func:`trustwatch.intel.feeds.resolve_feed_paths`.

Every failure to open or read a file comes out of :func:`feed_errors` as a
:class:`~trustwatch.errors.ConfigError` (missing, a directory, unreadable) or
an :class:`~trustwatch.errors.InvalidIndicatorError` (damaged gzip, not
text), never as a raw :class:`OSError`.

A caller may cap how many bytes a feed file gives once decompressed:
:func:`open_feed` takes ``limit``, and :func:`read_limit` sets one for every
:func:`open_feed` in its block (``trustwatch intel sync`` uses the feed's
``max_bytes``, so a small gzip file that inflates to gigabytes is refused
with :class:`~trustwatch.errors.InvalidIndicatorError` once the cap is
passed, rather than read to the end).
"""

from __future__ import annotations

import glob
import gzip
import io
import os
import re
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Final

from trustwatch.errors import ConfigError, InvalidIndicatorError, TrustwatchError

__all__ = [
    "MISP_MANIFEST",
    "expand_feed_path",
    "feed_errors",
    "is_misp_feed_folder",
    "open_feed",
    "read_limit",
]

#: The file that makes a folder one feed (a MISP feed) rather than many files.
MISP_MANIFEST: Final = "manifest.json"

_GZIP_MAGIC: Final = b"\x1f\x8b"
# what an HTML document starts with, after blanks and a UTF-8 byte order mark
_HTML_STARTS: Final = (b"<!doctype html", b"<html")
_BLANK: Final = b" \t\r\n\f\xef\xbb\xbf"
_UNICODE_BOMS: Final = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
# Share of NUL or undecodable bytes in a file's head past which it is binary.
_NOT_TEXT_SHARE: Final = 0.1
_CHUNK: Final = 1 << 16
_READ_LIMIT: ContextVar[int | None] = ContextVar("feed_read_limit", default=None)


@contextmanager
def read_limit(limit: int | None) -> Iterator[None]:
    """Cap the decompressed bytes of every :func:`open_feed` in the block.

    ``None`` removes the cap.
    """
    token = _READ_LIMIT.set(limit)
    try:
        yield
    finally:
        _READ_LIMIT.reset(token)


@contextmanager
def open_feed(
    path: Path, limit: int | None = None, *, refuse_html: bool = False
) -> Iterator[io.BufferedIOBase]:
    """Open a feed file for reading bytes, decompressing gzip data.

    Parameters
    ----------
    path
        The file.
    limit
        Most bytes the file may give once decompressed; by default the cap
        set by :func:`read_limit`, if any.
    refuse_html
        Refuse a file that is an HTML document (it starts with
        ``<!doctype html`` or ``<html``), for list and CSV formats: an error
        or login page may hold a few lines that read as values.

    Raises
    ------
    InvalidIndicatorError
        When a ``.gz`` file holds no gzip data, the file is not UTF-8 text
        (see the module docstring), it is HTML and ``refuse_html`` is set,
        or it gives more than ``limit`` bytes (raised while reading).
    OSError
        When the file cannot be opened; :func:`feed_errors` turns it into a
        :class:`~trustwatch.errors.ConfigError`.
    """
    cap = _READ_LIMIT.get() if limit is None else limit
    with path.open("rb") as raw:
        if raw.peek(2)[:2] != _GZIP_MAGIC:
            _check_not_gzip_name(path, raw.peek(2))
            if cap is not None and os.fstat(raw.fileno()).st_size > cap:
                raise _over_limit(path, cap)
            _check_text(path, raw.peek(8192), refuse_html)
            yield raw
            return
        with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
            if cap is None:
                _check_text(path, unzipped.peek(8192), refuse_html)
                yield unzipped
                return
            capped = io.BufferedReader(_CappedReader(unzipped, path, cap), _CHUNK)
            _check_text(path, capped.peek(8192), refuse_html)
            yield capped


class _CappedReader(io.RawIOBase):
    """Reads a decompressing stream, refusing to give more than ``cap`` bytes."""

    def __init__(self, inner: gzip.GzipFile, path: Path, cap: int) -> None:
        self._inner = inner
        self._path = path
        self._cap = cap
        self._given = 0

    def readable(self) -> bool:
        """Return ``True``: this is a reader."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` from the stream; raise once past the cap."""
        view = memoryview(buffer).cast("B")
        count = self._inner.readinto(
            view[: min(len(view), self._cap + 1 - self._given)]
        )
        self._given += count
        if self._given > self._cap:
            raise _over_limit(self._path, self._cap)
        return count


def _over_limit(path: Path, cap: int) -> InvalidIndicatorError:
    """Return the error for a file that gives more than ``cap`` bytes."""
    return InvalidIndicatorError(
        f"feed file {path} gives more than {cap:,} bytes once decompressed; "
        "hint: it may be a decompression bomb; raise the feed's max_bytes if "
        "the feed really is that big"
    )


def _check_not_gzip_name(path: Path, head: bytes) -> None:
    """Refuse a non-empty ``.gz`` file whose content is not gzip."""
    if path.suffix.lower() == ".gz" and head:
        raise InvalidIndicatorError(
            f"feed file {path} is named .gz but is not gzip data; hint: it may "
            "have been decompressed on download, rename it without .gz"
        )


def _check_text(path: Path, head: bytes, refuse_html: bool = False) -> None:
    """Refuse a file whose first bytes show it is not UTF-8 text (or is HTML)."""
    if refuse_html and head.lstrip(_BLANK)[:14].lower().startswith(_HTML_STARTS):
        raise InvalidIndicatorError(
            f"feed file {path} is an HTML page, not a list; hint: a server sent "
            "an error or login page instead of the feed, nothing was loaded from "
            "it; check the url, or the format if the feed really is HTML"
        )
    if head.startswith(_UNICODE_BOMS):
        raise InvalidIndicatorError(
            f"feed file {path} is UTF-16 or UTF-32 text (it starts with a byte "
            "order mark); hint: re-export it as UTF-8"
        )
    if not head:
        return
    nuls = head.count(0)
    invalid = head.decode("utf-8", "replace").count("\ufffd")
    if nuls + invalid > _NOT_TEXT_SHARE * len(head):
        raise InvalidIndicatorError(
            f"feed file {path} is not a text feed: {nuls + invalid} of its first "
            f"{len(head)} bytes are NULs or not UTF-8; hint: pass the feed itself "
            "as UTF-8 text (or gzip of it), not an archive, binary or UTF-16 file"
        )


@contextmanager
def feed_errors(path: Path, line: Callable[[], int] | None = None) -> Iterator[None]:
    """Turn errors opening or reading ``path`` into trustwatch errors.

    ``line`` returns the number of the last line read, for the message.
    """
    try:
        yield
    except TrustwatchError:
        raise
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InvalidIndicatorError(
            f"feed file {path} has damaged gzip data{_after(line)}: {exc}; hint: "
            "the download was probably cut short, fetch the file again"
        ) from exc
    except OSError as exc:
        raise _unreadable(path, exc) from exc


def _after(line: Callable[[], int] | None) -> str:
    """Return `` after line N`` when the line is known."""
    number = line() if line is not None else 0
    return f" after line {number}" if number else ""


def _unreadable(path: Path, exc: OSError) -> ConfigError:
    """Return the error for a path that cannot be opened or read."""
    if isinstance(exc, FileNotFoundError | NotADirectoryError):
        return ConfigError(
            f"feed file {path} does not exist; hint: check the path, or run the "
            "download that fetches it first"
        )
    if isinstance(exc, IsADirectoryError):
        return ConfigError(
            f"feed path {path} is a directory, not a file; hint: pass the files "
            "inside it or a glob (resolve_feed_paths expands both)"
        )
    if isinstance(exc, PermissionError):
        return ConfigError(
            f"cannot read feed file {path}: permission denied; hint: check the "
            "file's permissions and owner"
        )
    return ConfigError(
        f"cannot read feed file {path}: {exc.strerror or exc}; hint: check the "
        "file and the disk it is on"
    )


# --- naming feed files ---------------------------------------------------------

_GLOB_MAGIC: Final = re.compile(r"[*?\[]")
_URL_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def expand_feed_path(entry: str | Path) -> list[Path]:
    """Return the feed files one named path stands for, or raise.

    See :func:`trustwatch.intel.feeds.resolve_feed_paths` for the rules.
    """
    path = Path(entry)
    try:
        if is_misp_feed_folder(path):
            return [path]
        if path.is_dir():
            return _folder_files(path, required=True)
        if path.exists():
            return [path]
        text = os.fspath(entry)
        if _GLOB_MAGIC.search(text):
            return _glob_files(text)
    except OSError as exc:
        raise ConfigError(
            f"cannot look at feed path {path}: {exc.strerror or exc}; hint: check "
            "the permissions of the folders above it"
        ) from exc
    if _URL_SCHEME.match(os.fspath(entry)):
        from trustwatch.intel.feedlist import redact_url

        raise ConfigError(
            f"feed path {redact_url(os.fspath(entry))} is a URL, not a file; hint: "
            "feed paths are read, never fetched: download the feed first, or "
            "keep it fresh with `trustwatch intel sync`"
        )
    raise ConfigError(
        f"feed path {path} does not exist; hint: check the spelling and the "
        "folder trustwatch runs from"
    )


def is_misp_feed_folder(path: Path) -> bool:
    """Return whether ``path`` is a MISP feed folder: one feed, not many files."""
    return path.is_dir() and (path / MISP_MANIFEST).is_file()


def _folder_files(folder: Path, *, required: bool) -> list[Path]:
    """Return the regular, visible files directly inside ``folder``, sorted."""
    files = sorted(
        (p for p in folder.iterdir() if not p.name.startswith(".") and p.is_file()),
        key=lambda p: p.name,
    )
    if required and not files:
        raise ConfigError(
            f"feed folder {folder} holds no feed file; hint: check the download "
            "that fills it ran (hidden files and subfolders are not read)"
        )
    return files


def _glob_files(pattern: str) -> list[Path]:
    """Return the files a glob matches, folders among them expanded."""
    files: list[Path] = []
    for match in sorted(glob.glob(pattern, recursive=True)):
        path = Path(match)
        if is_misp_feed_folder(path):
            files.append(path)
        elif path.is_dir():
            files += _folder_files(path, required=False)
        elif path.exists():
            files.append(path)
    if not files:
        raise ConfigError(
            f"feed glob {pattern!r} matches no file; hint: check the pattern "
            "and the folder it starts from"
        )
    return files
