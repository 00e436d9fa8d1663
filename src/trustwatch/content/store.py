"""Uploaded file content, read from a local folder of blobs named by SHA-256.

The platform keeps each uploaded file as a blob named by the lowercase hex of
its SHA-256, either flat (``<root>/<sha256>``) or in two levels of fan-out
folders (``<root>/ab/cd/<sha256>``); both layouts are read. The store is read
only and local: nothing is written and nothing is fetched.

Only a name of exactly 64 hex digits is ever turned into a path, so a hash
taken from an event cannot walk out of the folder; a blob that resolves
outside the root (through a link) or is not a regular file is refused. Reads
stop one byte past the size limit, so a huge blob costs at most the limit.

The store counts the files asked for and those it lacks
(:meth:`ContentStore.lookups`), each file once among the last
:data:`RECENT_LOOKUPS` asked, so that a run can say how many uploads it could
not read (a wrong ``--content-dir`` reads as all of them).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import re
import stat
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from trustwatch.content.extract import MAX_BYTES, extract_content
from trustwatch.content.model import Extraction
from trustwatch.errors import ConfigError, StorageError

__all__ = [
    "Blob",
    "ContentLookups",
    "ContentSource",
    "ContentStore",
    "extract_blob",
    "read_bounded",
    "valid_sha256",
]

logger = logging.getLogger(__name__)

_SHA256 = re.compile(r"[0-9a-f]{64}")
#: Files remembered as asked for, so that detectors reading one upload's file
#: in turn count it once.
RECENT_LOOKUPS = 4096
_CHUNK = 1024 * 1024
# a FIFO planted in the folder must not block the open
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


@dataclass(frozen=True, slots=True)
class Blob:
    """The bytes of one stored file, cut at the size limit.

    Attributes
    ----------
    data
        The first bytes of the file: all of them when ``size`` is within the
        limit, else the limit plus one byte (so an extractor sees it is over).
    size
        The file's size on disk in bytes.
    """

    data: bytes
    size: int

    @property
    def complete(self) -> bool:
        """Whether ``data`` holds the whole file."""
        return len(self.data) == self.size


class ContentSource(Protocol):
    """Anything that returns an uploaded file's bytes by its SHA-256."""

    def read(self, sha256: str) -> Blob | None:
        """Return the blob stored under ``sha256``, or ``None`` when absent."""
        ...


def valid_sha256(name: str) -> str | None:
    """Return ``name`` as a lowercase SHA-256 hex digest, or ``None``.

    Examples
    --------
    >>> valid_sha256("AB" * 32) == "ab" * 32
    True
    >>> valid_sha256("../../etc/passwd") is None
    True
    """
    lowered = name.lower()
    return lowered if _SHA256.fullmatch(lowered) else None


@dataclass(frozen=True, slots=True)
class ContentLookups:
    """Files a content store was asked for, and those it did not hold."""

    asked: int
    missing: int


class ContentStore:
    """A read-only folder of uploaded files named by their SHA-256.

    Parameters
    ----------
    root
        The folder. It must exist; it is never written.
    max_bytes
        Bytes read per blob at most (plus one, to tell a larger file apart).

    Raises
    ------
    trustwatch.errors.ConfigError
        When ``root`` is not a folder or ``max_bytes`` is negative.
    """

    def __init__(self, root: str | Path, *, max_bytes: int = MAX_BYTES) -> None:
        if max_bytes < 0:
            raise ConfigError(f"max_bytes={max_bytes} is negative; pass a byte count")
        path = Path(root)
        if not path.is_dir():
            raise ConfigError(
                f"content folder {str(path)!r} is not a folder; hint: pass the "
                "folder that holds the uploaded files named by SHA-256"
            )
        self.root = path.resolve()
        self.max_bytes = max_bytes
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._asked = 0
        self._missing = 0

    def __repr__(self) -> str:
        return f"ContentStore({str(self.root)!r})"

    def path_of(self, sha256: str) -> Path | None:
        """Return the resolved path of the blob for ``sha256``, or ``None``.

        A name that is not 64 hex digits, and a blob that resolves outside the
        root (through a link), have no path.
        """
        digest = valid_sha256(sha256)
        if digest is None:
            return None
        for candidate in (
            self.root / digest,
            self.root / digest[:2] / digest[2:4] / digest,
        ):
            resolved = self._resolved_inside(candidate)
            if resolved is not None and resolved.is_file():
                return resolved
        return None

    def read(self, sha256: str) -> Blob | None:
        """Return the blob for ``sha256``, or ``None`` when the store lacks it.

        Raises
        ------
        trustwatch.errors.StorageError
            When the blob exists but cannot be read, or (when read whole)
            its content does not hash to its name.
        """
        path = self.path_of(sha256)
        self._count(sha256, found=path is not None)
        if path is None:
            return None
        blob = read_bounded(path, self.max_bytes)
        if len(blob.data) == blob.size and hashlib.sha256(blob.data).hexdigest() != (
            sha256.strip().lower()
        ):
            # whoever can write here must not choose what a hash stands for
            raise StorageError(
                f"stored file {path.name[:12]}... does not hash to its name; "
                "hint: rebuild the content store from the uploads"
            )
        return blob

    def lookups(self) -> ContentLookups:
        """How many files :meth:`read` was asked for, and how many it lacked."""
        return ContentLookups(self._asked, self._missing)

    def _count(self, sha256: str, *, found: bool) -> None:
        key = sha256.strip().lower()
        if key in self._recent:
            self._recent.move_to_end(key)
            return
        self._recent[key] = None
        if len(self._recent) > RECENT_LOOKUPS:
            self._recent.popitem(last=False)
        self._asked += 1
        self._missing += not found

    def __contains__(self, sha256: object) -> bool:
        return isinstance(sha256, str) and self.path_of(sha256) is not None

    def _resolved_inside(self, path: Path) -> Path | None:
        """Return ``path`` with links followed if it stays under the root."""
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError):  # a link loop
            return None
        return resolved if resolved.is_relative_to(self.root) else None


def read_bounded(path: str | Path, max_bytes: int = MAX_BYTES) -> Blob:
    """Read at most ``max_bytes + 1`` bytes of a regular file.

    Raises
    ------
    trustwatch.errors.StorageError
        When the path is not a regular file (a folder, FIFO or device) or
        cannot be read.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as error:
        raise StorageError(f"cannot open {str(path)!r}: {error.strerror}") from error
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise StorageError(f"{str(path)!r} is not a regular file; not read")
        return Blob(_read_up_to(fd, max_bytes + 1), info.st_size)
    except OSError as error:
        raise StorageError(f"cannot read {str(path)!r}: {error.strerror}") from error
    finally:
        os.close(fd)


def _read_up_to(fd: int, limit: int) -> bytes:
    """Read from ``fd`` until end of file or ``limit`` bytes."""
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = os.read(fd, min(_CHUNK, left))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def extract_blob(
    blob: Blob,
    *,
    name: str | None = None,
    mime_type: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> Extraction:
    """Extract a stored blob's URLs and forms, reporting its true size.

    The blob is read as an uploaded file: no host is known, so relative links
    stay relative and forms are not judged against a page domain.
    """
    limit = max_bytes
    if not blob.complete:
        # the read stopped one byte past the store's own limit
        limit = min(max_bytes, max(len(blob.data) - 1, 0))
    extraction = extract_content(
        blob.data, name=name, mime_type=mime_type, max_bytes=limit
    )
    if blob.complete:
        return extraction
    errors = tuple(
        f"too_large: {blob.size} bytes; the limit is {limit}"
        if error.startswith("too_large:")
        else error
        for error in extraction.errors
    )
    return dataclasses.replace(extraction, errors=errors)
