"""URLs as a browser reads them: refang, extract, parse, canonicalise, flag.

One parser serves both the verdict and any later use of a URL, so that a URL
cannot mean one host to trustwatch and another to the victim's browser. It
follows the WHATWG URL Standard (https://url.spec.whatwg.org/) for the parts
that decide where a browser goes (scheme, slashes and backslashes, userinfo,
host, port), is lenient where real hosts break strict IDNA2008, and produces a
canonical string, :attr:`ParsedUrl.url`, to use as the matching key.

Conventions
-----------
* Defanged input (``hxxp://evil[.]example``) is refanged first (:func:`refang`,
  forms listed below) when its scheme or host is defanged; a URL whose scheme
  and host are intact is taken as written, so ``hxxp:`` or ``[.]`` in its
  query stays as it is.
* Input without a scheme, such as ``example.com/path``, is read as
  ``http://example.com/path`` and flagged ``no_scheme``; it must then have a dot
  in its host (or be a bracketed IPv6 literal) and no userinfo, so that single
  words and e-mail addresses are refused rather than read as hosts.
* Every URL must have a host: ``mailto:``, ``javascript:``, ``data:`` and
  ``file:///`` URLs raise :class:`~trustwatch.errors.InvalidUrlError`.
* Hosts of every scheme (``tcp://``, ``ftp://``...) are parsed as domain names or
  IP literals so that they match the same blocklist entries as web URLs.
* The canonical URL has a lowercase scheme, the canonical host, the port only
  when it is not the scheme's default, the path with dot segments (also
  written ``%2e``) resolved, and ``?query`` when the query is not empty.
  Userinfo and fragment are left out. In path and query, the characters a
  browser escapes are percent-encoded, escapes of unreserved characters
  (``A-Z a-z 0-9 - . _ ~``) are decoded and the other escapes are written in
  upper case, as RFC 3986 section 6.2.2 normalises them: ``/%70ayload.exe``
  and ``/payload.exe`` are one key, ``%2f`` stays an escape (``%2F``).
* Inputs longer than 2,097,152 characters (2 MiB, the most Chromium loads)
  raise :class:`~trustwatch.errors.InvalidUrlError`. Intel URL indicators
  have a tighter cap, 32,768 characters like event URLs
  (:data:`trustwatch.intel.MAX_URL_INDICATOR_CHARS`).

Refanging
---------
:func:`refang` undoes the common defanging found in threat-intel reports and
feeds and written by tools such as ioc-fanger, matching case-insensitively:

* schemes: ``hxxp``, ``hXXp``, ``hxxps``, ``h**p``, ``h**ps``, ``h__p`` and
  ``h__ps`` become ``http``/``https``; ``fxp`` and ``fxps`` become ``ftp``/
  ``ftps``, when followed by ``:`` (or a bracketed ``[:]``);
* dots: ``[.]``, ``(.)``, ``{.}``, ``[dot]``, ``(dot)``, ``{dot}``, with or
  without spaces inside or around, and ``" . "`` or ``" dot "`` between two
  name characters;
* other punctuation: ``[:]``, ``[://]``, ``[/]``, ``[@]``, ``[at]`` and their
  ``()`` and ``{}`` forms;
* JSON-escaped slashes: in a URL written ``scheme:\\/\\/``, every ``\\/`` is a
  ``/``.

Anything else is left as it is: rarer inventions (``meow://``, ``xxxx://``)
name no scheme to restore.

Flags
-----
:attr:`ParsedUrl.flags` holds these stable codes:

``userinfo``
    The authority has userinfo (``user@``) in front of the host.
``deceptive_userinfo``
    The userinfo (or its password part) is shaped like a host name or an IP
    address (``bank.example@evil.example``); the real host is the part after
    the last ``@``.
``backslash``
    A backslash stands where browsers read a slash (special schemes only).
``nonstandard_slashes``
    A special-scheme URL does not have exactly ``//`` after the scheme
    (``https:/x``, ``https:///x``, ``https:\\x``).
``parser_differential``
    An RFC 3986 parser such as :func:`urllib.parse.urlsplit` would read a
    different host (or none); the other host, if any, is in
    :attr:`ParsedUrl.extra_hosts`.
``no_scheme``
    The input had no scheme and ``http://`` was assumed.
``defanged``
    The input was defanged and has been refanged.
``tab_or_newline``
    Tabs or newlines inside the URL were removed, as browsers do.
``percent_encoded_host``
    The host had percent escapes, decoded once.
``invisible_chars``
    Invisible (default-ignorable) characters were removed from the host.
``trailing_dot``
    The host ended in one or more root dots, removed.
``idn``
    The host has internationalised (Punycode) labels.
``nonstandard_idn``
    A Punycode label decodes to text that IDNA would have mapped (e.g. lower-case
    Cherokee); browsers refuse it, but such hosts appear in feeds, so the
    A-label is kept as the key.
``mixed_script``
    A host label mixes scripts (see
    :func:`trustwatch.enrichment.domains.is_mixed_script`).
``confusable``
    An internationalised host whose skeleton is plain ASCII: it renders like an
    ASCII host name (``xn--80ak6aa92e.com`` looks like ``apple.com``).
``ip_host``
    The host is an IP address.
``nonstandard_ip_notation``
    The IP host was written other than as a dotted-quad decimal or plain IPv6
    (integer, hex, octal, shortened ``127.1``, or IPv4-mapped IPv6).
``ipv4_mapped``
    The host was an IPv4-mapped IPv6 literal (``[::ffff:a.b.c.d]``), unwrapped.
``private_ip``
    The IP host is not globally reachable unicast (private, loopback,
    link-local, documentation, reserved, multicast...).
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from trustwatch.enrichment._hostparse import HostError, HostInfo, canonical_host
from trustwatch.enrichment.domains import psl_split
from trustwatch.errors import InvalidUrlError

__all__ = [
    "ParsedUrl",
    "clear_caches",
    "extract_urls",
    "iter_urls",
    "load_suffix_list",
    "parse_url",
    "refang",
]

#: Schemes the WHATWG standard treats specially, with their default ports.
SPECIAL_SCHEMES: dict[str, int | None] = {
    "http": 80,
    "https": 443,
    "ws": 80,
    "wss": 443,
    "ftp": 21,
    "file": None,
}

_MAX_URL_CHARS = 2 * 1024 * 1024  # what Chromium accepts
_MAX_CACHED_CHARS = 2048  # longer inputs are parsed each time, not kept
_SHOWN_CHARS = 80

# ---------------------------------------------------------------- refanging

_DEFANG_HINT = re.compile(r"[\[({]|h(?:xx|\*\*|__)p|fxp| \. | dot |\\/", re.IGNORECASE)
_DEFANGED_SCHEME = re.compile(
    r"\b(?:h(?:xx|\*\*|__)p|fxp)(s?)(?=[\[({]?:)", re.IGNORECASE
)
# each bracket form is closed by its own bracket: "(/]" is no defanging
_BRACKETED_DOT = re.compile(
    r"[ \t]*(?:\[\s*(?:\.|dot)\s*\]|\(\s*(?:\.|dot)\s*\)|\{\s*(?:\.|dot)\s*\})[ \t]*",
    re.IGNORECASE,
)
_BRACKETED_AT = re.compile(r"\[\s*(?:@|at)\s*\]|\(@\)|\{@\}", re.IGNORECASE)
_BRACKETED_PUNCT = re.compile(r"\[(://|:|/)\]|\((://|:|/)\)|\{(://|:|/)\}")
_SPACED_DOT = re.compile(
    r"(?<=[A-Za-z0-9-]) +(?:\.|dot) +(?=[A-Za-z0-9-])", re.IGNORECASE
)
_ESCAPED_SLASH_URL = re.compile(r"(?<=[A-Za-z0-9]):\\/\\/[^\s\"'<>]*")


def _bracketed_punct(match: re.Match[str]) -> str:
    """The punctuation inside whichever bracket pair matched."""
    return next(group for group in match.groups() if group)


def refang(text: str) -> str:
    """Undo the common ways people defang URLs, domains and addresses.

    Handles the forms listed in the module docstring ("Refanging"): defanged
    schemes (``hxxp``, ``hXXp``, ``hxxps``, ``h**p``, ``h__p``, ``fxp``,
    ``fxps``), bracketed or spaced dots (``" dot "`` too), bracketed ``:``,
    ``://``, ``/`` and ``@``, and JSON-escaped slashes in a URL. Matching
    ignores case. Anything else is left as it is.

    Parameters
    ----------
    text
        Free text or a single indicator.

    Returns
    -------
    str
        The text with defanging undone.

    Examples
    --------
    >>> refang("hXXps[://]secure-login[.]example[/]drop[.]php")
    'https://secure-login.example/drop.php'
    """
    if not _DEFANG_HINT.search(text):
        return text
    text = _DEFANGED_SCHEME.sub(_real_scheme, text)
    text = _BRACKETED_DOT.sub(".", text)
    text = _BRACKETED_AT.sub("@", text)
    text = _BRACKETED_PUNCT.sub(_bracketed_punct, text)
    text = _SPACED_DOT.sub(".", text)
    if "\\/" in text:
        text = _ESCAPED_SLASH_URL.sub(_unescaped_slashes, text)
    return text


def _unescaped_slashes(match: re.Match[str]) -> str:
    """Return a JSON-escaped URL (``:\\/\\/host\\/path``) with plain slashes."""
    return match.group().replace("\\/", "/")


def _real_scheme(match: re.Match[str]) -> str:
    """Return the scheme a defanged one stands for, in lower case."""
    base = "ftp" if match.group()[0] in "fF" else "http"
    return base + "s" if match.group(1) else base


# --------------------------------------------------------------- extraction

_URL_IN_TEXT = re.compile(
    r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]+://[^\s<>\"\x00-\x1f\x7f]+"
)
_TRAILING_PUNCT = ".,;:!?"
_CLOSERS = {")": "(", "]": "[", "}": "{"}
_COUNTED = ("'", *_CLOSERS, *_CLOSERS.values())
_TRIMMABLE = frozenset(_TRAILING_PUNCT + "'" + "".join(_CLOSERS))


def extract_urls(text: str, *, refanged: bool = True) -> list[str]:
    """Find the URLs with a scheme in free text, after refanging it.

    Any scheme followed by ``://`` counts, and is kept as written (``tcp://``
    stays ``tcp://``). Trailing sentence punctuation and unbalanced closing
    brackets or quotes are trimmed. A bare domain or address is not a URL:
    ``198.51.100[.]248`` yields nothing.

    Parameters
    ----------
    text
        Free text, e.g. a feed line or a message body.
    refanged
        Refang first (``hxxp``, ``[.]``), as for threat intel; ``False`` finds
        only the URLs as written, those a reader could follow.

    Returns
    -------
    list of str
        The URLs in order of first appearance, refanged, without duplicates.
        They are not canonicalised; pass them to :func:`parse_url` for that.

    Examples
    --------
    >>> extract_urls("http[:]//example1.com http://example2.com https[:]//example3.com")
    ['http://example1.com', 'http://example2.com', 'https://example3.com']
    """
    return list(dict.fromkeys(iter_urls(text, refanged=refanged)))


def iter_urls(text: str, *, refanged: bool = True) -> Iterator[str]:
    """Yield the URLs of :func:`extract_urls` one at a time, repeats included,
    so that a reader with a limit stops early."""
    for match in _URL_IN_TEXT.finditer(refang(text) if refanged else text):
        candidate = _trim_url(match.group())
        if "://" in candidate and not candidate.endswith("://"):
            yield candidate


def _trim_url(candidate: str) -> str:
    """Drop trailing punctuation that belongs to the sentence, not the URL.

    A sentence stop goes; a closing bracket goes while the URL holds more of
    them than of its opening one; a quote goes while the URL holds an odd
    number. The counts are taken once and kept as characters go, so a URL
    that ends in a long run of them costs one pass, not one per character.
    """
    if not candidate or candidate[-1] not in _TRIMMABLE:
        return candidate  # most URLs: nothing to count
    counts = {mark: candidate.count(mark) for mark in _COUNTED}
    end = len(candidate)
    while end:
        last = candidate[end - 1]
        if last in _TRAILING_PUNCT:
            pass
        elif last in _CLOSERS and counts[last] > counts[_CLOSERS[last]]:
            counts[last] -= 1
        elif last == "'" and counts["'"] % 2 == 1:
            counts["'"] -= 1
        else:
            break
        end -= 1
    return candidate[:end]


# ------------------------------------------------------------------ parsing


@dataclass(frozen=True, slots=True)
class ParsedUrl:
    """A URL split the way a browser splits it, with its canonical form.

    Attributes
    ----------
    raw
        The string given to :func:`parse_url`, unchanged.
    url
        The canonical URL, the key to match on (see the module docstring).
    scheme
        Lowercase scheme.
    host
        Canonical host: lowercase A-labels without a trailing dot, dotted-quad
        IPv4, or compressed IPv6 without brackets.
    host_unicode
        The host with Punycode labels decoded (equal to ``host`` otherwise).
    port
        The explicit port, or ``None`` when absent or the scheme's default.
    path
        Canonical path, at least ``"/"``.
    query
        Canonical query without the ``?``; ``""`` when absent.
    fragment
        Fragment without the ``#``, as written; ``""`` when absent.
    userinfo
        The text before the last ``@`` of the authority, or ``None``.
    host_is_ip
        Whether the host is an IP address.
    registrable_domain
        Public Suffix List registrable domain, or the whole host when it has
        none (IP, single label, public suffix). Never empty.
    public_suffix
        The public suffix of the host; ``""`` for IP addresses.
    flags
        Stable codes for what the parse noticed (see the module docstring).
    extra_hosts
        Other canonical hosts a blocklist must also check: a host-shaped
        userinfo, or the host another parser would have read.
    """

    raw: str
    url: str
    scheme: str
    host: str
    host_unicode: str
    port: int | None
    path: str
    query: str
    fragment: str
    userinfo: str | None
    host_is_ip: bool
    registrable_domain: str
    public_suffix: str
    flags: frozenset[str]
    extra_hosts: tuple[str, ...]


def parse_url(raw: str) -> ParsedUrl:
    """Parse a URL as a browser would, and canonicalise it.

    Results are cached on the raw string (inputs up to 2,048 characters), so
    repeated URLs cost a dictionary lookup.

    Parameters
    ----------
    raw
        A URL, possibly defanged, possibly without a scheme.

    Returns
    -------
    ParsedUrl
        The parts, the canonical URL and the flags.

    Raises
    ------
    trustwatch.errors.InvalidUrlError
        When a browser would not load the string as a URL with a host.

    Examples
    --------
    >>> parsed = parse_url("https://one.example\\\\@two.example/path")
    >>> parsed.host, parsed.path, parsed.extra_hosts
    ('one.example', '/@two.example/path', ('two.example',))
    """
    if len(raw) <= _MAX_CACHED_CHARS:
        result = _parse_cached(raw)
    else:
        result = _parse_or_reason(raw)
    if isinstance(result, str):
        raise InvalidUrlError(result)
    return result


def load_suffix_list() -> None:
    """Load the Public Suffix List now instead of on the first URL parsed.

    Reading the list takes about a tenth of a second; the URL detectors call
    this when they are built, so that no event of a stream waits for it.
    """
    psl_split("example.com")


def clear_caches() -> None:
    """Empty the URL, host and suffix caches (for benchmarks and tests)."""
    _parse_cached.cache_clear()
    canonical_host.cache_clear()
    psl_split.cache_clear()


def _parse_or_reason(raw: str) -> ParsedUrl | str:
    """Parse ``raw``, or return the error message instead of raising it."""
    try:
        return _parse(raw)
    except InvalidUrlError as error:
        return str(error)


_parse_cached = lru_cache(maxsize=65536)(_parse_or_reason)


def _fail(raw: str, reason: str) -> InvalidUrlError:
    """Build the error for ``raw``: the value, what is wrong, and a hint."""
    shown = repr(raw[:_SHOWN_CHARS]) + ("..." if len(raw) > _SHOWN_CHARS else "")
    return InvalidUrlError(
        f"{shown} is not a URL a browser would load: {reason}; expected "
        "scheme://host[:port]/path, e.g. 'https://www.example/'"
    )


_C0_OR_SPACE = "".join(map(chr, range(0x21)))
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_CLEAN_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
_PORT_NEXT = re.compile(r"\d*(?:[/?#]|$)")
_SLASHES = re.compile(r"[/\\]*")
_SPECIAL_AUTHORITY_END = re.compile(r"[/\\?#]")
_AUTHORITY_END = re.compile(r"[/?]")


@dataclass(slots=True)
class _Parts:
    """Mutable working state of one parse."""

    text: str
    flags: set[str]
    scheme: str = ""
    authority: str = ""
    tail: str = ""
    fragment: str = ""


def _parse(raw: str) -> ParsedUrl:
    """Parse without caching; raise :class:`InvalidUrlError` on failure."""
    if len(raw) > _MAX_URL_CHARS:
        raise _fail(raw, f"it is longer than {_MAX_URL_CHARS} characters")
    parts = _Parts("", set())
    parts.text = _prepare(raw, parts.flags)
    if not parts.text:
        raise _fail(raw, "it is empty")
    _split_scheme(parts)
    _split_authority(parts, raw)
    userinfo, hostport = _split_userinfo(parts)
    host_text, port = _split_port(hostport, parts.scheme, raw)
    try:
        host = canonical_host(host_text)
    except HostError as error:
        raise _fail(raw, f"invalid host ({error})") from error
    _check_schemeless(parts, host_text, userinfo, raw)
    path, query = _canonical_path_query(parts)
    extra_hosts = _extra_hosts(parts, host, userinfo)
    return _build(raw, parts, host, port, path, query, userinfo, extra_hosts)


def _prepare(raw: str, flags: set[str]) -> str:
    """Trim C0 controls and spaces, drop tabs and newlines, and refang."""
    text = raw.strip(_C0_OR_SPACE)
    if "\t" in text or "\n" in text or "\r" in text:
        text = _TAB_OR_NEWLINE.sub("", text)
        flags.add("tab_or_newline")
    refanged = refang(text)
    if refanged == text or not _is_defanged(text):
        return text
    flags.add("defanged")
    return refanged


def _is_defanged(text: str) -> bool:
    """Say whether the scheme or authority of ``text`` is defanged.

    A URL whose scheme and host are intact is taken as written, so that
    ``[.]`` or ``hxxp:`` inside a real URL's path or query stays as it is.
    """
    separator = _CLEAN_SCHEME.match(text)
    if separator is None or _DEFANGED_SCHEME.match(text):
        return True
    end = _SPECIAL_AUTHORITY_END.search(text, separator.end())
    # One character past the end, so that a bracketed end (``host[/]path``)
    # counts as defanging of the authority.
    authority = text[separator.end() : end.start() + 2 if end else len(text)]
    return refang(authority) != authority


def _split_scheme(parts: _Parts) -> None:
    """Take the scheme off ``parts.text``; assume ``http`` when there is none."""
    text = parts.text
    match = _SCHEME.match(text)
    if match and _is_scheme(match.group(1), text, match.end()):
        parts.scheme = match.group(1).lower()
        parts.text = text[match.end() :]
        return
    parts.scheme = "http"
    parts.text = text if text.startswith("//") else "//" + text
    parts.flags.add("no_scheme")


def _is_scheme(candidate: str, text: str, after: int) -> bool:
    """Tell ``scheme:rest`` from ``host:port`` in input that may lack a scheme."""
    if text.startswith("/", after):
        return True
    if "." in candidate:
        return False
    return _PORT_NEXT.match(text, after) is None


def _split_authority(parts: _Parts, raw: str) -> None:
    """Separate the fragment, the authority and the path-and-query tail."""
    rest, _, parts.fragment = parts.text.partition("#")
    if parts.scheme in SPECIAL_SCHEMES:
        slashes = _SLASHES.match(rest)
        lead = slashes.group() if slashes else ""
        _check_slashes(parts, lead, raw)
        rest = rest[len(lead) :]
        end = _SPECIAL_AUTHORITY_END.search(rest)
    else:
        if not rest.startswith("//"):
            raise _fail(raw, f"the {parts.scheme}: URL has no host")
        rest = rest[2:]
        end = _AUTHORITY_END.search(rest)
    cut = end.start() if end else len(rest)
    parts.authority, parts.tail = rest[:cut], rest[cut:]


def _check_slashes(parts: _Parts, lead: str, raw: str) -> None:
    """Flag unusual slashes; refuse file URLs, which have no host here."""
    if "\\" in lead:
        parts.flags.add("backslash")
    if lead != "//":
        parts.flags.add("nonstandard_slashes")
    if parts.scheme == "file" and lead != "//":
        raise _fail(raw, "the file: URL has no host")


def _split_userinfo(parts: _Parts) -> tuple[str | None, str]:
    """Split ``userinfo@host:port`` at the last ``@``, as browsers do."""
    userinfo, at, hostport = parts.authority.rpartition("@")
    if not at:
        return None, hostport
    parts.flags.add("userinfo")
    return userinfo, hostport


def _split_port(hostport: str, scheme: str, raw: str) -> tuple[str, int | None]:
    """Split ``host:port``; drop the port when it is the scheme's default."""
    if hostport.startswith("["):
        close = hostport.find("]")
        if close < 0:
            raise _fail(raw, "the IPv6 literal has no closing bracket")
        host, after = hostport[: close + 1], hostport[close + 1 :]
        if after and not after.startswith(":"):
            raise _fail(raw, "text follows the IPv6 literal")
        port_text = after[1:]
    else:
        host, _, port_text = hostport.partition(":")
    if not port_text:
        return host, None
    if not (port_text.isascii() and port_text.isdigit()) or int(port_text) > 65535:
        raise _fail(raw, f"the port {port_text[:10]!r} is not a number up to 65535")
    port = int(port_text)
    return host, None if port == SPECIAL_SCHEMES.get(scheme, -1) else port


def _check_schemeless(
    parts: _Parts, host_text: str, userinfo: str | None, raw: str
) -> None:
    """Refuse scheme-less input that is a word or an e-mail address."""
    if "no_scheme" not in parts.flags:
        return
    if userinfo is not None:
        raise _fail(raw, "it has no scheme and looks like an e-mail address")
    if "." not in host_text and not host_text.startswith("["):
        raise _fail(raw, "it has no scheme and its host has no dot")


# ----------------------------------------------------------- path and query

_PATH_ESCAPE = re.compile(r"[\x00-\x20\"<>`{}\x7f-\U0010ffff]")
_QUERY_ESCAPE = re.compile(r"[\x00-\x20\"#<>\x7f-\U0010ffff]")
_SPECIAL_QUERY_ESCAPE = re.compile(r"[\x00-\x20\"#'<>\x7f-\U0010ffff]")
# Escapes that normalisation changes: any with lower-case hex, and those of
# unreserved characters (2D 2E 30-39 41-5A 5F 61-7A 7E) in upper case.
_CHANGED_ESCAPE = re.compile(
    r"%(?:[0-9A-Fa-f][a-f]|[a-f][0-9A-Fa-f]|2[DE]|3[0-9]|[46][1-9A-F]|[57][0-9A]"
    r"|5F|7E)"
)
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_NORMAL_ESCAPES: dict[str, str] = {
    f"%{high}{low}": (
        chr(int(high + low, 16))
        if chr(int(high + low, 16)) in _UNRESERVED
        else f"%{high}{low}".upper()
    )
    for high in string.hexdigits
    for low in string.hexdigits
}
_DOT_SEGMENT = re.compile(r"/(?:\.|%2e){1,2}(?=/|$)", re.IGNORECASE)


def _canonical_path_query(parts: _Parts) -> tuple[str, str]:
    """Return the canonical path and query of the tail."""
    path, mark, query = parts.tail.partition("?")
    special = parts.scheme in SPECIAL_SCHEMES
    if special and "\\" in path:
        parts.flags.add("backslash")
        path = path.replace("\\", "/")
    path = _canonical_path(path)
    if not mark or not query:
        return path, ""
    pattern = _SPECIAL_QUERY_ESCAPE if special else _QUERY_ESCAPE
    return path, _escape(query, pattern)


def _canonical_path(path: str) -> str:
    """Resolve dot segments and escape what browsers escape in a path."""
    if not path:
        return "/"
    if not path.startswith("/"):
        path = "/" + path
    if _DOT_SEGMENT.search(path):
        path = _remove_dot_segments(path)
    return _escape(path, _PATH_ESCAPE)


def _remove_dot_segments(path: str) -> str:
    """Apply ``.`` and ``..`` (also written ``%2e``) the way browsers do."""
    segments = path[1:].split("/")
    last = len(segments) - 1
    out: list[str] = []
    for index, segment in enumerate(segments):
        plain = segment.lower().replace("%2e", ".")
        if plain == "..":
            if out:
                out.pop()
        elif plain != ".":
            out.append(segment)
            continue
        if index == last:
            out.append("")
    return "/" + "/".join(out)


def _escape(text: str, pattern: re.Pattern[str]) -> str:
    """Percent-encode what ``pattern`` matches (as UTF-8); normalise escapes.

    Escapes of unreserved characters are decoded, the others upper-cased
    (RFC 3986 sections 6.2.2.1 and 6.2.2.2).
    """
    if pattern.search(text):
        text = pattern.sub(_escape_match, text)
    if "%" in text:
        text = _CHANGED_ESCAPE.sub(_normal_escape, text)
    return text


def _escape_match(match: re.Match[str]) -> str:
    """Percent-encode one character as its UTF-8 bytes."""
    data = match.group().encode("utf-8", "surrogatepass")
    return "".join(f"%{byte:02X}" for byte in data)


def _normal_escape(match: re.Match[str]) -> str:
    """Return an escape's normal form: its character, or upper-case hex."""
    return _NORMAL_ESCAPES[match.group()]


# ------------------------------------------------------------ other hosts


def _extra_hosts(
    parts: _Parts, host: HostInfo, userinfo: str | None
) -> tuple[str, ...]:
    """Collect hosts other readers of the URL would see."""
    found: dict[str, None] = {}
    if userinfo:
        # user:pass@bank.example@evil.example hides a host after a second '@'
        for piece in re.split(r"[:@]", userinfo):
            other = _host_shaped(piece)
            if other is not None:
                parts.flags.add("deceptive_userinfo")
                found.setdefault(other, None)
    if {"backslash", "nonstandard_slashes"} & parts.flags:
        other = _rfc3986_host(parts)
        if other != host.ascii:
            parts.flags.add("parser_differential")
            if other:
                found.setdefault(other, None)
    found.pop(host.ascii, None)
    return tuple(found)


def _host_shaped(piece: str) -> str | None:
    """Return the canonical host ``piece`` looks like, or ``None``.

    Host-shaped means an IP address, or a dotted name whose last label is at
    least two letters (or Punycode), like a top-level domain.
    """
    if "." not in piece:
        return None
    try:
        info = canonical_host(piece)
    except HostError:
        return None
    if info.is_ip:
        return info.ascii
    last = info.ascii.rpartition(".")[2]
    if (last.isalpha() and len(last) >= 2) or last.startswith("xn--"):
        return info.ascii
    return None


def _rfc3986_host(parts: _Parts) -> str:
    """Return the host an RFC 3986 parser finds, ``""`` for none or invalid.

    Such parsers need exactly ``//`` after the scheme, end the authority only
    at ``/``, ``?`` or ``#``, and treat backslashes as ordinary characters.
    """
    rest = parts.text.partition("#")[0]
    if not rest.startswith("//") or rest.startswith("///"):
        return ""
    end = _AUTHORITY_END.search(rest, 2)
    hostport = rest[2 : end.start() if end else len(rest)].rpartition("@")[2]
    if hostport.startswith("["):
        host_text = hostport[: hostport.find("]") + 1]
    else:
        host_text = hostport.partition(":")[0]
    try:
        return canonical_host(host_text).ascii
    except HostError:
        return ""


# ----------------------------------------------------------------- result


def _build(
    raw: str,
    parts: _Parts,
    host: HostInfo,
    port: int | None,
    path: str,
    query: str,
    userinfo: str | None,
    extra_hosts: tuple[str, ...],
) -> ParsedUrl:
    """Assemble the :class:`ParsedUrl` and its canonical string."""
    shown_host = f"[{host.ascii}]" if ":" in host.ascii else host.ascii
    port_part = "" if port is None else f":{port}"
    query_part = f"?{query}" if query else ""
    if host.is_ip:
        suffix, registrable = "", host.ascii
    else:
        suffix, registrable = psl_split(host.ascii)
    return ParsedUrl(
        raw=raw,
        url=f"{parts.scheme}://{shown_host}{port_part}{path}{query_part}",
        scheme=parts.scheme,
        host=host.ascii,
        host_unicode=host.unicode,
        port=port,
        path=path,
        query=query,
        fragment=parts.fragment,
        userinfo=userinfo,
        host_is_ip=host.is_ip,
        registrable_domain=registrable,
        public_suffix=suffix,
        flags=frozenset(parts.flags | host.flags),
        extra_hosts=extra_hosts,
    )
