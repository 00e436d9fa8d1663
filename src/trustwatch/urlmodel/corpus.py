"""Labelled URLs to train and evaluate URL models on.

Two ways in:

- :func:`load_reference_corpus` reads the public sources of a shared
  ``datasets`` folder in place (phishing and malware feeds with their dates,
  popular-domain lists and a benign URL list), each row tagged with its
  source, its date when the source has one, and whether the source's licence
  is open enough to ship a model trained on it;
- :func:`read_labelled_file` reads a team's own labelled URLs from CSV or JSON
  Lines (``url``, ``label`` and optionally ``time``).

Nothing here fetches or resolves a URL: the rows are strings.
"""

from __future__ import annotations

import csv
import io
import json
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from trustwatch.enrichment.domains import normalize_host, registrable_domain
from trustwatch.errors import ConfigError, InvalidEventError, TrustwatchError
from trustwatch.events.timestamps import parse_timestamp

__all__ = [
    "SOURCES",
    "LabelledUrl",
    "Source",
    "home_page",
    "load_reference_corpus",
    "read_labelled_file",
]


@dataclass(frozen=True, slots=True)
class Source:
    """One public source of labelled URLs and the terms it comes under."""

    name: str
    path: str
    label: int
    kind: str
    licence: str
    open_licence: bool


@dataclass(frozen=True, slots=True)
class LabelledUrl:
    """A URL string, its label (1 malicious, 0 benign), date and source name."""

    url: str
    label: int
    time: datetime | None
    source: str


SOURCES: tuple[Source, ...] = (
    Source(
        "urlhaus-2025-04",
        "urlhaus-2025-04-21/urlhaus.csv",
        1,
        "malware download",
        "CC0 (abuse.ch terms of use)",
        True,
    ),
    Source(
        "phishtank-2020-05",
        "phishtank-2020-05/DataFiles_2.online-valid.csv",
        1,
        "phishing",
        "CC BY-SA 2.5 (PhishTank)",
        True,
    ),
    Source(
        "phishtank-2021-03",
        "phishtank-2021-03/verified_online.csv",
        1,
        "phishing",
        "CC BY-SA 2.5 (PhishTank)",
        True,
    ),
    Source(
        "openphish-2024h2",
        "openphish-archive/openphish_2024H2.json",
        1,
        "phishing",
        "OpenPhish community feed terms (not an open licence)",
        False,
    ),
    Source(
        "jpcert-2019-2023",
        "jpcert-phishurl",
        1,
        "phishing",
        "none stated (JPCERT/CC public research data)",
        False,
    ),
    Source(
        "toplists",
        "misp-warninglists-toplists",
        0,
        "popular domain home pages",
        "CC0 (MISP warning lists of Tranco, Majestic, Umbrella, Cloudflare Radar)",
        True,
    ),
    Source(
        "iscx-url2016-benign",
        "iscx-url2016-benign/benign_urls_dev_hosts.csv",
        0,
        "benign URLs with paths",
        "free for research (UNB CIC, Mamun et al. 2016)",
        False,
    ),
)
"""The reference sources :func:`load_reference_corpus` knows, by name."""

_TOPLISTS = (
    "lists_tranco10k_list.json",
    "lists_majestic_million_list.json",
    "lists_cisco_top10k_list.json",
    "lists_cloudflare-top100k_list.json",
    "lists_alexa_list.json",
)
_BY_NAME = {source.name: source for source in SOURCES}


def load_reference_corpus(
    datasets: Path, *, open_only: bool = False, sources: Iterable[str] | None = None
) -> list[LabelledUrl]:
    """Read every reference source present under ``datasets``.

    Parameters
    ----------
    datasets
        The shared datasets folder.
    open_only
        Keep only sources whose licence allows shipping a model trained on
        them (see :data:`SOURCES`).
    sources
        Names of the sources to read; all of them by default. A named source
        that is missing raises :class:`~trustwatch.errors.ConfigError`; an
        unnamed one that is missing is skipped.

    Returns
    -------
    list of LabelledUrl
        Rows in source order, the same URL string kept once per source. A
        popular-domain home page on a registrable domain that a loaded
        malicious source lists is left out: popular is not safe.
    """
    wanted = list(sources) if sources is not None else [s.name for s in SOURCES]
    unknown = [name for name in wanted if name not in _BY_NAME]
    if unknown:
        raise ConfigError(
            f"unknown URL source {unknown[0]!r}; hint: choose from "
            + ", ".join(_BY_NAME)
        )
    rows: list[LabelledUrl] = []
    for name in wanted:
        source = _BY_NAME[name]
        if open_only and not source.open_licence:
            continue
        path = datasets / source.path
        if not path.exists():
            if sources is not None:
                raise ConfigError(f"{path} is missing; hint: pass the datasets folder")
            continue
        seen: set[str] = set()
        for url, time in _READERS[name](path):
            url = url.strip()
            if url and url not in seen:
                seen.add(url)
                rows.append(LabelledUrl(url, source.label, time, name))
    if not rows:
        raise ConfigError(f"no URL sources found under {datasets}")
    return _without_listed_domains(rows)


def _without_listed_domains(rows: list[LabelledUrl]) -> list[LabelledUrl]:
    """Drop popular-domain home pages whose domain a malicious source lists.

    The popular-domain lists rank traffic, not safety: phishing and scam
    domains reach them. A home page on a registrable domain that any loaded
    malicious source lists a URL on is not counted as benign.
    """
    listed = set()
    for row in rows:
        if row.label == 1:
            domain = _registrable_of(row.url)
            if domain:
                listed.add(domain)
    return [
        row
        for row in rows
        if row.source != "toplists" or _registrable_of(row.url) not in listed
    ]


def _registrable_of(url: str) -> str:
    """The registrable domain of a URL string, or ``""`` when it has none."""
    host = url.partition("://")[2].partition("/")[0].rpartition("@")[2]
    host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    try:
        return registrable_domain(normalize_host(host))
    except TrustwatchError:
        return ""


def _utc(text: str, fmt: str | None = None) -> datetime | None:
    try:
        if fmt is not None:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        return parse_timestamp(text)
    except (ValueError, TypeError, InvalidEventError):
        return None


def _open(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        yield from handle


def _read_urlhaus(path: Path) -> Iterator[tuple[str, datetime | None]]:
    lines = (line for line in _open(path) if not line.startswith("#"))
    for row in csv.DictReader(lines, fieldnames=_URLHAUS_COLUMNS):
        if row["id"] == "id":
            continue
        yield row["url"] or "", _utc(row["dateadded"] or "", "%Y-%m-%d %H:%M:%S")


_URLHAUS_COLUMNS = ["id", "dateadded", "url", "url_status", "last_online", "threat"]


def _read_phishtank(path: Path) -> Iterator[tuple[str, datetime | None]]:
    for row in csv.DictReader(_open(path)):
        yield row.get("url") or "", _utc(row.get("submission_time") or "")


def _read_openphish(path: Path) -> Iterator[tuple[str, datetime | None]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    for url, first_seen in data.items():
        yield url, _utc(first_seen) if isinstance(first_seen, str) else None


def _read_jpcert(folder: Path) -> Iterator[tuple[str, datetime | None]]:
    for path in sorted(folder.glob("*.csv")):
        for row in csv.DictReader(_open(path)):
            yield row.get("URL") or "", _utc(row.get("date") or "", "%Y/%m/%d %H:%M:%S")


def _read_toplists(folder: Path) -> Iterator[tuple[str, datetime | None]]:
    """Yield the home page of each listed registrable domain, once.

    The lists rank domains by traffic; some (Umbrella's DNS names) list
    machine-made host names under a domain. Each entry is reduced to its
    registrable domain, so a ranked site counts once and as itself.
    """
    seen: set[str] = set()
    for name in _TOPLISTS:
        path = folder / name
        if not path.exists():
            continue
        entries = json.loads(path.read_text(encoding="utf-8")).get("list", [])
        for entry in entries:
            if not isinstance(entry, str):
                continue
            try:
                domain = registrable_domain(normalize_host(entry.strip(".")))
            except TrustwatchError:
                continue
            if domain and domain not in seen:
                seen.add(domain)
                yield home_page(domain), None


def home_page(domain: str) -> str:
    """Return a home-page URL for ``domain``, in one of the forms people link.

    Scheme and ``www.`` vary with a stable hash of the domain (two in five
    plain http, one in three with ``www.``, near what phishing feeds show),
    so neither can tell a list entry from a feed entry by itself.
    """
    mark = zlib.crc32(domain.encode())
    scheme = "http" if mark % 5 < 2 else "https"
    www = "www." if (mark // 5) % 3 == 0 else ""
    return f"{scheme}://{www}{domain}/"


def _read_lines(path: Path) -> Iterator[tuple[str, datetime | None]]:
    for line in _open(path):
        yield line, None


_READERS = {
    "urlhaus-2025-04": _read_urlhaus,
    "phishtank-2020-05": _read_phishtank,
    "phishtank-2021-03": _read_phishtank,
    "openphish-2024h2": _read_openphish,
    "jpcert-2019-2023": _read_jpcert,
    "toplists": _read_toplists,
    "iscx-url2016-benign": _read_lines,
}

_TRUE_LABELS = frozenset({"1", "true", "malicious", "phishing", "malware", "bad"})
_FALSE_LABELS = frozenset({"0", "false", "benign", "legitimate", "good"})


def read_labelled_file(path: Path) -> list[LabelledUrl]:
    """Read a team's labelled URLs from CSV (with a header) or JSON Lines.

    Each row needs ``url`` and ``label`` (``1``/``0``, ``malicious``/``benign``,
    ``phishing``, ``malware``, ``legitimate``); ``time`` (ISO 8601 with a
    zone, or epoch seconds) is optional and enables the time split.

    Raises
    ------
    ConfigError
        When the file cannot be read or a row is unusable; the message names
        the line.
    """
    if not path.is_file():
        raise ConfigError(f"cannot read {path}: not a regular file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        records: list[tuple[int, dict[str, object]]] = []
        # lines end at "\n" only: str.splitlines() would also split at
        # U+2028, U+0085 and other breaks a JSON string may hold raw
        for number, line in enumerate(text.split("\n"), 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}:{number}: not JSON ({exc.msg})") from exc
            if not isinstance(value, dict):
                raise ConfigError(f"{path}:{number}: expected a JSON object")
            records.append((number, value))
    else:
        # the csv module ends rows at "\n", "\r\n" or "\r" outside quotes, as
        # it should; StringIO with newline="" hands it the text untranslated,
        # where str.splitlines() would cut at U+2028, U+0085 and the like too
        reader = csv.DictReader(io.StringIO(text, newline=""))
        try:
            # each row named by the line it ends on (a quoted field may span)
            records = [(reader.line_num, dict(row)) for row in reader]
        except csv.Error as exc:
            raise ConfigError(
                f"{path}:{reader.line_num}: not CSV ({exc}); hint: JSON Lines "
                "files need a .jsonl name"
            ) from exc
    return [_labelled_row(path, number, row) for number, row in records]


def _labelled_row(path: Path, number: int, row: dict[str, object]) -> LabelledUrl:
    url, label = row.get("url"), str(row.get("label", "")).strip().lower()
    if url is not None and not isinstance(url, str):
        raise ConfigError(f"{path}:{number}: 'url' must be text")
    if not url or not url.strip():
        raise ConfigError(f"{path}:{number}: 'url' is missing or empty")
    if label in _TRUE_LABELS:
        value = 1
    elif label in _FALSE_LABELS:
        value = 0
    else:
        raise ConfigError(
            f"{path}:{number}: label {label!r} is not one of 1/0, malicious/benign"
        )
    return LabelledUrl(url.strip(), value, _row_time(path, number, row), path.name)


def _row_time(path: Path, number: int, row: dict[str, object]) -> datetime | None:
    raw = row.get("time")
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise ConfigError(
            f"{path}:{number}: time must be ISO 8601 text or epoch seconds"
        )
    try:
        # a labelled row's time places it in a day of the time split: one
        # written without a zone (a date alone, say) is read as UTC
        return parse_timestamp(raw, default_tz="UTC")
    except InvalidEventError as exc:
        raise ConfigError(f"{path}:{number}: time {raw!r}: {exc}") from exc
