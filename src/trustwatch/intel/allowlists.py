"""Allow-lists: known-benign values that must never become indicators.

Feeds list popular domains, empty-file hashes and cloud addresses by
mistake, and one such indicator can flag thousands of harmless uploads.
:class:`AllowList` reads MISP warninglists (the ``list.json`` files of the
``misp-warninglists`` project: ``name``, ``type``, ``list``,
``matching_attributes``) and says, per indicator, which list holds it;
:class:`~trustwatch.intel.store.IndicatorStore` refuses such indicators and
``trustwatch run --allowlist`` turns them into dead letters (reason
``allow_listed``).

A list applies only to the indicator types its ``matching_attributes`` name
(``url``/``uri``/``link`` for URLs; ``domain``, ``hostname``, ``domain|ip``
for domains; ``ip-src``, ``ip-dst``, their ``|port`` forms and ``domain|ip``
for addresses and networks; ``md5``, ``sha1``, ``sha256`` and their
``filename|`` forms for digests); a list naming none applies to all. Then,
by the list's ``type``:

``hostname``
    A domain indicator is listed when it, or a parent down to its
    registrable domain, is on the list: ``www.example.com`` is covered by
    ``example.com``. Parents above the registrable domain never count, so a
    list that names a public suffix of the shared-hosting kind
    (``github.io``, in the public suffix list's private section) does not
    cover the sites its users publish under it.
``string``
    Exact values: a domain, address, network or digest as written (hash
    lists such as empty-file digests), or a whole URL.
``cidr``
    Networks: an address indicator inside one, or a network indicator
    inside one, is listed.
``substring``, ``regex``
    As MISP defines them: the indicator's value contains an entry, or an
    entry (``/pattern/flags`` or a bare pattern) matches somewhere in it.

URL indicators and hosts, the choice made here: ``hostname`` and ``string``
lists cover a URL indicator only when the URL is the bare host
(``http://example.com/``: path empty or ``/``, no query), and then by its
host as above. A URL with a path or a query on a listed host stays an
indicator. Top lists rank whole sites, and much phishing lives on
user-controlled paths of popular hosts (site builders, form services,
document sharing: ``sites.google.com/view/...``); allow-listing the host
would hide exactly those. A domain indicator of such a host is still
covered: listing the whole host would block every visit to the site.

Warninglists that describe places anyone can publish under (dynamic DNS,
URL shorteners, link-in-bio services, disposable e-mail) are feature
sources, not allow-lists: given here, they would cover every indicator
under those providers. Pass top lists and false-positive lists.
"""

from __future__ import annotations

import glob
import ipaddress
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import msgspec

from trustwatch.enrichment.domains import normalize_host, psl_split
from trustwatch.errors import ConfigError, InvalidIndicatorError
from trustwatch.intel._fastpath import fast_ipv4_network, ipv4_number, is_plain_host
from trustwatch.intel.indicators import (
    INDICATOR_TYPES,
    Indicator,
    IndicatorType,
    normalize_url,
)

__all__ = ["LIST_TYPES", "AllowList", "WarningList"]

log = logging.getLogger(__name__)

#: Warninglist types understood.
LIST_TYPES: Final = ("string", "hostname", "substring", "cidr", "regex")

_BITS: Final = {4: 32, 6: 128}
_ADDRESS_ATTRIBUTES: Final = frozenset(
    {"ip-src", "ip-dst", "ip-src|port", "ip-dst|port", "domain|ip", "ip"}
)
_MISP_TYPES: Final[dict[IndicatorType, frozenset[str]]] = {
    "url": frozenset({"url", "uri", "link"}),
    "domain": frozenset({"domain", "hostname", "domain|ip", "hostname|port"}),
    "ip": _ADDRESS_ATTRIBUTES,
    "cidr": _ADDRESS_ATTRIBUTES,
    "md5": frozenset({"md5", "filename|md5"}),
    "sha1": frozenset({"sha1", "filename|sha1"}),
    "sha256": frozenset({"sha256", "filename|sha256"}),
}
_REGEX_FLAGS: Final = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}
_DELIMITED: Final = re.compile(r"/(.*)/([a-zA-Z]*)", re.DOTALL)


class WarningList(msgspec.Struct, kw_only=True):
    """One MISP warninglist as its ``list.json`` writes it.

    Attributes
    ----------
    name
        The list's name; :meth:`AllowList.reason` returns it.
    type
        ``string``, ``hostname``, ``substring``, ``cidr`` or ``regex``.
    entries
        The entries (``list`` in the file).
    matching_attributes
        MISP attribute types the list applies to; empty means all.
    """

    name: str
    type: str
    entries: list[str] = msgspec.field(name="list")
    matching_attributes: list[str] = []

    @classmethod
    def from_file(cls, path: str | Path) -> WarningList:
        """Read one warninglist file.

        Raises
        ------
        ConfigError
            When the file cannot be read, is not JSON, or is not a
            warninglist of a known type.
        """
        source = Path(path)
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"cannot read allow-list {source}: {exc.strerror or exc}; hint: "
                "check the path and its permissions"
            ) from exc
        try:
            found = msgspec.json.decode(data, type=cls)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ConfigError(
                f"allow-list {source} is not a MISP warninglist: {exc}; hint: pass "
                "list.json files with name, type and list"
            ) from exc
        if found.type not in LIST_TYPES:
            raise ConfigError(
                f"allow-list {source} has type {found.type!r}; hint: use one of "
                f"{', '.join(LIST_TYPES)}"
            )
        return found

    def applies_to(self) -> tuple[IndicatorType, ...]:
        """Return the indicator types this list covers."""
        wanted = set(self.matching_attributes)
        if not wanted:
            return INDICATOR_TYPES
        return tuple(kind for kind in INDICATOR_TYPES if wanted & _MISP_TYPES[kind])


class _Substrings:
    """The entries of one substring list, found in a text without a full scan.

    Entries are filed under their first ``key`` characters (the shortest
    entry's length, at most 4), so each position of the text costs one
    dictionary probe and a few ``startswith`` checks.
    """

    def __init__(self, entries: Iterable[str]) -> None:
        texts = {entry.strip().lower() for entry in entries}
        texts.discard("")
        self._count = len(texts)
        self._key = min((len(text) for text in texts), default=1)
        self._key = min(self._key, 4)
        grouped: dict[str, list[str]] = {}
        for text in texts:
            grouped.setdefault(text[: self._key], []).append(text)
        self._by_prefix = {head: tuple(group) for head, group in grouped.items()}

    def __len__(self) -> int:
        """Return the number of distinct entries."""
        return self._count

    def found_in(self, text: str) -> bool:
        """Return whether any entry occurs in the lowercase ``text``."""
        key, by_prefix = self._key, self._by_prefix
        for start in range(len(text) - key + 1):
            candidates = by_prefix.get(text[start : start + key])
            if candidates is not None and any(
                text.startswith(candidate, start) for candidate in candidates
            ):
                return True
        return False


@dataclass(slots=True)
class _Index:
    """The entries of every list that applies to one indicator type."""

    strings: dict[str, int] = field(default_factory=dict)
    hostnames: dict[str, int] = field(default_factory=dict)
    networks: dict[int, dict[int, dict[int, int]]] = field(
        default_factory=lambda: {4: {}, 6: {}}
    )
    prefixes: dict[int, tuple[int, ...]] = field(default_factory=lambda: {4: (), 6: ()})
    substrings: list[tuple[int, _Substrings]] = field(default_factory=list)
    regexes: list[tuple[int, re.Pattern[str]]] = field(default_factory=list)

    def empty(self) -> bool:
        """Return whether no list applies."""
        return not (
            self.strings
            or self.hostnames
            or self.prefixes[4]
            or self.prefixes[6]
            or self.substrings
            or self.regexes
        )


class AllowList:
    """Known-benign values from MISP warninglists, checked per indicator.

    Parameters
    ----------
    lists
        Warninglists in order of precedence: when several hold a value,
        :meth:`reason` names the first.

    Examples
    --------
    >>> from trustwatch.intel.indicators import indicator_from_text
    >>> allow = AllowList([WarningList(name="top", type="hostname",
    ...                                entries=["example.com"])])
    >>> allow.reason(indicator_from_text("www.example.com", "demo"))
    'top'
    >>> allow.reason(indicator_from_text("http://example.com/login", "demo"))
    """

    def __init__(self, lists: Iterable[WarningList] = ()) -> None:
        self._indexes: dict[IndicatorType, _Index] = {
            kind: _Index() for kind in INDICATOR_TYPES
        }
        self._names: list[str] = []
        #: Usable entries read, over all lists.
        self.entries = 0
        #: Entries that could not be read (bad network, regex, host), per list.
        self.skipped_entries: dict[str, int] = {}
        for warning_list in lists:
            self._add(warning_list)
        for index in self._indexes.values():
            for version, prefixes in index.prefixes.items():
                index.prefixes[version] = tuple(sorted(prefixes, reverse=True))

    @classmethod
    def from_paths(cls, paths: str | Path | Iterable[str | Path]) -> AllowList:
        """Read warninglists from files, folders and globs.

        A folder gives its ``*.json`` files and the ``list.json`` of each
        subfolder (the ``misp-warninglists`` layout ``lists/<name>/list.json``),
        in name order.

        Raises
        ------
        ConfigError
            When a path matches no file, or a file is not a warninglist.
        """
        entries: Iterable[str | Path] = (
            [paths] if isinstance(paths, str | os.PathLike) else paths
        )
        files: dict[str, Path] = {}
        for entry in entries:
            for path in _expand(entry):
                files.setdefault(os.path.realpath(path), path)
        allowlist = cls(WarningList.from_file(path) for path in files.values())
        log.info(
            "allow-lists loaded: %d lists, %d entries",
            len(allowlist.names),
            allowlist.entries,
        )
        return allowlist

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the lists, in order of precedence."""
        return tuple(self._names)

    def __len__(self) -> int:
        """Return the number of lists."""
        return len(self._names)

    # --- building -----------------------------------------------------------

    def _add(self, warning_list: WarningList) -> None:
        """Index one list's entries under every type it applies to."""
        if warning_list.type not in LIST_TYPES:
            raise ConfigError(
                f"allow-list {warning_list.name!r} has type {warning_list.type!r}; "
                f"hint: use one of {', '.join(LIST_TYPES)}"
            )
        number = len(self._names)
        self._names.append(warning_list.name)
        kinds = warning_list.applies_to()
        bad = 0
        kind_of_list = warning_list.type
        if kind_of_list == "cidr":
            networks = [_network(entry) for entry in warning_list.entries]
            bad = networks.count(None)
            for kind in kinds:
                self._add_networks(self._indexes[kind], networks, number)
            usable = len(networks) - bad
        elif kind_of_list == "hostname":
            hosts = [_hostname(entry) for entry in warning_list.entries]
            bad = hosts.count(None)
            for kind in kinds:
                table = self._indexes[kind].hostnames
                for host in hosts:
                    if host is not None:
                        table.setdefault(host, number)
            usable = len(hosts) - bad
        elif kind_of_list == "string":
            keys = {_string_key(entry) for entry in warning_list.entries}
            keys.discard("")
            for kind in kinds:
                table = self._indexes[kind].strings
                for key in keys:
                    table.setdefault(key, number)
            usable = len(keys)
        elif kind_of_list == "substring":
            substrings = _Substrings(warning_list.entries)
            for kind in kinds:
                self._indexes[kind].substrings.append((number, substrings))
            usable = len(substrings)
        else:
            patterns = [_regex(entry) for entry in warning_list.entries]
            bad = patterns.count(None)
            for kind in kinds:
                self._indexes[kind].regexes.extend(
                    (number, pattern) for pattern in patterns if pattern is not None
                )
            usable = len(patterns) - bad
        self.entries += usable
        if bad:
            self.skipped_entries[warning_list.name] = bad
            log.warning(
                "allow-list %r: %d entries could not be read and are ignored",
                warning_list.name,
                bad,
            )

    @staticmethod
    def _add_networks(
        index: _Index, networks: Sequence[tuple[int, int, int] | None], number: int
    ) -> None:
        """Index networks as (version, prefix, first address) per prefix length."""
        for network in networks:
            if network is None:
                continue
            version, prefix, address = network
            table = index.networks[version].setdefault(prefix, {})
            table.setdefault(address >> (_BITS[version] - prefix), number)
            if prefix not in index.prefixes[version]:
                index.prefixes[version] += (prefix,)

    # --- checking -----------------------------------------------------------

    def reason(self, indicator: Indicator) -> str | None:
        """Return the name of the list that holds the indicator, else ``None``.

        See the module docstring for what each list type covers.
        """
        index = self._indexes[indicator.type]
        found: list[int] = []
        value = indicator.value
        kind = indicator.type
        hit = index.strings.get(value)
        if hit is not None:
            found.append(hit)
        if kind == "url":
            host = _bare_url_host(value)
            if host is not None:
                if (hit := index.strings.get(host)) is not None:
                    found.append(hit)
                self._check_host(index, host, found)
        elif kind == "domain":
            self._check_host(index, value, found)
        elif kind in ("ip", "cidr"):
            _check_networks(index, value, found)
        if index.substrings or index.regexes:
            _check_patterns(index, value, found)
        return self._names[min(found)] if found else None

    def _check_host(self, index: _Index, host: str, found: list[int]) -> None:
        """Check a host against host lists, or an IP host against networks."""
        if ipv4_number(host) is not None or ":" in host:
            _check_networks(index, host, found)
            return
        hostnames = index.hostnames
        if not hostnames:
            return
        hit = hostnames.get(host)
        if hit is not None:
            found.append(hit)
        registrable = psl_split(host)[1]
        parent = host
        while len(parent) > len(registrable) and (dot := parent.find(".")) >= 0:
            parent = parent[dot + 1 :]
            if len(parent) < len(registrable):
                break
            hit = hostnames.get(parent)
            if hit is not None:
                found.append(hit)


def _check_networks(index: _Index, value: str, found: list[int]) -> None:
    """Check an address or network against the listed networks holding it."""
    if not (index.prefixes[4] or index.prefixes[6]):
        return
    parsed = _network(value)
    if parsed is None:
        return
    version, prefix, address = parsed
    bits = _BITS[version]
    tables = index.networks[version]
    for listed in index.prefixes[version]:
        if listed > prefix:
            continue
        hit = tables[listed].get(address >> (bits - listed))
        if hit is not None:
            found.append(hit)


def _check_patterns(index: _Index, value: str, found: list[int]) -> None:
    """Check substring and regex lists against the whole value."""
    lowered = value.lower()
    for number, substrings in index.substrings:
        if substrings.found_in(lowered):
            found.append(number)
    for number, pattern in index.regexes:
        if pattern.search(value) is not None:
            found.append(number)


# --- entries --------------------------------------------------------------------


def _hostname(entry: str) -> str | None:
    """Return a hostname entry in canonical form (``*.`` and dots trimmed)."""
    text = entry.strip().lower().lstrip("*").strip(".")
    if not text:
        return None
    if is_plain_host(text):
        return text
    try:
        return normalize_host(text)
    except (ValueError, InvalidIndicatorError):
        return None


def _string_key(entry: str) -> str:
    """Return a string entry as indicator values are written."""
    text = entry.strip()
    if "://" in text:
        try:
            return normalize_url(text)
        except InvalidIndicatorError:
            return text
    return text.lower().rstrip(".")


def _network(entry: str) -> tuple[int, int, int] | None:
    """Return (version, prefix, first address) of a network or address entry."""
    text = entry.strip()
    fast = fast_ipv4_network(text) if "/" in text else None
    if fast is not None:
        address, _, prefix = fast.partition("/")
        return 4, int(prefix), ipv4_number(address) or 0
    number = ipv4_number(text)
    if number is not None:
        return 4, 32, number
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    return network.version, network.prefixlen, int(network.network_address)


def _regex(entry: str) -> re.Pattern[str] | None:
    """Compile a ``/pattern/flags`` (or bare) regex entry; ``None`` if invalid."""
    text = entry.strip()
    flags = 0
    delimited = _DELIMITED.fullmatch(text)
    if delimited is not None:
        text = delimited.group(1)
        for letter in delimited.group(2):
            flags |= _REGEX_FLAGS.get(letter, 0)
    try:
        return re.compile(text, flags)
    except re.error:
        return None


def _bare_url_host(url: str) -> str | None:
    """Return the host of a canonical URL that is only a host, else ``None``.

    ``http://example.com/`` and ``https://example.com:8443/`` give the host;
    a path beyond ``/``, a query, a fragment or user info give ``None``.
    """
    _, sep, rest = url.partition("://")
    if not sep:
        return None
    authority, _, tail = rest.partition("/")
    if tail or not authority or "@" in authority or "?" in authority:
        return None
    if authority.startswith("["):
        return authority[1 : authority.find("]")] or None
    return authority.partition(":")[0] or None


def _expand(entry: str | Path) -> list[Path]:
    """Return the warninglist files one named path stands for."""
    path = Path(entry)
    if path.is_dir():
        files = _folder_lists(path)
        if not files:
            raise ConfigError(
                f"allow-list folder {path} holds no .json file; hint: pass a "
                "folder of MISP warninglist list.json files"
            )
        return files
    if path.is_file():
        return [path]
    text = os.fspath(entry)
    if re.search(r"[*?\[]", text):
        matches: list[Path] = []
        for match in sorted(glob.glob(text, recursive=True)):
            found = Path(match)
            matches += _folder_lists(found) if found.is_dir() else [found]
        if matches:
            return matches
        raise ConfigError(
            f"allow-list glob {text!r} matches no file; hint: check the pattern"
        )
    raise ConfigError(
        f"allow-list {path} does not exist; hint: check the path (a warninglist "
        "list.json file, a folder of them, or a glob)"
    )


def _folder_lists(folder: Path) -> list[Path]:
    """Return a folder's visible ``*.json`` files and its subfolders' list.json."""
    found = [
        p
        for p in folder.iterdir()
        if not p.name.startswith(".") and p.suffix == ".json" and p.is_file()
    ]
    found += [
        p / "list.json"
        for p in folder.iterdir()
        if not p.name.startswith(".") and (p / "list.json").is_file()
    ]
    return sorted(found)
