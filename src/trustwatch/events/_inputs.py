"""Turn the paths, folders and globs a user names into the files to read.

Each input is classified once, before anything is read:

- ``""`` is refused: it is what an unset shell variable expands to, and
  reading the current folder instead would surprise.
- An existing regular file is read as named; its format follows its name
  (:func:`format_of_name`) unless ``format`` forces one.
- An existing folder stands for every file below it whose name has a
  supported format, in sorted order. Entries whose names start with ``.`` or
  ``_`` are skipped (hidden files, Spark's ``_SUCCESS`` and ``_temporary``),
  and so are links to folders, so a link cannot lead the walk in a circle.
- Anything else that exists (a device such as ``/dev/null``, a named pipe, a
  socket) is refused, saying what it is.
- A path that does not exist but holds ``*``, ``?`` or ``[`` is a glob
  pattern; ``**`` matches any number of folders, following links to folders
  but never entering the same folder twice for the same rest of the pattern.
  Below the pattern's fixed start, names starting with ``.`` or ``_`` are
  skipped as in a folder (``lake/**/*.parquet`` never reads Spark's
  ``_temporary`` attempts), unless the pattern spells that first character
  itself (``lake/_staging/*.parquet``, ``lake/.*``).

The files found are returned by their real path (absolute, links resolved),
each once, in the order first met: the same file named twice, or reached both
through a folder and through a glob, is read once, and everything derived from
its path (dead-letter ids) does not depend on how it was spelled.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path, PurePath

from trustwatch.errors import ConfigError
from trustwatch.events._files import STDIN

__all__ = ["FORMATS", "format_of_name", "resolve_inputs"]

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
_LOG_NAMES = {"secure": "sshlog", "syslog": "sshlog", "messages": "sshlog"}
# logrotate's numbered (".1") and dated ("-20240101", "-2024010112") names.
_ROTATED = re.compile(r"(?:\.\d{1,4}|-\d{8}(?:\d{2})?)\Z")
_GLOB_CHARS = frozenset("*?[")
_SKIPPED_PREFIXES = (".", "_")
_SPECIAL_KINDS = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
)
_NAME_HINT = (
    "supported names end in .jsonl, .ndjson, .json, .parquet or .log (text "
    "ones optionally with .gz, all optionally rotated as .1 or -YYYYMMDD), or "
    "are secure, syslog or messages"
)


def format_of_name(name: str) -> str | None:
    """Return the format a file name implies, or ``None`` when it implies none.

    Rotated names keep the format of the name they were rotated from.

    Examples
    --------
    >>> [format_of_name(n) for n in ("auth.log.2.gz", "secure-20240101", "a.txt")]
    ['sshlog', 'sshlog', None]
    """
    name = name.lower()
    compressed = name.endswith(".gz")
    if compressed:
        name = name[:-3]
    name = _ROTATED.sub("", name)
    kind = _SUFFIXES.get(PurePath(name).suffix) or _LOG_NAMES.get(name)
    if kind == "parquet" and compressed:
        return None  # Parquet compresses inside the file; a gzip of one is not read
    return kind


def resolve_inputs(
    paths: Iterable[str | Path] | str | Path, *, format: str = "auto"
) -> list[tuple[Path, str]]:
    """Expand paths, folders and globs into ``(file, format)`` pairs.

    Files come back by their real path, each once, in the order first met.
    ``"-"`` is standard input (:data:`~trustwatch.events._files.STDIN`), read
    as JSON Lines unless ``format`` says ``sshlog``; a file named ``-`` is
    passed as ``./-``.

    Raises
    ------
    ConfigError
        When a path is empty, does not exist or is not a regular file or
        folder, a glob matches nothing, a named file has no supported name
        and no ``format`` is given, or ``format`` is unknown.
    """
    if format not in FORMATS:
        raise ConfigError(
            f"unknown format {format!r}; hint: choose one of {', '.join(FORMATS)} "
            "(--format in the CLI)"
        )
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    found: dict[str, tuple[Path, str]] = {}
    named = 0
    for item in items:
        for path, kind in _resolve_one(item, format):
            named += 1
            real = str(STDIN) if path is STDIN else os.path.realpath(path)
            found.setdefault(real, (STDIN if path is STDIN else Path(real), kind))
    if named > len(found):
        logger.warning(
            "%d inputs repeat a file already listed (same real path); each file "
            "is read once",
            named - len(found),
        )
    return list(found.values())


def _resolve_one(item: str | Path, format: str) -> list[tuple[Path, str]]:
    if item == "-" or item is STDIN:
        return [(STDIN, _stdin_format(format))]
    text = str(item)
    if isinstance(item, str) and not item:
        raise ConfigError(
            "an input path is empty; hint: check for an unset shell variable, "
            "or pass '.' to read the current folder"
        )
    mode = _mode(text)
    if mode is None:
        return _missing(text, format)
    if stat.S_ISDIR(mode):
        return _folder(Path(text), format)
    if not stat.S_ISREG(mode):
        raise ConfigError(
            f"input path {text!r} is {_special_kind(mode)}, not a regular file "
            "or folder; hint: pass files or folders of events"
        )
    kind = _format(Path(text), format)
    if kind is None:
        csv = Path(text).name.lower().removesuffix(".gz").endswith(".csv")
        raise ConfigError(
            f"{text} has no supported name ({_NAME_HINT}); hint: pass --format "
            "jsonl, parquet or sshlog (format='jsonl' in Python) to say what it "
            "holds"
            + (
                "; a CSV of logins in the RBA dataset's layout is read by "
                "`trustwatch evaluate ato --rba FILE`"
                if csv
                else ""
            )
        )
    return [(Path(text), kind)]


def _stdin_format(format: str) -> str:
    """Return the format standard input is read in: JSON Lines unless told."""
    if format == "parquet":
        raise ConfigError(
            "Parquet cannot be read from standard input ('-'): its index is at "
            "the end of the file; hint: save it to a file and pass that"
        )
    return "jsonl" if format == "auto" else format


def _missing(text: str, format: str) -> list[tuple[Path, str]]:
    """Expand a path that does not exist as a glob, or say why it is unusable."""
    if _GLOB_CHARS.intersection(text):
        return _glob(text, format)
    if os.path.islink(text):
        raise ConfigError(
            f"input path {text!r} is a link to {os.readlink(text)!r}, which does "
            "not exist; hint: fix or remove the link"
        )
    raise ConfigError(
        f"input path {text!r} does not exist; hint: check the spelling, or quote "
        "a glob so that the shell does not expand it"
    )


def _mode(text: str) -> int | None:
    """Return the ``st_mode`` of a path (links followed), ``None`` if it is absent."""
    try:
        return os.stat(text).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(
            f"cannot use input path {text!r}: {exc.strerror}; hint: check that "
            "it exists and that you may read it"
        ) from exc
    except ValueError as exc:  # a NUL byte in the path
        raise ConfigError(f"input path {text!r} is not a valid path: {exc}") from exc


def _special_kind(mode: int) -> str:
    for test, name in _SPECIAL_KINDS:
        if test(mode):
            return name
    return "a special file"


def _format(path: Path, format: str) -> str | None:
    return format if format != "auto" else format_of_name(path.name)


def _folder(root: Path, format: str) -> list[tuple[Path, str]]:
    """List the supported files below a folder, in sorted order."""
    files, hidden = _walk(root)
    found = []
    for path in sorted(files):
        kind = _format(path, format)
        if kind is not None:
            found.append((path, kind))
    unsupported = len(files) - len(found)
    if not found:
        logger.warning(
            "folder %s holds no event file (%d files with other names, %d "
            "entries starting with '.' or '_'); %s",
            root,
            unsupported,
            hidden,
            _NAME_HINT,
        )
    elif unsupported or hidden:
        # a file of events under another name would be lost without a word;
        # hidden entries and markers such as _SUCCESS are expected in a lake
        logger.log(
            logging.WARNING if unsupported else logging.INFO,
            "folder %s: skipped %d files with no supported name and %d entries "
            "starting with '.' or '_'%s",
            root,
            unsupported,
            hidden,
            f"; {_NAME_HINT}" if unsupported else "",
        )
    return found


def _walk(root: Path) -> tuple[list[Path], int]:
    """Return the regular files below a folder and how many entries were skipped.

    Links to files are followed; links to folders are not, so no cycle exists.
    """
    files: list[Path] = []
    others: list[Path] = []
    hidden = 0
    stack = [root]
    while stack:
        folder = stack.pop()
        for entry in _entries(folder):
            if entry.name.startswith(_SKIPPED_PREFIXES):
                hidden += 1
            elif _is_dir(entry, follow=False):
                stack.append(folder / entry.name)
            elif _is_file(entry):
                files.append(folder / entry.name)
            else:
                others.append(folder / entry.name)
    if others:
        # a broken link or a pipe in a folder of events is a fault to see,
        # as it is when named on its own
        # repr: a file name may hold line breaks or terminal escapes
        shown = ", ".join(repr(str(path)) for path in sorted(others)[:3])
        more = f" and {len(others) - 3} more" if len(others) > 3 else ""
        logger.warning(
            "folder %s: skipped %d entries that are not regular files or "
            "folders (broken links, links to folders, pipes, sockets): %s%s",
            root,
            len(others),
            shown,
            more,
        )
    return files, hidden


def _glob(pattern: str, format: str) -> list[tuple[Path, str]]:
    """Expand a glob pattern into supported files, in sorted order."""
    found: list[tuple[Path, str]] = []
    unsupported = 0
    for match in sorted(_match(pattern)):
        if os.path.isdir(match):
            found.extend(_folder(match, format))
            continue
        kind = _format(match, format)
        if kind is None or not os.path.isfile(match):
            unsupported += 1
        else:
            found.append((match, kind))
    if unsupported:
        logger.info(
            "glob %r: skipped %d matches that are not files with a supported name",
            pattern,
            unsupported,
        )
    if not found:
        raise ConfigError(
            f"glob {pattern!r} matches no readable event file; hint: check the "
            f"pattern ({_NAME_HINT})"
        )
    return found


def _match(pattern: str) -> list[Path]:
    """Return the paths a glob pattern matches, guarding ``**`` against cycles.

    Without a cycle guard, a link from a folder to one of its ancestors makes
    ``**`` walk the same files again at every level until the path grows too
    long. Here each folder is entered at most once per position in the
    pattern.
    """
    parts = Path(pattern).parts
    fixed = 0
    while fixed < len(parts) and not _GLOB_CHARS.intersection(parts[fixed]):
        fixed += 1
    base = Path(*parts[:fixed]) if fixed else Path()
    matches: list[Path] = []
    visited: set[tuple[int, int, int]] = set()
    stack = [(base, fixed)]
    while stack:
        path, index = stack.pop()
        if index == len(parts):
            matches.append(path)
            continue
        part = parts[index]
        if part == "**":
            key = _folder_key(path)
            if key is None or (*key, index) in visited:
                continue
            visited.add((*key, index))
            stack.append((path, index + 1))
            # as a folder walk: no hidden folders, no Spark _temporary ones
            stack.extend(
                (path / e.name, index)
                for e in _entries(path)
                if not e.name.startswith(_SKIPPED_PREFIXES) and _is_dir(e, follow=True)
            )
        elif _GLOB_CHARS.intersection(part):
            stack.extend((path / name, index + 1) for name in _names(path, part))
        elif os.path.exists(path / part):
            stack.append((path / part, index + 1))
    return matches


def _names(folder: Path, part: str) -> list[str]:
    """Return the names in a folder that match one pattern component.

    Names starting with ``.`` or ``_`` match only a component that starts with
    the same character, as a folder walk skips them.
    """
    return [
        e.name
        for e in _entries(folder)
        if (part[:1] == e.name[:1] or not e.name.startswith(_SKIPPED_PREFIXES))
        and fnmatch.fnmatch(e.name, part)
    ]


def _folder_key(path: Path) -> tuple[int, int] | None:
    """Identify a folder by device and inode (links followed); ``None`` if not one."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return (info.st_dev, info.st_ino) if stat.S_ISDIR(info.st_mode) else None


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    """List a folder, or nothing when it cannot be listed."""
    try:
        with os.scandir(folder) as listing:
            return list(listing)
    except OSError as exc:
        logger.warning("cannot list folder %s: %s", folder, exc.strerror)
        return []


def _is_dir(entry: os.DirEntry[str], *, follow: bool) -> bool:
    try:
        return entry.is_dir(follow_symlinks=follow)
    except OSError:
        return False


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False
