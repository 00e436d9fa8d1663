"""The feed layouts trustwatch reads, their defaults, and how to tell them apart.

:func:`sniff_format` looks at a file's first 8 KiB (and its name) and returns
the layout to read it with; :data:`FORMAT_DEFAULTS` holds the feed name,
confidence and threat each layout's indicators get unless the caller says
otherwise. The loaders themselves are in :mod:`trustwatch.intel.feeds`.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Final, Literal, NamedTuple, TypeAlias, get_args

from trustwatch.errors import ConfigError
from trustwatch.intel._files import feed_errors, is_misp_feed_folder, open_feed

__all__ = [
    "FEED_FORMATS",
    "FORMAT_DEFAULTS",
    "FeedFormat",
    "FormatDefaults",
    "check_format",
    "sniff_format",
]

FeedFormat: TypeAlias = Literal[
    "plain",
    "urlhaus_csv",
    "urlhaus_json",
    "phishtank_csv",
    "phishtank_json",
    "openphish_txt",
    "openphish_json",
    "hashlist",
    "misp_event",
    "misp_feed",
    "stix21",
]
FEED_FORMATS: Final[tuple[FeedFormat, ...]] = get_args(FeedFormat)

_SNIFF_BYTES: Final = 8192


class FormatDefaults(NamedTuple):
    """Feed name, confidence and threat a format gets unless told otherwise.

    A ``feed`` of ``None`` means the file's stem.
    """

    feed: str | None
    confidence: int
    threat: str | None


FORMAT_DEFAULTS: Final[dict[FeedFormat, FormatDefaults]] = {
    "plain": FormatDefaults(None, 50, None),
    "urlhaus_csv": FormatDefaults("urlhaus", 90, "malware_download"),
    "urlhaus_json": FormatDefaults("urlhaus", 90, "malware_download"),
    "phishtank_csv": FormatDefaults("phishtank", 90, "phishing"),
    "phishtank_json": FormatDefaults("phishtank", 90, "phishing"),
    "openphish_txt": FormatDefaults("openphish", 80, "phishing"),
    "openphish_json": FormatDefaults("openphish", 80, "phishing"),
    "hashlist": FormatDefaults(None, 70, None),
    "misp_event": FormatDefaults("misp", 50, None),
    "misp_feed": FormatDefaults(None, 50, None),
    "stix21": FormatDefaults(None, 70, None),
}


def sniff_format(path: str | Path) -> FeedFormat:
    """Guess a feed file's layout from its first bytes and its name.

    JSON objects keyed by numeric ids are URLhaus, JSON objects keyed by URLs
    OpenPhish, JSON arrays PhishTank, ``{"Event": ...}`` (and other MISP
    event shapes) ``misp_event``, and a folder holding ``manifest.json``
    ``misp_feed``, a STIX bundle (``{"type": "bundle"...}``) or a JSON list
    of STIX objects ``stix21``; CSV headers (also commented-out ones)
    or the shape of the first row tell URLhaus and PhishTank apart;
    ``HASH;`` lines are a hash list; text files named ``*openphish*`` are
    OpenPhish; everything else is ``plain``.

    Raises
    ------
    ConfigError
        When the file is JSON of no known shape, does not exist, is a
        directory or cannot be read.
    InvalidIndicatorError
        When the file is not UTF-8 text (or gzip of it); see
        :func:`~trustwatch.intel.feeds.load_feed`.
    """
    source = Path(path)
    if is_misp_feed_folder(source):
        return "misp_feed"
    with feed_errors(source), open_feed(source) as handle:
        head = handle.read(_SNIFF_BYTES).decode("utf-8", "replace").lstrip("\ufeff")
    fmt = _sniff_json(head.lstrip()) or _sniff_text(head, source.name.lower())
    if fmt is None:
        raise ConfigError(
            f"cannot tell the layout of feed file {source}; hint: pass format= "
            f"one of {', '.join(FEED_FORMATS)}"
        )
    return fmt


# --- sniffing -------------------------------------------------------------------

_URLHAUS_JSON_HEAD: Final = re.compile(r'\{\s*"\d+"\s*:\s*\[')
_OPENPHISH_JSON_HEAD: Final = re.compile(r'\{\s*"[A-Za-z][A-Za-z0-9+.-]*:')
# {"Event": ...}, a list of those, {"response": [{"Event"...}]}, or a bare
# event whose first key is one only MISP events have.
_MISP_EVENT_HEAD: Final = re.compile(
    r'(?:\[\s*)?\{\s*"(?:Event|response"\s*:\s*\[\s*\{\s*"Event|Attribute|Object'
    r'|Orgc|threat_level_id|EventTag|ShadowAttribute)"\s*:'
)
# A bundle names its type near the top; a list of objects starts with ids
# such as "indicator--<uuid>".
_STIX_BUNDLE_HEAD: Final = re.compile(
    r'^\{[^\[]*(?:"type"\s*:\s*"bundle"|"id"\s*:\s*"bundle--)'
)
_STIX_LIST_HEAD: Final = re.compile(
    r'\[\s*\{[^{}\[]*"id"\s*:\s*"[a-z][a-z0-9-]*--[0-9a-fA-F]{8}-'
)
_HASHLINE: Final = re.compile(r"\s*[0-9A-Fa-f]{32,64}\s*(;|$)")


def _sniff_json(head: str) -> FeedFormat | None:
    """Tell the JSON layouts apart by their first tokens."""
    if _MISP_EVENT_HEAD.match(head):
        return "misp_event"
    if _STIX_BUNDLE_HEAD.search(head) or _STIX_LIST_HEAD.match(head):
        return "stix21"
    if head.startswith("["):
        return "phishtank_json" if '"phish_id"' in head or head == "[]" else None
    if not head.startswith("{"):
        return None
    if _URLHAUS_JSON_HEAD.match(head):
        return "urlhaus_json"
    if _OPENPHISH_JSON_HEAD.match(head):
        return "openphish_json"
    return None


def _sniff_text(head: str, name: str) -> FeedFormat | None:
    """Tell the line and CSV layouts apart by header, first line and name."""
    if head.lstrip().startswith(("[", "{")):
        return None
    lines = head.splitlines()
    if any(_is_urlhaus_header(line.lstrip("#").strip()) for line in lines[:32]):
        return "urlhaus_csv"
    data = [line for line in lines if line.strip() and not line.startswith("#")]
    if data and _is_urlhaus_row(data[0]):
        return "urlhaus_csv"
    if data and data[0].startswith("phish_id,"):
        return "phishtank_csv"
    if data and _HASHLINE.match(data[0]) and ";" in data[0]:
        return "hashlist"
    if "openphish" in name:
        return "openphish_txt"
    return "plain"


def _is_urlhaus_header(line: str) -> bool:
    """Return whether a line is a URLhaus CSV header."""
    return line.startswith("id,dateadded,url") or line.startswith(
        '"id","dateadded","url"'
    )


def _is_urlhaus_row(line: str) -> bool:
    """Return whether a line reads as a header-less URLhaus CSV row."""
    row = next(csv.reader([line]), [])
    return len(row) in (8, 9) and row[0].isdigit() and "://" in row[2]


def check_format(format: str) -> FeedFormat:
    """Return ``format`` as a known layout, or raise :class:`ConfigError`."""
    for known in FEED_FORMATS:
        if known == format:
            return known
    raise ConfigError(
        f"unknown feed format {format!r}; hint: use 'auto' or one of "
        f"{', '.join(FEED_FORMATS)}"
    )
