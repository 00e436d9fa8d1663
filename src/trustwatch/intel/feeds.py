"""Threat-feed loaders: files in, indicators and rejected records out.

One loader per published layout:

``plain``
    One value per line (URL, domain, IP, CIDR or hash, guessed per line);
    ``#`` starts a comment only at the start of a line. Defanged values
    (``hxxp``, ``[.]``, ``(dot)``, ``[:]``...) are refanged; a line that holds
    several whitespace-separated values is one reject (``several_values``).
``urlhaus_csv``
    abuse.ch URLhaus CSV dumps (``csv_online``, ``csv_recent``, full):
    ``#`` comment lines, often with a commented-out header, quoted fields.
``urlhaus_json``
    URLhaus JSON dumps: an object of id -> list of records.
``phishtank_csv``, ``phishtank_json``
    PhishTank ``online-valid`` / ``verified_online`` dumps.
``openphish_txt``, ``openphish_json``
    OpenPhish feed: one URL per line, or an object of URL -> first-seen time.
``hashlist``
    signature-base / LOKI style ``HASH;COMMENT`` (or ``HASH;SCORE;COMMENT``).
``misp_event``, ``misp_feed``
    MISP event files and MISP feed folders (``manifest.json`` plus one file
    per event; the folder is the feed path): see :mod:`trustwatch.intel.misp`.
``stix21``
    STIX 2.1 bundles or JSON lists of STIX objects: see
    :mod:`trustwatch.intel.stix`.

Every record gives either one :class:`~trustwatch.intel.indicators.Indicator`
or one :class:`Reject`; nothing is dropped silently. Only the column that holds
the indicator becomes one: PhishTank's target brand and detail URL, URLhaus's
own link and OpenPhish's timestamps are metadata, never indicators (MISP once
turned the brand column into alerts on every Amazon visit).

Damage stays as local as the file allows. A bad record (bytes that are not
UTF-8, a row of the wrong width, an unterminated quote, a value that is no
indicator) is one :class:`Reject` and reading goes on; a file that cannot be
read at all raises a :class:`~trustwatch.errors.ConfigError` (missing, a
directory, unreadable) or an :class:`~trustwatch.errors.InvalidIndicatorError`
(damaged gzip, not UTF-8 text, JSON of the wrong shape) naming the file, and
the line where one is known. :func:`resolve_feed_paths` turns what a user
names (files, folders, globs) into the files to load.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, TypeAlias

import msgspec

from trustwatch.errors import ConfigError, InvalidIndicatorError
from trustwatch.intel._bulk import paused_gc
from trustwatch.intel._files import (
    expand_feed_path,
    feed_errors,
    is_misp_feed_folder,
    open_feed,
)
from trustwatch.intel._json import TooDeep, decode_records
from trustwatch.intel._lines import CsvRecords, Lines
from trustwatch.intel._times import parse_feed_time
from trustwatch.intel.formats import (
    FEED_FORMATS,
    FORMAT_DEFAULTS,
    FeedFormat,
    FormatDefaults,
    check_format,
    sniff_format,
)
from trustwatch.intel.indicators import (
    HASH_TYPES,
    WILDCARD_TAG,
    Indicator,
    IndicatorType,
    RefusedIndicatorError,
    SeveralValuesError,
    normalize_indicator,
)
from trustwatch.intel.stix_patterns import PatternIndicator

__all__ = [
    "FEED_FORMATS",
    "FORMAT_DEFAULTS",
    "FeedFormat",
    "FeedLoad",
    "FormatDefaults",
    "Reject",
    "iter_feed",
    "load_feed",
    "resolve_feed_paths",
    "sniff_format",
]

log = logging.getLogger(__name__)

_RAW_LIMIT: Final = 200
_UNVERIFIED_CONFIDENCE: Final = 50


class Reject(msgspec.Struct, frozen=True, kw_only=True):
    """A feed record that gave no indicator, and why.

    Attributes
    ----------
    location
        Where it is, always ``<file>:<place>``: ``<file>:<line>`` for line
        formats (``list.txt:8``), ``<file>:record <n>`` or ``<file>:id <id>``
        for JSON records, ``<file>:<stix-id>`` for STIX objects and
        ``<file>:<event>/<attribute>`` for MISP attributes.
    raw
        The start of the record as written (at most 200 characters).
    reason
        A short stable code: ``invalid_url``, ``invalid_domain``,
        ``invalid_ip``, ``invalid_cidr``, ``invalid_hash``, ``invalid_value``
        (a value of no recognisable type), ``too_long``, ``too_broad``,
        ``not_routable``, ``wildcard`` (see
        :class:`~trustwatch.intel.indicators.RefusedIndicatorError`),
        ``several_values`` (a line of a ``plain`` feed holding more than one
        value, see :class:`~trustwatch.intel.indicators.SeveralValuesError`),
        ``malformed_row`` (wrong width, unterminated quote, unreadable CSV),
        ``malformed_record`` (a JSON record that is not an object),
        ``too_deep`` (a JSON record nested too deeply to decode, about a
        thousand levels),
        ``invalid_timestamp`` and ``invalid_field`` (a STIX property of the
        wrong kind, see :func:`~trustwatch.intel.stix.check_stix_fields`),
        ``encoding`` (bytes that are not UTF-8), ``not_misp_event`` (a
        ``misp_event`` file that is JSON of another kind), ``missing_event``.
    message
        What was wrong, in words.
    """

    location: str
    raw: str
    reason: str
    message: str


class FeedLoad(msgspec.Struct, kw_only=True):
    """What one feed file gave: its indicators, its rejects and counts.

    Attributes
    ----------
    path
        The file read.
    feed
        Feed name written into every indicator.
    format
        The layout read (after sniffing, for ``auto``).
    indicators
        One per accepted record, in file order (duplicates kept: the store
        merges them).
    rejects
        One per record that gave no indicator.
    bad_timestamps
        Records kept without a time because theirs could not be read.
    skipped
        Records that are deliberately not indicators, counted by why (MISP
        attributes not marked for detection: ``to_ids_false``, ``deleted``,
        ``unsupported_type:<type>``; STIX observations by object type);
        neither indicators nor rejects.
    patterns
        STIX indicators whose patterns are more than a list of values (see
        :mod:`trustwatch.intel.stix`): add them with
        :meth:`~trustwatch.intel.store.IndicatorStore.add_patterns`.
    revoked
        STIX ids of the revoked indicators seen in the load.
    """

    path: str
    feed: str
    format: FeedFormat
    indicators: list[Indicator]
    rejects: list[Reject]
    bad_timestamps: int = 0
    skipped: dict[str, int] = {}
    patterns: list[PatternIndicator] = []
    revoked: list[str] = []

    @property
    def records(self) -> int:
        """Number of records read (comments and blank lines excluded)."""
        return len(self.indicators) + len(self.rejects)

    @property
    def accepted(self) -> int:
        """Number of records that gave an indicator."""
        return len(self.indicators)

    @property
    def rejected(self) -> int:
        """Number of records that gave none."""
        return len(self.rejects)

    def by_type(self) -> dict[str, int]:
        """Return the number of indicators of each type."""
        return dict(Counter(indicator.type for indicator in self.indicators))


@dataclass(slots=True)
class _Context:
    """Per-load settings and counters shared by a reader's helpers."""

    name: str
    feed: str
    confidence: int
    explicit_confidence: bool
    threat: str | None
    bad_timestamps: int = 0
    lines: Lines | None = None
    skipped: Counter[str] = field(default_factory=Counter)
    patterns: list[PatternIndicator] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)

    def line(self) -> int:
        """Return the number of the last line read, 0 before any or for JSON."""
        return self.lines.number if self.lines is not None else 0


_Item: TypeAlias = Indicator | Reject
# Where a record is, as (prefix, suffix): formatted only when it is rejected.
_Where: TypeAlias = tuple[str, object]
_Reader: TypeAlias = Callable[[Path, _Context], Iterator[_Item]]


# --- public API -----------------------------------------------------------------


def load_feed(
    path: str | Path,
    *,
    format: str = "auto",
    feed: str | None = None,
    confidence: int | None = None,
) -> FeedLoad:
    """Read a feed file into indicators and rejects.

    Parameters
    ----------
    path
        The file (``.gz`` files are decompressed on the fly).
    format
        One of :data:`FEED_FORMATS`, or ``auto`` to sniff it from the first
        bytes (see :func:`sniff_format`).
    feed
        Feed name for the indicators; defaults per format (``urlhaus``,
        ``phishtank``, ``openphish``) or to the file's stem.
    confidence
        Confidence for every indicator, overriding the format's default.

    Raises
    ------
    ConfigError
        When the file does not exist, is a directory or cannot be read, when
        ``format`` is unknown or cannot be sniffed, or ``confidence`` is
        outside 0..100.
    InvalidIndicatorError
        When the file is not a feed at all: damaged gzip data, not UTF-8
        text, or JSON that is invalid or of another shape. Damage to single
        records gives rejects instead.
    """
    source = Path(path)
    fmt = sniff_format(source) if format == "auto" else check_format(format)
    ctx = _context(source, fmt, feed, confidence)
    indicators: list[Indicator] = []
    rejects: list[Reject] = []
    with paused_gc(), feed_errors(source, ctx.line):
        for item in _READERS[fmt](source, ctx):
            if isinstance(item, Reject):
                rejects.append(item)
            else:
                indicators.append(item)
    log.info(
        "feed %s loaded (%s): %d indicators, %d rejects, %d bad timestamps",
        ctx.feed,
        fmt,
        len(indicators),
        len(rejects),
        ctx.bad_timestamps,
    )
    if ctx.skipped:
        log.info(
            "feed %s: %d records skipped as no indicators: %s",
            ctx.feed,
            ctx.skipped.total(),
            ", ".join(f"{why} {n}" for why, n in ctx.skipped.most_common(12)),
        )
    return FeedLoad(
        path=str(source),
        feed=ctx.feed,
        format=fmt,
        indicators=indicators,
        rejects=rejects,
        bad_timestamps=ctx.bad_timestamps,
        skipped=dict(ctx.skipped),
        patterns=ctx.patterns,
        revoked=ctx.revoked,
    )


def iter_feed(
    path: str | Path,
    *,
    format: str = "auto",
    feed: str | None = None,
    confidence: int | None = None,
) -> Iterator[Indicator | Reject]:
    """Yield the feed's indicators and rejects one record at a time.

    Takes the same arguments, and raises the same errors, as
    :func:`load_feed`; use it for files too large to hold as lists (JSON
    layouts are still decoded whole).
    """
    source = Path(path)
    fmt = sniff_format(source) if format == "auto" else check_format(format)
    ctx = _context(source, fmt, feed, confidence)
    with feed_errors(source, ctx.line):
        yield from _READERS[fmt](source, ctx)
    if ctx.patterns:
        log.warning(
            "feed %s: %d STIX pattern indicators not yielded; hint: use "
            "load_feed() to get them",
            ctx.feed,
            len(ctx.patterns),
        )


def resolve_feed_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Turn the paths a user names into the feed files to load, each once.

    Each entry is, in this order of precedence:

    - a MISP feed folder (one holding ``manifest.json``): itself, one feed;
    - an existing folder: every regular file directly inside it, sorted by
      name; hidden files (``.name``: partial downloads, editor and OS files)
      and subfolders are skipped (use a ``**`` glob to go deeper);
    - an existing file (or other path that exists): itself;
    - a glob (``*``, ``?``, ``[...]``; ``**`` spans folders): its matches,
      sorted, folders among them expanded as above.

    Files are returned in the order named; a file reached twice (by a second
    name, a symbolic link or an overlapping glob) comes once, under its first
    name. A single ``str`` or ``Path`` is read as one path.

    Raises
    ------
    ConfigError
        When a path does not exist and is not a glob, a glob matches no file,
        a folder named explicitly holds no feed file, or a path is not a
        regular file (a pipe or a device).

    Examples
    --------
    >>> resolve_feed_paths(["feeds/", "extra/*.csv.gz"])  # doctest: +SKIP
    [PosixPath('feeds/openphish.txt'), PosixPath('feeds/urlhaus.csv'), ...]
    """
    entries: Iterable[str | Path] = (
        [paths] if isinstance(paths, str | os.PathLike) else paths
    )
    found: dict[str, Path] = {}
    for entry in entries:
        for path in expand_feed_path(entry):
            if not path.is_file() and not is_misp_feed_folder(path):
                # a pipe or device would block the load, or never end
                raise ConfigError(f"feed {path} is not a regular file")
            found.setdefault(os.path.realpath(path), path)
    return list(found.values())


def _context(
    path: Path, fmt: FeedFormat, feed: str | None, confidence: int | None
) -> _Context:
    """Build a load's settings from the format defaults and the overrides."""
    defaults = FORMAT_DEFAULTS[fmt]
    if confidence is not None and not 0 <= confidence <= 100:
        raise ConfigError(
            f"confidence {confidence!r} is outside 0..100; hint: pass a "
            "percentage or leave it to the format's default"
        )
    return _Context(
        name=path.name,
        feed=feed or defaults.feed or _stem(path),
        confidence=defaults.confidence if confidence is None else confidence,
        explicit_confidence=confidence is not None,
        threat=defaults.threat,
    )


def _stem(path: Path) -> str:
    """Return the file name without its extensions (``a.txt.gz`` -> ``a``)."""
    return path.name.split(".", 1)[0] or path.name


# --- shared record helpers ---------------------------------------------------


def _reject(location: str, raw: str, reason: str, message: str) -> Reject:
    """Build a reject and log where it is (never what it says)."""
    log.debug("feed record rejected at %s: %s", location, reason)
    return Reject(
        location=location, raw=raw[:_RAW_LIMIT], reason=reason, message=message
    )


def _encoding_reject(location: str, raw: str) -> Reject:
    """Reject a record that held bytes that are not UTF-8."""
    return _reject(
        location,
        raw,
        "encoding",
        "the record holds bytes that are not UTF-8; hint: re-export the feed as UTF-8",
    )


def _invalid_reason(type: IndicatorType | None) -> str:
    """Return the reject code for a value that did not normalise."""
    if type is None:
        return "invalid_value"
    return "invalid_hash" if type in HASH_TYPES else f"invalid_{type}"


def _build(
    ctx: _Context,
    value: str,
    type: IndicatorType | None,
    where: _Where,
    *,
    reference: str | None,
    first_seen: datetime | None = None,
    last_seen: datetime | None = None,
    tags: tuple[str, ...] = (),
    threat: str | None = None,
    confidence: int | None = None,
) -> _Item:
    """Normalise one value into an indicator, or a reject saying why not."""
    try:
        kind, normal = normalize_indicator(value, type)
    except RefusedIndicatorError as exc:
        return _reject(_location(where), value, exc.reason, str(exc))
    except SeveralValuesError as exc:
        return _reject(_location(where), value, "several_values", str(exc))
    except InvalidIndicatorError as exc:
        return _reject(_location(where), value, _invalid_reason(type), str(exc))
    if normal.startswith("*."):
        tags = (*tags, WILDCARD_TAG)
    return Indicator(
        type=kind,
        value=normal,
        feed=ctx.feed,
        first_seen=first_seen,
        last_seen=last_seen,
        confidence=ctx.confidence if confidence is None else confidence,
        tags=tags,
        threat=threat or ctx.threat,
        reference=reference,
    )


def _location(where: _Where) -> str:
    """Format a record's place in its file."""
    return f"{where[0]}{where[1]}"


def _time(ctx: _Context, text: object) -> datetime | None:
    """Read a feed time; count and drop one that cannot be read."""
    if not text:
        return None
    if not isinstance(text, str):
        ctx.bad_timestamps += 1
        return None
    try:
        return parse_feed_time(text)
    except ValueError:
        ctx.bad_timestamps += 1
        return None


def _value_lines(path: Path, ctx: _Context) -> Iterator[tuple[int, str, bool]]:
    """Yield (number, stripped line, had bad bytes) for each value line.

    Blank lines and lines whose first visible character is ``#`` are skipped;
    a ``#`` anywhere else is data (URL fragments).
    """
    with open_feed(path, refuse_html=True) as handle:
        lines = ctx.lines = Lines(handle)
        for line in lines:
            stripped = line.strip()
            if stripped and stripped[0] != "#":
                yield lines.number, stripped, lines.bad
            lines.bad = False


# --- line formats ---------------------------------------------------------------


def _read_plain(path: Path, ctx: _Context) -> Iterator[_Item]:
    """One value per line, type guessed per line."""
    return _read_lines(path, ctx, None)


def _read_openphish_txt(path: Path, ctx: _Context) -> Iterator[_Item]:
    """One URL per line."""
    return _read_lines(path, ctx, "url")


def _read_lines(
    path: Path, ctx: _Context, type: IndicatorType | None
) -> Iterator[_Item]:
    """Yield one item per value line, of a forced or guessed type."""
    prefix = f"{ctx.name}:"
    for number, line, bad in _value_lines(path, ctx):
        if bad:
            yield _encoding_reject(f"{prefix}{number}", line)
            continue
        yield _build(ctx, line, type, (prefix, number), reference=f"line {number}")


def _read_hashlist(path: Path, ctx: _Context) -> Iterator[_Item]:
    """``HASH;COMMENT`` or ``HASH;SCORE;COMMENT`` lines."""
    prefix = f"{ctx.name}:"
    for number, line, bad in _value_lines(path, ctx):
        if bad:
            yield _encoding_reject(f"{prefix}{number}", line)
            continue
        digest, score, comment = _split_hash_line(line)
        if ctx.explicit_confidence:
            score = None
        yield _build(
            ctx,
            digest,
            _hash_type_hint(digest),
            (prefix, number),
            reference=f"line {number}",
            tags=(comment[:_RAW_LIMIT],) if comment else (),
            threat=_comment_threat(comment),
            confidence=score,
        )


def _split_hash_line(line: str) -> tuple[str, int | None, str]:
    """Split a hash-list line into digest, optional 0..100 score and comment."""
    digest, _, rest = line.partition(";")
    score: int | None = None
    head, sep, tail = rest.partition(";")
    if sep and head.strip().isdigit():
        score, rest = min(int(head.strip()), 100), tail
    return digest.strip(), score, rest.strip()


_HASH_HINTS: Final[dict[int, IndicatorType]] = {32: "md5", 40: "sha1"}


def _hash_type_hint(digest: str) -> IndicatorType:
    """Return the hash type a digest's length suggests (sha256 when unsure).

    A type prefix (``sha1:``) is not counted; the digest's own check still
    refuses a prefix that names another type.
    """
    return _HASH_HINTS.get(len(digest.rpartition(":")[2].strip()), "sha256")


# Where a comment's lead ends: " - ", a URL (defanged too) or a ';'.
_COMMENT_CUT: Final = re.compile(
    r"\s+(?:-\s|h(?:tt|xx)ps?(?:\[?:\]?//|\[://\]))|;", re.IGNORECASE
)


def _comment_threat(comment: str) -> str | None:
    """Return the lead of a hash-list comment (its family or campaign)."""
    lead = _COMMENT_CUT.split(comment, maxsplit=1)[0].strip(" -")
    return lead[:_RAW_LIMIT] or None


# --- CSV formats --------------------------------------------------------------------


_HeaderPicker: TypeAlias = Callable[[list[str], list[str]], tuple[list[str], bool]]
_RecordReader: TypeAlias = Callable[[_Context, dict[str, Any], str], _Item]


def _read_csv(
    path: Path, ctx: _Context, pick_header: _HeaderPicker, record: _RecordReader
) -> Iterator[_Item]:
    """Yield one item per CSV record, the columns named by ``pick_header``.

    ``pick_header(comments, first_row)`` returns the column names and whether
    the first row is the header itself.
    """
    with open_feed(path, refuse_html=True) as handle:
        records = CsvRecords(handle)
        ctx.lines = records.lines
        columns: list[str] | None = None
        for line, row, bad, damage in records:
            where = f"{ctx.name}:{line}"
            if damage is not None:
                yield _reject(where, row[0], "malformed_row", damage + _QUOTE_HINT)
                continue
            if columns is None:
                columns, is_header = pick_header(records.commented, row)
                if is_header:
                    continue
            if bad:
                yield _encoding_reject(where, ",".join(row))
            elif len(row) != len(columns):
                yield _reject(
                    where,
                    ",".join(row),
                    "malformed_row",
                    f"row has {len(row)} fields, the header {len(columns)}"
                    + _QUOTE_HINT,
                )
            else:
                yield record(ctx, dict(zip(columns, row, strict=True)), where)


_QUOTE_HINT: Final = (
    "; hint: check the quoting (a '#' inside a field is data, not a comment, "
    "and every opening quote needs a closing one)"
)


_URLHAUS_COLUMNS: Final = [
    "id",
    "dateadded",
    "url",
    "url_status",
    "last_online",
    "threat",
    "tags",
    "urlhaus_link",
    "reporter",
]
_URLHAUS_OLD_COLUMNS: Final = [c for c in _URLHAUS_COLUMNS if c != "last_online"]


def _read_urlhaus_csv(path: Path, ctx: _Context) -> Iterator[_Item]:
    """URLhaus CSV dumps; header from the first row, a comment or the default."""
    return _read_csv(path, ctx, _urlhaus_header, _urlhaus_record)


def _urlhaus_header(commented: list[str], first: list[str]) -> tuple[list[str], bool]:
    """Return the columns, and whether the first row is the header."""
    if first[:3] == ["id", "dateadded", "url"]:
        return [cell.strip() for cell in first], True
    for line in reversed(commented):
        if not line.lstrip('"').startswith("id"):
            continue
        cells = _header_cells(line)
        if cells[:3] == ["id", "dateadded", "url"]:
            return cells, False
    # Older full dumps have no last_online column.
    return (_URLHAUS_COLUMNS if len(first) > 8 else _URLHAUS_OLD_COLUMNS), False


def _header_cells(line: str) -> list[str]:
    """Split a commented-out header line; nothing when it is not CSV."""
    try:
        return [cell.strip() for cell in next(csv.reader([line]), [])]
    except csv.Error:
        return []


@lru_cache(maxsize=4096)
def _urlhaus_tags(text: str, offline: bool) -> tuple[str, ...]:
    """Split URLhaus's comma-separated tags; one shared tuple per distinct set."""
    tags = tuple(tag for tag in (part.strip() for part in text.split(",")) if tag)
    return (*tags, "url_status:offline") if offline else tags


def _urlhaus_record(ctx: _Context, record: dict[str, Any], where: str) -> _Item:
    """Build an indicator from one URLhaus record (CSV row or checked JSON)."""
    raw_tags = record.get("tags") or ""
    if not isinstance(raw_tags, str):
        raw_tags = ",".join(t for t in raw_tags if isinstance(t, str))
    tags = _urlhaus_tags(raw_tags, record.get("url_status") == "offline")
    return _build(
        ctx,
        record.get("url") or "",
        "url",
        (where, ""),
        reference=str(record["id"]) if record.get("id") else None,
        first_seen=_time(ctx, record.get("dateadded")),
        last_seen=_time(ctx, record.get("last_online")),
        tags=tags,
        threat=record.get("threat") or None,
    )


def _text_fields(record: dict[str, Any], *names: str) -> dict[str, Any]:
    """Return a JSON record with the named fields that are not text emptied.

    CSV fields are always text; JSON ones can be anything, and a number or
    object where text belongs must not end up in an indicator.
    """
    wrong = [name for name in names if not isinstance(record.get(name, ""), str)]
    return {**record, **dict.fromkeys(wrong, "")} if wrong else record


def _tag_field(record: dict[str, Any]) -> dict[str, Any]:
    """Return a JSON record whose ``tags`` are text or a list (else emptied)."""
    if isinstance(record.get("tags", ""), str | list):
        return record
    return {**record, "tags": ""}


_PHISHTANK_COLUMNS: Final = [
    "phish_id",
    "url",
    "phish_detail_url",
    "submission_time",
    "verified",
    "verification_time",
    "online",
    "target",
]


def _read_phishtank_csv(path: Path, ctx: _Context) -> Iterator[_Item]:
    """PhishTank CSV dumps: only the ``url`` column becomes an indicator."""
    return _read_csv(path, ctx, _phishtank_header, _phishtank_record)


def _phishtank_header(_: list[str], first: list[str]) -> tuple[list[str], bool]:
    """Return the columns, and whether the first row is the header."""
    if first[0].strip() == "phish_id":
        return [cell.strip() for cell in first], True
    return _PHISHTANK_COLUMNS, False


@lru_cache(maxsize=4096)
def _phishtank_tags(target: str, offline: bool) -> tuple[str, ...]:
    """Return the brand tag (none for 'Other') and an offline mark, shared."""
    brand = target.strip()
    tags = (f"brand:{brand}",) if brand not in ("", "Other") else ()
    return (*tags, "offline") if offline else tags


def _phishtank_record(ctx: _Context, record: dict[str, Any], where: str) -> _Item:
    """Build an indicator from one PhishTank record (CSV row or JSON object)."""
    offline = str(record.get("online", "")).lower() in ("no", "false")
    tags = _phishtank_tags(str(record.get("target") or ""), offline)
    verified = str(record.get("verified", "yes")).lower() in ("yes", "true")
    confidence = None
    if not verified and not ctx.explicit_confidence:
        confidence = _UNVERIFIED_CONFIDENCE
    phish_id = record.get("phish_id")
    return _build(
        ctx,
        str(record.get("url") or ""),
        "url",
        (where, ""),
        reference=str(phish_id) if phish_id not in (None, "") else None,
        first_seen=_time(ctx, record.get("submission_time")),
        last_seen=_time(ctx, record.get("verification_time")),
        tags=tags,
        confidence=confidence,
    )


# --- JSON formats ---------------------------------------------------------------------


def _decode_json(path: Path) -> Any:
    """Decode a whole JSON feed file, or raise naming the file and line.

    A record nested too deeply to decode comes back as a
    :class:`~trustwatch.intel._json.TooDeep` (see :func:`_too_deep_reject`).
    """
    with open_feed(path) as handle:
        data = handle.read()
    try:
        return decode_records(data)
    except msgspec.DecodeError as exc:
        raise InvalidIndicatorError(
            f"feed file {path} is not valid JSON{_json_line(data, exc)}: {exc}; "
            "hint: check the download finished, or pass the right format="
        ) from exc


_JSON_OFFSET: Final = re.compile(r"\(byte (\d+)\)")


def _json_line(data: bytes, exc: msgspec.DecodeError) -> str:
    """Return `` at line N`` for a decode error that gives its byte offset."""
    match = _JSON_OFFSET.search(str(exc))
    if match is None:
        return ""
    line = data.count(b"\n", 0, int(match.group(1))) + 1
    return f" at line {line}"


def _too_deep_reject(where: str, record: TooDeep) -> Reject:
    """Return the reject for a JSON record nested too deeply to decode."""
    return _reject(where, record.raw, "too_deep", record.message)


def _shape_error(path: Path, expected: str) -> InvalidIndicatorError:
    """Return the error for a JSON feed of the wrong shape."""
    return InvalidIndicatorError(
        f"feed file {path} is JSON but not {expected}; hint: pass the right format="
    )


def _read_urlhaus_json(path: Path, ctx: _Context) -> Iterator[_Item]:
    """URLhaus JSON dumps: ``{id: [record, ...]}``."""
    data = _decode_json(path)
    if not isinstance(data, dict):
        raise _shape_error(path, "an object of URLhaus ids")
    for key, records in data.items():
        where = f"{ctx.name}:id {key}"
        items = records if isinstance(records, list) else [records]
        for record in items:
            if isinstance(record, TooDeep):
                yield _too_deep_reject(where, record)
                continue
            if not isinstance(record, dict):
                yield _reject(
                    where, repr(record), "malformed_record", "record is not an object"
                )
                continue
            checked = _tag_field(_text_fields(record, "url", "threat"))
            yield _urlhaus_record(ctx, {"id": key, **checked}, where)


def _read_phishtank_json(path: Path, ctx: _Context) -> Iterator[_Item]:
    """PhishTank JSON dumps: a list of records."""
    data = _decode_json(path)
    if not isinstance(data, list):
        raise _shape_error(path, "a list of PhishTank records")
    for number, record in enumerate(data, 1):
        where = f"{ctx.name}:record {number}"
        if isinstance(record, TooDeep):
            yield _too_deep_reject(where, record)
            continue
        if not isinstance(record, dict):
            yield _reject(
                where, repr(record), "malformed_record", "record is not an object"
            )
            continue
        yield _phishtank_record(ctx, _text_fields(record, "url", "target"), where)


def _read_openphish_json(path: Path, ctx: _Context) -> Iterator[_Item]:
    """OpenPhish archives: ``{url: first-seen time}``."""
    data = _decode_json(path)
    if not isinstance(data, dict):
        raise _shape_error(path, "an object of URL -> first-seen time")
    prefix = f"{ctx.name}:record "
    for number, (url, seen) in enumerate(data.items(), 1):
        if isinstance(seen, TooDeep):
            yield _too_deep_reject(f"{prefix}{number}", TooDeep(raw=url[:_RAW_LIMIT]))
            continue
        yield _build(
            ctx,
            url,
            "url",
            (prefix, number),
            reference=None,
            first_seen=_time(ctx, seen),
        )


def _read_misp_event(path: Path, ctx: _Context) -> Iterator[_Item]:
    """MISP event files: see :mod:`trustwatch.intel.misp`."""
    from trustwatch.intel.misp import read_misp_event

    return read_misp_event(path, ctx)


def _read_misp_feed(path: Path, ctx: _Context) -> Iterator[_Item]:
    """MISP feed folders: see :mod:`trustwatch.intel.misp`."""
    from trustwatch.intel.misp import read_misp_feed

    return read_misp_feed(path, ctx)


def _read_stix21(path: Path, ctx: _Context) -> Iterator[_Item]:
    """STIX 2.1 bundles: see :mod:`trustwatch.intel.stix`."""
    from trustwatch.intel.stix import read_stix

    return read_stix(path, ctx)


_READERS: Final[dict[FeedFormat, _Reader]] = {
    "plain": _read_plain,
    "urlhaus_csv": _read_urlhaus_csv,
    "urlhaus_json": _read_urlhaus_json,
    "phishtank_csv": _read_phishtank_csv,
    "phishtank_json": _read_phishtank_json,
    "openphish_txt": _read_openphish_txt,
    "openphish_json": _read_openphish_json,
    "hashlist": _read_hashlist,
    "misp_event": _read_misp_event,
    "misp_feed": _read_misp_feed,
    "stix21": _read_stix21,
}
