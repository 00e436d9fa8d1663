"""Feeds as configuration: the TOML feed list that ``trustwatch intel sync`` reads.

Each feed is one ``[[feeds]]`` table::

    [[feeds]]
    name = "urlhaus-recent"                # unique: a-z, 0-9, '_', '.', '-'
    url = "https://feeds.example/urlhaus/csv_recent/"
    format = "urlhaus_csv"                 # or "auto" (the default)
    every = "15m"                          # schedule: s, m, h, d
    confidence = 90                        # 0..100, overrides the format's
    expires = "7d"                         # for indicators that carry none
    threat = "malware_download"            # for indicators that carry none
    tags = ["urlhaus"]
    mode = "snapshot"                      # or "incremental"

Exactly one source key names where the feed comes from:

``url``
    An ``http``/``https`` URL, fetched with conditional requests. Optional
    keys: ``timeout`` (seconds, per connect or read), ``deadline`` (seconds
    for the whole download, retries included; ten times ``timeout`` by
    default), ``retries``, ``max_bytes`` (also the cap on a gzip file's
    decompressed size, and on a local file's size), ``proxy`` (no proxy is
    taken from the environment), ``headers_env`` (header name, an RFC 7230
    token, -> name of the environment variable holding its value, for API
    keys; a value holding CR or LF is refused when the feed is fetched).
    ``timeout`` and ``deadline`` take seconds or a duration (``"30s"``).
``path``
    A local file, folder or glob, relative to the feed list's folder.
``taxii``
    ``{url = API_ROOT, collection = ID_OR_TITLE, username_env = ...,
    password_env = ...}``: a TAXII 2.1 collection, polled with
    ``added_after``. Credentials are never written in the file, only the
    names of the environment variables that hold them.

A feed that sends credentials (``headers_env``, ``username_env``,
``password_env``) must do so over verified ``https``, or to a loopback
address: plain ``http`` elsewhere, or ``verify_tls = false``, is refused
unless the feed sets ``insecure_http = true``.

``mode = "snapshot"`` (the default for URLs and paths) means every fetch is
the whole list, so values it no longer lists are removed; ``"incremental"``
(the default for TAXII) means each fetch only adds, and values leave by
expiry or revocation.

A feed list must name at least one feed.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias
from urllib.parse import urlsplit

from trustwatch.enrichment.ips import is_loopback_host
from trustwatch.errors import ConfigError
from trustwatch.intel.formats import FEED_FORMATS

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FeedList",
    "FeedMode",
    "FeedSpec",
    "SourceKind",
    "TaxiiSpec",
    "load_feed_list",
    "parse_duration",
    "parse_feed_list",
    "redact_url",
]

FeedMode: TypeAlias = Literal["snapshot", "incremental"]
SourceKind: TypeAlias = Literal["url", "path", "taxii"]

#: Largest response body accepted unless a feed sets ``max_bytes`` (1 GiB).
DEFAULT_MAX_BYTES: Final = 1 << 30
_DEFAULT_EVERY: Final = timedelta(hours=1)
_DEFAULT_TIMEOUT: Final = 30.0
_DEFAULT_RETRIES: Final = 3
_NAME: Final = re.compile(r"[a-z0-9_.-]{1,64}")
_DURATION: Final = re.compile(r"\s*([0-9]+)\s*([smhdw])\s*", re.ASCII)
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_ENV_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEADER_NAME: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_DEADLINE_FACTOR: Final = 10
_SOURCES: Final = ("url", "path", "taxii")
_KEYS: Final = frozenset(
    {
        "name",
        *_SOURCES,
        "format",
        "every",
        "confidence",
        "expires",
        "threat",
        "tags",
        "mode",
        "enabled",
        "timeout",
        "deadline",
        "retries",
        "max_bytes",
        "proxy",
        "headers_env",
        "insecure_http",
    }
)
_TAXII_KEYS: Final = frozenset(
    {"url", "collection", "username_env", "password_env", "verify_tls"}
)


@dataclass(frozen=True, slots=True)
class TaxiiSpec:
    """Where a TAXII 2.1 feed comes from; credentials by environment name.

    Attributes
    ----------
    url
        The API root URL.
    collection
        The collection's id or title.
    username_env, password_env
        Names of the environment variables holding the credentials.
    verify_tls
        Whether to check the server's certificate.
    """

    url: str
    collection: str
    username_env: str | None = None
    password_env: str | None = None
    verify_tls: bool = True


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One feed of the feed list, validated.

    Attributes
    ----------
    name
        Unique name, written into every indicator of the feed.
    url, path, taxii
        The source: exactly one is set (``path`` is absolute).
    format
        A :data:`~trustwatch.intel.formats.FEED_FORMATS` name or ``auto``.
    every
        How often the feed is due.
    confidence
        Confidence for every indicator, or ``None`` for the format's default.
    expires
        Lifetime given to indicators that carry no expiry, counted from the
        fetch that last listed them; ``None`` keeps them until removed.
    threat
        Threat for indicators that carry none.
    tags
        Tags added to every indicator.
    mode
        ``snapshot`` or ``incremental`` (see the module docstring).
    enabled
        A disabled feed is never fetched; what it gave stays until it expires.
    timeout, deadline, retries, max_bytes, proxy, headers_env
        HTTP settings (see the module docstring); ``deadline`` is in
        seconds.
    """

    name: str
    url: str | None = None
    path: Path | None = None
    taxii: TaxiiSpec | None = None
    format: str = "auto"
    every: timedelta = _DEFAULT_EVERY
    confidence: int | None = None
    expires: timedelta | None = None
    threat: str | None = None
    tags: tuple[str, ...] = ()
    mode: FeedMode = "snapshot"
    enabled: bool = True
    timeout: float = _DEFAULT_TIMEOUT
    deadline: float = _DEFAULT_TIMEOUT * _DEADLINE_FACTOR
    retries: int = _DEFAULT_RETRIES
    max_bytes: int = DEFAULT_MAX_BYTES
    proxy: str | None = None
    headers_env: Mapping[str, str] = field(default_factory=dict)

    @property
    def source_kind(self) -> SourceKind:
        """Return which source key the feed uses."""
        if self.url is not None:
            return "url"
        return "path" if self.path is not None else "taxii"

    @property
    def source(self) -> str:
        """Return the source for display, without credentials or query."""
        if self.url is not None:
            return redact_url(self.url)
        if self.path is not None:
            return str(self.path)
        assert self.taxii is not None
        return f"taxii {redact_url(self.taxii.url)} {self.taxii.collection}"

    def fingerprint(self) -> str:
        """Return a digest of every setting that shapes the stored records.

        When it changes, the next sync refetches the feed in full.
        """
        parts = (
            self.url,
            str(self.path),
            repr(self.taxii),
            self.format,
            self.confidence,
            self.expires,
            self.threat,
            self.tags,
            self.mode,
        )
        return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class FeedList:
    """Every feed of a feed list, in file order.

    Attributes
    ----------
    feeds
        The feeds.
    origin
        Where the list was read from.
    """

    feeds: tuple[FeedSpec, ...]
    origin: str = "<string>"

    def __iter__(self) -> Iterator[FeedSpec]:
        """Iterate over the feeds in file order."""
        return iter(self.feeds)

    def __len__(self) -> int:
        """Return the number of feeds."""
        return len(self.feeds)

    def get(self, name: str) -> FeedSpec:
        """Return the feed called ``name``.

        Raises
        ------
        ConfigError
            When no feed has that name.
        """
        for feed in self.feeds:
            if feed.name == name:
                return feed
        raise ConfigError(
            f"no feed named {name!r} in {self.origin}; hint: known feeds are "
            f"{', '.join(f.name for f in self.feeds) or 'none'}"
        )


def redact_url(url: str) -> str:
    """Return ``url`` without user info, query or fragment, for messages.

    A URL whose port is not a number is shown as its scheme and host only;
    one that cannot be read at all as ``<invalid URL>``.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return "<invalid URL>"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return f"{parts.scheme}://{host}" if host else "<invalid URL>"
    return f"{parts.scheme}://{host}{port}{parts.path}"


def parse_duration(text: str) -> timedelta:
    """Read a duration such as ``"90s"``, ``"15m"``, ``"6h"``, ``"1d"``, ``"2w"``.

    Raises
    ------
    ConfigError
        When the text is not a positive whole number and one unit.

    Examples
    --------
    >>> parse_duration("6h")
    datetime.timedelta(seconds=21600)
    """
    match = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if match is None or int(match.group(1)) == 0:
        raise ConfigError(
            f"{text!r} is not a duration; hint: write a positive whole number and "
            "a unit, e.g. '15m', '6h', '1d' (units s, m, h, d, w)"
        )
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def load_feed_list(path: str | Path) -> FeedList:
    """Read and validate a TOML feed list file.

    Relative ``path`` sources are taken from the file's folder.

    Raises
    ------
    ConfigError
        When the file cannot be read, is not TOML, or a feed is invalid; the
        message names the feed and the key.
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read feed list {source}: {exc}; hint: check the path"
        ) from exc
    return parse_feed_list(text, origin=str(source), base=source.parent.resolve())


def parse_feed_list(
    text: str, *, origin: str = "<string>", base: Path | None = None
) -> FeedList:
    """Validate a feed list written as TOML text.

    Parameters
    ----------
    text
        The TOML document.
    origin
        Where it came from, for messages.
    base
        Folder that relative ``path`` sources start from (the current folder
        when ``None``).

    Raises
    ------
    ConfigError
        When the text is not TOML or a feed is invalid.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"feed list {origin} is not valid TOML: {exc}; hint: each feed is a "
            "[[feeds]] table"
        ) from exc
    extra = sorted(set(document) - {"feeds"})
    if extra:
        raise ConfigError(
            f"feed list {origin}: unknown top-level key {extra[0]!r}; hint: each "
            "feed is a [[feeds]] table"
        )
    tables = document.get("feeds", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(
            f"feed list {origin}: 'feeds' must be an array of tables; hint: write "
            "each feed as a [[feeds]] table"
        )
    feeds: list[FeedSpec] = []
    seen: set[str] = set()
    for number, table in enumerate(tables, 1):
        spec = _feed(table, number, origin, base or Path.cwd())
        if spec.name in seen:
            raise ConfigError(
                f"feed list {origin}: feed {spec.name!r} key 'name': the name is "
                "used twice; hint: give every feed its own name"
            )
        seen.add(spec.name)
        feeds.append(spec)
    if not feeds:
        raise ConfigError(
            f"feed list {origin} has no feeds; hint: add a [[feeds]] table with a "
            "name and one of url, path or taxii"
        )
    return FeedList(tuple(feeds), origin)


class _Checker:
    """Reads one feed table's keys, raising errors that name feed and key."""

    def __init__(self, table: dict[str, Any], label: str) -> None:
        self.table = table
        self.label = label

    def fail(self, key: str, problem: str, hint: str) -> ConfigError:
        """Return the error for a bad key."""
        return ConfigError(f"{self.label} key {key!r}: {problem}; hint: {hint}")

    def text(self, key: str, default: str | None = None) -> str | None:
        """Return a string key, or ``default`` when absent."""
        value = self.table.get(key, default)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise self.fail(key, f"{value!r} is not a non-empty string", "quote it")
        return value

    def integer(self, key: str, low: int, high: int) -> int | None:
        """Return an integer key within ``low..high``, or ``None``."""
        value = self.table.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"{value!r} is not a whole number", "write digits")
        if not low <= value <= high:
            raise self.fail(
                key, f"{value} is outside {low}..{high}", f"use {low} to {high}"
            )
        return value

    def seconds(self, key: str, default: float, most: float, hint: str) -> float:
        """Return a key in seconds: a number, or a duration such as ``"30s"``."""
        value = self.table.get(key, default)
        if isinstance(value, str):
            try:
                value = parse_duration(value).total_seconds()
            except ConfigError as exc:
                raise self.fail(
                    key,
                    f"{value!r} is not a whole, positive number of s, m, h or d",
                    "write 30 or '30s', '5m' (fractions as seconds: 90, not '1.5m')",
                ) from exc
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"{value!r} is not a number", "write seconds")
        if not 0 < value <= most:
            raise self.fail(key, f"{value} is outside (0, {most:g}]", hint)
        return float(value)

    def duration(self, key: str) -> timedelta | None:
        """Return a duration key, or ``None``."""
        value = self.table.get(key)
        if value is None:
            return None
        try:
            return parse_duration(value)
        except ConfigError as exc:
            raise self.fail(
                key, f"{value!r} is not a duration", "write e.g. '15m', '6h', '1d'"
            ) from exc


def _feed(table: dict[str, Any], number: int, origin: str, base: Path) -> FeedSpec:
    """Validate one ``[[feeds]]`` table."""
    raw_name = table.get("name")
    label = f"feed list {origin}: feed {raw_name!r}"
    if not isinstance(raw_name, str) or not _NAME.fullmatch(raw_name):
        raise ConfigError(
            f"feed list {origin}: feed #{number} key 'name': {raw_name!r} is not a "
            "valid name; hint: use 1 to 64 of a-z, 0-9, '_', '.', '-'"
        )
    check = _Checker(table, label)
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise check.fail(
            unknown[0], "unknown key", f"known keys are {', '.join(sorted(_KEYS))}"
        )
    sources = [key for key in _SOURCES if key in table]
    if len(sources) != 1:
        raise check.fail(
            "url" if not sources else sources[1],
            "a feed needs exactly one source"
            + (f", it has {', '.join(sources)}" if sources else ""),
            "set one of url, path or taxii",
        )
    url, path, taxii = _source(check, sources[0], base)
    fmt = check.text("format", "auto") or "auto"
    if fmt != "auto" and fmt not in FEED_FORMATS:
        raise check.fail(
            "format",
            f"unknown format {fmt!r}",
            f"use auto or {', '.join(FEED_FORMATS)}",
        )
    if taxii is not None and fmt not in ("auto", "stix21"):
        raise check.fail("format", f"a TAXII feed is STIX, not {fmt}", "drop format")
    mode = check.text("mode", "incremental" if taxii else "snapshot")
    if mode not in ("snapshot", "incremental"):
        raise check.fail(
            "mode", f"{mode!r} is not a mode", "use 'snapshot' or 'incremental'"
        )
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise check.fail("enabled", f"{enabled!r} is not true or false", "use true")
    timeout = check.seconds("timeout", _DEFAULT_TIMEOUT, 3600, "use e.g. 30")
    deadline = check.seconds(
        "deadline", timeout * _DEADLINE_FACTOR, 86400, "use e.g. 300"
    )
    retries = check.integer("retries", 0, 10)
    max_bytes = check.integer("max_bytes", 1, 1 << 40)
    headers = _headers_env(check)
    proxy = _http_url(check, "proxy", check.text("proxy"))
    if taxii is not None:
        for key in ("headers_env", "proxy"):
            if key in table:
                raise check.fail(
                    key,
                    "a TAXII feed does not use it",
                    "give TAXII credentials as taxii.username_env and "
                    "taxii.password_env; TAXII polls go direct",
                )
    _check_credentials_transport(check, url, taxii, headers, proxy)
    return FeedSpec(
        name=raw_name,
        url=url,
        path=path,
        taxii=taxii,
        format=fmt,
        every=check.duration("every") or _DEFAULT_EVERY,
        confidence=check.integer("confidence", 0, 100),
        expires=check.duration("expires"),
        threat=check.text("threat"),
        tags=_tags(check),
        mode="snapshot" if mode == "snapshot" else "incremental",
        enabled=enabled,
        timeout=float(timeout),
        deadline=float(deadline),
        retries=_DEFAULT_RETRIES if retries is None else retries,
        max_bytes=DEFAULT_MAX_BYTES if max_bytes is None else max_bytes,
        proxy=proxy,
        headers_env=headers,
    )


def _check_credentials_transport(
    check: _Checker,
    url: str | None,
    taxii: TaxiiSpec | None,
    headers: Mapping[str, str],
    proxy: str | None = None,
) -> None:
    """Refuse credentials that would cross the network unprotected.

    A feed that sends them (``headers_env``, or TAXII ``username_env`` and
    ``password_env``) must use ``https`` with its certificate verified, or
    a loopback address reached directly or through a loopback proxy (a
    proxy reads plain ``http`` requests whole), unless it sets
    ``insecure_http = true``.
    """
    insecure = check.table.get("insecure_http", False)
    if not isinstance(insecure, bool):
        raise check.fail("insecure_http", f"{insecure!r} is not true or false", "")
    target: str | None = url
    key, verified, sends = "url", True, bool(headers)
    if taxii is not None:
        sends = bool(taxii.username_env or taxii.password_env)
        target, key, verified = taxii.url, "taxii.url", taxii.verify_tls
    if not sends or target is None or insecure:
        return
    host = urlsplit(target).hostname or ""
    plain = urlsplit(target).scheme != "https"
    if plain and proxy is not None:
        via = urlsplit(proxy).hostname or ""
        if not is_loopback_host(via):
            raise check.fail(
                "proxy",
                f"would read the credentials sent over plain http to {host}",
                "use https (a proxy then only tunnels it), or set "
                "insecure_http = true if the network between is trusted",
            )
    if is_loopback_host(host):
        return
    if urlsplit(target).scheme != "https":
        raise check.fail(
            key,
            f"sends credentials over plain http to {host}",
            "use https, or set insecure_http = true if the network between is trusted",
        )
    if not verified:
        raise check.fail(
            "taxii.verify_tls",
            f"sends credentials to {host} without verifying its certificate",
            "verify it (a server's own CA is not taken yet), or set "
            "insecure_http = true if the network between is trusted",
        )


def _source(
    check: _Checker, key: str, base: Path
) -> tuple[str | None, Path | None, TaxiiSpec | None]:
    """Validate the one source key."""
    if key == "url":
        return _http_url(check, "url", check.text("url")), None, None
    if key == "path":
        text = check.text("path")
        assert text is not None
        path = Path(text).expanduser()
        return None, path if path.is_absolute() else base / path, None
    value = check.table["taxii"]
    if not isinstance(value, dict):
        raise check.fail(
            "taxii", "must be a table", "write taxii = {url = ..., collection = ...}"
        )
    unknown = sorted(set(value) - _TAXII_KEYS)
    if unknown:
        raise check.fail(
            f"taxii.{unknown[0]}",
            "unknown key",
            f"known keys are {', '.join(sorted(_TAXII_KEYS))}; credentials go in "
            "environment variables named by username_env and password_env",
        )
    inner = _Checker(value, check.label)
    collection = inner.text("collection")
    if collection is None:
        raise check.fail("taxii.collection", "missing", "name the collection id")
    verify = value.get("verify_tls", True)
    if not isinstance(verify, bool):
        raise check.fail("taxii.verify_tls", f"{verify!r} is not true or false", "")
    spec = TaxiiSpec(
        url=_http_url(check, "taxii.url", inner.text("url")) or "",
        collection=collection,
        username_env=_env_name(check, "taxii.username_env", value),
        password_env=_env_name(check, "taxii.password_env", value),
        verify_tls=verify,
    )
    if not spec.url:
        raise check.fail("taxii.url", "missing", "give the API root URL")
    return None, None, spec


def _http_url(check: _Checker, key: str, value: str | None) -> str | None:
    """Refuse a URL that is not ``http``/``https`` or that holds credentials."""
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        has_password = parts.password is not None
    except ValueError:
        valid, has_password = False, False
    if not valid:
        raise check.fail(
            key, f"{redact_url(value)!r} is not an http(s) URL", "write http(s)://host/"
        )
    if has_password:
        raise check.fail(
            key,
            "the URL holds a password",
            "never write credentials in the feed list; use headers_env or the "
            "TAXII username_env/password_env",
        )
    return value


def _env_name(check: _Checker, key: str, table: dict[str, Any]) -> str | None:
    """Return an environment variable name, or ``None``."""
    value = table.get(key.rpartition(".")[2])
    if value is None:
        return None
    if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
        raise check.fail(
            key,
            "is not an environment variable name",
            "name the variable that holds the secret, e.g. 'TAXII_PASSWORD'",
        )
    return value


def _headers_env(check: _Checker) -> dict[str, str]:
    """Validate ``headers_env``: header name -> environment variable name."""
    value = check.table.get("headers_env", {})
    if not isinstance(value, dict):
        raise check.fail(
            "headers_env", "must be a table", 'write headers_env = {Auth-Key = "VAR"}'
        )
    for header, variable in value.items():
        if not _HEADER_NAME.fullmatch(header):
            raise check.fail(
                f"headers_env.{header}",
                "is not a valid header name",
                "use letters, digits and - (an RFC 7230 token), e.g. X-Api-Key",
            )
        if not isinstance(variable, str) or not _ENV_NAME.fullmatch(variable):
            raise check.fail(
                f"headers_env.{header}",
                f"{variable!r} is not an environment variable name",
                "name the variable that holds the header's value, not the value",
            )
    return dict(value)


def _tags(check: _Checker) -> tuple[str, ...]:
    """Validate ``tags``: a list of non-empty strings."""
    value = check.table.get("tags", [])
    if not isinstance(value, list) or not all(
        isinstance(tag, str) and tag.strip() for tag in value
    ):
        raise check.fail("tags", f"{value!r} is not a list of strings", 'use ["a"]')
    return tuple(value)
