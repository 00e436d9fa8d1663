"""Domain names: canonical form, Public Suffix List split, and look-alike checks.

The registrable domain comes from the Public Suffix List snapshot bundled with
the ``publicsuffixlist`` package (read from disk once; nothing here ever fetches a
list). Both the ICANN and the private sections apply, so tenants of hosting
platforms (``x.github.io``) get their own registrable domain.

When a host has no registrable domain (it is an IP address, a single label, has
empty labels, or is itself a public suffix, e.g. through a wildcard rule such as
``*.kobe.jp`` or ``*.sch.uk``), :func:`registrable_domain` returns the whole host.
It never returns ``""`` and never the bare suffix, which would merge every tenant
of a platform into one reputation key (hard case DOM-02).
"""

from __future__ import annotations

from functools import cache, lru_cache

from publicsuffixlist import PublicSuffixList

from trustwatch.enrichment._hostparse import (
    MAX_HOST_CHARS,
    HostError,
    HostInfo,
    canonical_host,
)
from trustwatch.enrichment._unicode import mixes_scripts, skeleton_text
from trustwatch.errors import InvalidIndicatorError

__all__ = [
    "MAX_HOST_CHARS",
    "is_mixed_script",
    "normalize_host",
    "psl_split",
    "public_suffix",
    "registrable_domain",
    "skeleton",
    "to_unicode",
]

_SHOWN_CHARS = 80


@cache
def _psl() -> PublicSuffixList:
    """Load the bundled Public Suffix List once."""
    return PublicSuffixList()


def _host(host: str) -> HostInfo:
    """Canonicalise ``host`` or raise :class:`InvalidIndicatorError`."""
    if host.count(":") >= 2 and not host.startswith("["):
        host = f"[{host}]"  # a bare IPv6 address, as logs write them
    try:
        return canonical_host(host)
    except HostError as error:
        shown = repr(host[:_SHOWN_CHARS])
        raise InvalidIndicatorError(
            f"{shown} is not a valid host: {error}; pass a bare host name or IP "
            "address (no scheme, port or path), or use parse_url for URLs"
        ) from error


def normalize_host(host: str) -> str:
    """Return a host in canonical ASCII form.

    Parameters
    ----------
    host
        A domain name (A-label or U-label, any case, optional trailing dot) or an
        IP address in any notation browsers accept (IPv6 with or without
        brackets).

    Returns
    -------
    str
        Lowercase A-labels without a trailing dot, or the canonical IP address.

    Raises
    ------
    trustwatch.errors.InvalidIndicatorError
        When a browser would refuse the host, or it is longer than
        :data:`MAX_HOST_CHARS` (1,024) characters.

    Examples
    --------
    >>> normalize_host("Straße.Example.")
    'xn--strae-oqa.example'
    """
    return _host(host).ascii


def to_unicode(host: str) -> str:
    """Return a host with its Punycode labels decoded.

    Parameters
    ----------
    host
        A host as accepted by :func:`normalize_host`.

    Returns
    -------
    str
        The host in Unicode (U-label) form, lowercase, without a trailing dot.

    Raises
    ------
    trustwatch.errors.InvalidIndicatorError
        When a browser would refuse the host.

    Examples
    --------
    >>> to_unicode("xn--80ajjchqepikd1b.xn--80asehdb")
    'стройтехника.онлайн'
    """
    return _host(host).unicode


@lru_cache(maxsize=65536)
def psl_split(ascii_host: str) -> tuple[str, str]:
    """Return ``(public_suffix, registrable_domain)`` for a canonical domain.

    Parameters
    ----------
    ascii_host
        A domain already in the form :func:`normalize_host` returns.

    Returns
    -------
    tuple of str
        The public suffix (``""`` when the host has empty labels) and the
        registrable domain, which falls back to the whole host.
    """
    suffix = _psl().publicsuffix(ascii_host) or ""
    if not suffix:
        return "", ascii_host
    suffix_labels = suffix.count(".") + 1
    labels = ascii_host.split(".")
    if len(labels) <= suffix_labels:
        return suffix, ascii_host
    return suffix, ".".join(labels[-(suffix_labels + 1) :])


def registrable_domain(host: str) -> str:
    """Return the registrable domain (eTLD+1) of a host, or the host itself.

    Parameters
    ----------
    host
        A host as accepted by :func:`normalize_host`.

    Returns
    -------
    str
        The registrable domain in ASCII form; the whole canonical host when it
        has none (IP address, single label, public suffix). Never empty.

    Raises
    ------
    trustwatch.errors.InvalidIndicatorError
        When a browser would refuse the host.

    Examples
    --------
    >>> registrable_domain("www.google.co.uk.")
    'google.co.uk'
    >>> registrable_domain("test.kobe.jp")
    'test.kobe.jp'
    """
    info = _host(host)
    if info.is_ip:
        return info.ascii
    return psl_split(info.ascii)[1]


def public_suffix(host: str) -> str:
    """Return the public suffix of a host.

    Parameters
    ----------
    host
        A host as accepted by :func:`normalize_host`.

    Returns
    -------
    str
        The longest matching Public Suffix List rule applied to the host (an
        unlisted top-level label counts as a suffix); ``""`` for IP addresses and
        hosts with empty labels.

    Raises
    ------
    trustwatch.errors.InvalidIndicatorError
        When a browser would refuse the host.

    Examples
    --------
    >>> public_suffix("www.google.co.uk")
    'co.uk'
    """
    info = _host(host)
    if info.is_ip:
        return ""
    return psl_split(info.ascii)[0]


@lru_cache(maxsize=65536)
def skeleton(host: str) -> str:
    """Return the confusable skeleton of a host, in the spirit of UTS #39.

    Punycode labels are decoded first; then look-alike letters from Cyrillic,
    Greek, Armenian and Latin extensions map to the basic Latin letter they
    imitate, ``0`` to ``o``, ``1`` to ``l``, ``rn`` to ``m`` and ``vv`` to ``w``.
    Compare skeletons, never raw strings, when looking for brand look-alikes.

    Parameters
    ----------
    host
        A host (A-label or U-label); text that is not a valid host is
        case-folded and used as given.

    Returns
    -------
    str
        The skeleton.

    Examples
    --------
    >>> skeleton("xn--80ak6aa92e.com")
    'apple.com'
    >>> skeleton("paypa1.com") == skeleton("paypal.com")
    True
    """
    try:
        text = canonical_host(host).unicode
    except HostError:
        text = host
    return skeleton_text(text)


def is_mixed_script(label: str) -> bool:
    """Say whether a label mixes writing systems in a way spoofers use.

    Letters from two or more scripts count as mixed, except the combinations
    that UTS #39's highly restrictive profile allows for Chinese, Japanese and
    Korean (Latin with Han and Hiragana/Katakana, Bopomofo or Hangul). Digits,
    hyphens and combining marks belong to no script.

    Parameters
    ----------
    label
        One label (or any text) in Unicode form; Punycode is not decoded here.

    Returns
    -------
    bool
        True for ``"pаypal"`` (Cyrillic ``а``), False for ``"аррӏе"`` (all
        Cyrillic) and ``"example"``.
    """
    return mixes_scripts(label)
