"""Find brand impersonation in a parsed URL.

A URL impersonates a brand when it shows the brand's name, or something made
to look like it, on a host the brand does not own. :func:`find_impersonation`
reports each way it does so as a :class:`BrandHit` with one of these
techniques:

``brand_in_subdomain``
    The brand's name is a label, or part of a label, left of the registrable
    domain: ``paypal.com.secure-login.example``.
``brand_in_path``
    A word of the path is a brand name, the path also has a credential or
    account word (login, verify, account, password...), and the host is no
    brand's own: ``files.example/paypal/signin``. Without the second word news
    and blog paths that merely name a brand would be flagged.
``typosquat``
    The registrable label is one edit (insertion, deletion, substitution or
    swap of neighbours, the optimal-string-alignment form of the
    Damerau-Levenshtein distance) from a brand name of five or more
    characters: ``paypall.com``, ``pyapal.com``.
``homoglyph``
    The label differs from a brand name but its confusable skeleton
    (:func:`trustwatch.enrichment.domains.skeleton`) contains it:
    ``xn--pypal-4ve.com``, ``paypa1.com``, ``xn--80ak6aa92e.com``.
``combosquat``
    The registrable label holds the brand name and more: ``paypal-secure.com``.
``brand_tld_swap``
    The registrable label is the brand name under a suffix the brand does not
    own: ``paypal.help``.

A brand's own domains and their subdomains are never flagged for that brand,
and a host under any catalogued brand's domain gets no path hits (a search or
help page naming another brand is not impersonation).

References
----------
P. Kintis et al., "Hiding in Plain Sight: A Longitudinal Study of
Combosquatting Abuse", ACM CCS 2017.
Unicode Technical Standard #39, "Unicode Security Mechanisms", section 4.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np

from trustwatch.brands.catalogue import Catalogue, load_catalogue
from trustwatch.enrichment.domains import skeleton
from trustwatch.enrichment.textscan import match_counts
from trustwatch.enrichment.urls import ParsedUrl

__all__ = [
    "TECHNIQUES",
    "BrandHit",
    "BrandMatcher",
    "clear_caches",
    "find_impersonation",
    "imitates_brand",
    "within_one_edit",
]

logger = logging.getLogger(__name__)

#: The technique codes a :class:`BrandHit` can carry.
TECHNIQUES = (
    "brand_in_subdomain",
    "brand_in_path",
    "typosquat",
    "homoglyph",
    "combosquat",
    "brand_tld_swap",
)

#: Shortest brand name checked for typosquats; shorter ones collide with words.
_MIN_TYPO_CHARS = 5
_PATH_WORD = re.compile(r"[a-z0-9]+")
_CREDENTIAL_WORD = re.compile(
    r"log[-_]?[io]n|sign[-_]?in|verif|account|secur|updat|confirm|passw|webscr"
    r"|auth|wallet|billing|unlock|suspend|recover|validat|session|customer"
    r"|restore|invoice|payment|identity|limited"
)
_LABEL_PART = re.compile(r"[.\-]")
_SHOWN_CHARS = 60
_HOST_CACHE_SIZE = 65536


@dataclass(frozen=True, slots=True)
class BrandHit:
    """One way a URL imitates a brand.

    Attributes
    ----------
    brand
        The brand key, e.g. ``"paypal"``.
    technique
        One of :data:`TECHNIQUES`.
    evidence
        A short phrase naming the part of the URL that matched.
    """

    brand: str
    technique: str
    evidence: str


def within_one_edit(a: str, b: str) -> bool:
    """Say whether two different strings are at most one edit apart.

    The edits are those of the optimal-string-alignment distance: insert,
    delete or substitute one character, or swap two neighbours. The check
    stops at the first mismatch, so it costs O(len) and no table.

    Parameters
    ----------
    a, b
        The strings to compare.

    Returns
    -------
    bool
        True when ``a != b`` and one edit turns ``a`` into ``b``.

    Examples
    --------
    >>> within_one_edit("pyapal", "paypal"), within_one_edit("paypal", "paypal")
    (True, False)
    """
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) < len(b):
        a, b = b, a
    i = 0
    while i < len(b) and a[i] == b[i]:
        i += 1
    if len(a) != len(b):
        return a[i + 1 :] == b[i:]
    if a[i + 1 :] == b[i + 1 :]:
        return True
    swapped = i + 1 < len(a) and a[i] == b[i + 1] and a[i + 1] == b[i]
    return swapped and a[i + 2 :] == b[i + 2 :]


def _deletions(text: str) -> list[str]:
    """Return every string made by deleting one character of text."""
    return [text[:i] + text[i + 1 :] for i in range(len(text))]


class BrandMatcher:
    """An index over a catalogue that finds impersonation in parsed URLs.

    Building it costs a few milliseconds; :meth:`find` then does a handful of
    dictionary lookups and one regular-expression scan per host part, and
    keeps the result per host (up to 65,536 hosts), so a repeated host costs a
    cache lookup plus the path check.

    Parameters
    ----------
    catalogue
        The brands to look for.
    """

    def __init__(self, catalogue: Catalogue) -> None:
        self._owners: dict[str, frozenset[str]] = {}
        self._names: dict[str, tuple[str, ...]] = {}
        self._near: dict[str, tuple[str, ...]] = {}
        self._path_words: dict[str, tuple[str, ...]] = {}
        owners: dict[str, set[str]] = {}
        for brand in catalogue.brands:
            for domain in brand.domains:
                owners.setdefault(domain, set()).add(brand.key)
            for name in (*brand.tokens, *brand.labels):
                self._add(self._names, name, brand.key)
            for token in brand.tokens:
                self._index_near(token)
                self._add(self._path_words, token.replace("-", ""), brand.key)
        self._owners = {domain: frozenset(keys) for domain, keys in owners.items()}
        tokens = sorted(
            {t for b in catalogue.brands for t in b.tokens}, key=lambda t: -len(t)
        )
        self._token_re = re.compile("|".join(re.escape(t) for t in tokens) or "(?!)")
        self._max_typo = max((len(n) for n in self._near), default=0) + 1
        self._host_hits = lru_cache(maxsize=_HOST_CACHE_SIZE)(self._host_hits_uncached)
        self._host_verdict = lru_cache(maxsize=_HOST_CACHE_SIZE)(
            self._host_verdict_uncached
        )
        logger.debug("brand index: %d names, %d domains", len(self._names), len(owners))

    @staticmethod
    def _add(index: dict[str, tuple[str, ...]], name: str, key: str) -> None:
        """Append key to the entry of name, once."""
        keys = index.get(name, ())
        if key not in keys:
            index[name] = (*keys, key)

    def _index_near(self, name: str) -> None:
        """Index a long name and its one-deletion variants for typosquat lookup."""
        if len(name) < _MIN_TYPO_CHARS:
            return
        for variant in (name, *_deletions(name)):
            names = self._near.get(variant, ())
            if name not in names:
                self._near[variant] = (*names, name)

    def clear_cache(self) -> None:
        """Forget the per-host results (for benchmarks and tests)."""
        self._host_hits.cache_clear()
        self._host_verdict.cache_clear()

    def owners(self, registrable_domain: str) -> frozenset[str]:
        """Return the keys of the brands that own a registrable domain."""
        return self._owners.get(registrable_domain, frozenset())

    def find(self, parsed: ParsedUrl) -> list[BrandHit]:
        """Return the brand impersonation hits of one parsed URL.

        Parameters
        ----------
        parsed
            A URL from :func:`trustwatch.enrichment.urls.parse_url`.

        Returns
        -------
        list of BrandHit
            At most one hit per brand and technique, in a stable order; empty
            when the URL imitates no catalogued brand.
        """
        host_hits: tuple[BrandHit, ...] = ()
        owners: frozenset[str] = frozenset()
        if not parsed.host_is_ip:
            owners = self.owners(parsed.registrable_domain)
            host_hits = self._host_hits(
                parsed.host, parsed.registrable_domain, parsed.public_suffix
            )
        path_hits = () if owners else self._path_hits(parsed.path)
        if not path_hits:
            return [hit for hit in host_hits if hit.brand not in owners]
        hits = {(hit.brand, hit.technique): hit for hit in (*host_hits, *path_hits)}
        return [hit for hit in hits.values() if hit.brand not in owners]

    def imitates(self, batch: Sequence[ParsedUrl]) -> list[bool]:
        """Return, for each URL of a batch, whether :meth:`find` has a hit.

        The same answer as ``bool(find(url))`` for each URL, a batch at a
        time and without building the hits: hosts are judged once each, and
        paths are scanned together for a credential word before any is
        split into words.
        """
        verdicts = [
            (False, False)
            if parsed.host_is_ip
            else self._host_verdict(
                parsed.host, parsed.registrable_domain, parsed.public_suffix
            )
            for parsed in batch
        ]
        unsure = [i for i, (hit, owned) in enumerate(verdicts) if not hit and not owned]
        answers = [hit for hit, _ in verdicts]
        paths = [batch[i].path.lower() for i in unsure]
        for i in np.flatnonzero(match_counts(_CREDENTIAL_WORD, paths)):
            answers[unsure[i]] = bool(self._path_hits(paths[i]))
        return answers

    def _host_verdict_uncached(
        self, host: str, registrable: str, suffix: str
    ) -> tuple[bool, bool]:
        """Whether a host imitates a brand that does not own it; whether owned.

        Cached per host in ``__init__``.
        """
        owners = self.owners(registrable)
        hits = self._host_hits(host, registrable, suffix)
        return any(hit.brand not in owners for hit in hits), bool(owners)

    def _host_hits_uncached(
        self, host: str, registrable: str, suffix: str
    ) -> tuple[BrandHit, ...]:
        """Return the hits of a host name (cached per host in ``__init__``)."""
        hits: dict[tuple[str, str], BrandHit] = {}
        label, sub = _split_host(host, registrable, suffix)
        self._check_label(label, registrable, hits)
        if sub:
            self._check_subdomain(sub, hits)
        return tuple(hits.values())

    def _check_label(
        self, label: str, registrable: str, hits: dict[tuple[str, str], BrandHit]
    ) -> None:
        """Look for tld swaps, homoglyphs, combosquats and typosquats in a label."""
        exact = self._names.get(label)
        if exact:
            for key in exact:
                _hit(hits, key, "brand_tld_swap", f"{registrable} is not {key}'s")
            return
        shown = label[:_SHOWN_CHARS]
        found = self._scan(label, hits, "combosquat", f"label {shown!r}", set())
        look = skeleton(label)
        if look != label:
            where = f"label {shown!r} reads as {look[:_SHOWN_CHARS]!r}"
            for key in self._names.get(look, ()):
                _hit(hits, key, "homoglyph", where)
                found.add(look)
            found |= self._scan(look, hits, "homoglyph", where, found)
        if not found and len(label) <= self._max_typo:
            self._check_typo(label, hits)

    def _scan(
        self,
        text: str,
        hits: dict[tuple[str, str], BrandHit],
        technique: str,
        where: str,
        skip: set[str],
    ) -> set[str]:
        """Record brand names inside text, except those in skip; return them."""
        found: set[str] = set()
        parts = _LABEL_PART.split(text) if "-" in text else []
        names = [
            m.group()
            for m in self._token_re.finditer(text)
            if _bounded(text, m.start(), m.end())
        ]
        for name in (*names, *(p for p in parts if p in self._names)):
            if name in skip or name in found:
                continue
            found.add(name)
            for key in self._names[name]:
                _hit(hits, key, technique, f"{where} holds {name!r}")
        return found

    def _check_typo(self, label: str, hits: dict[tuple[str, str], BrandHit]) -> None:
        """Record brand names one edit away from the label."""
        candidates = set(self._near.get(label, ()))
        for variant in _deletions(label):
            candidates.update(self._near.get(variant, ()))
        for name in candidates:
            if within_one_edit(label, name):
                for key in self._names[name]:
                    _hit(
                        hits,
                        key,
                        "typosquat",
                        f"label {label!r} is one edit from {name!r}",
                    )

    def _check_subdomain(self, sub: str, hits: dict[tuple[str, str], BrandHit]) -> None:
        """Record brand names among or inside the labels left of the domain."""
        shown = sub[:_SHOWN_CHARS]
        found: set[str] = set()
        for part in _LABEL_PART.split(sub):
            if part in self._names:
                found.add(part)
                for key in self._names[part]:
                    _hit(hits, key, "brand_in_subdomain", f"subdomain {shown!r}")
        found |= self._scan(
            sub, hits, "brand_in_subdomain", f"subdomain {shown!r}", found
        )
        look = skeleton(sub)
        if look != sub:
            where = f"subdomain {shown!r} reads as {look[:_SHOWN_CHARS]!r}"
            self._scan(look, hits, "homoglyph", where, found)

    def _path_hits(self, path: str) -> tuple[BrandHit, ...]:
        """Return hits for brand names that are whole words of the path."""
        lowered = path.lower()
        credential = _CREDENTIAL_WORD.search(lowered)
        if credential is None:
            return ()
        hits: dict[tuple[str, str], BrandHit] = {}
        for word in _PATH_WORD.findall(lowered):
            for key in self._path_words.get(word, ()):
                evidence = f"path word {word!r} near {credential.group()!r}"
                _hit(hits, key, "brand_in_path", evidence)
        return tuple(hits.values())


def _hit(
    hits: dict[tuple[str, str], BrandHit], key: str, technique: str, evidence: str
) -> None:
    """Keep the first hit per brand and technique."""
    if (key, technique) not in hits:
        hits[key, technique] = BrandHit(key, technique, evidence)


def _split_host(host: str, registrable: str, suffix: str) -> tuple[str, str]:
    """Return the registrable label and the subdomain part of a host."""
    sub = host[: -len(registrable) - 1] if len(host) > len(registrable) else ""
    if suffix and len(registrable) > len(suffix):
        return registrable[: -len(suffix) - 1], sub
    return registrable.split(".", 1)[0], sub


@cache
def _default_matcher() -> BrandMatcher:
    """Build the matcher of the shipped catalogue once."""
    return BrandMatcher(load_catalogue())


_matchers: dict[int, tuple[Catalogue, BrandMatcher]] = {}
_MAX_MATCHERS = 8


def _matcher_for(catalogue: Catalogue) -> BrandMatcher:
    """Return a cached matcher for a caller's catalogue."""
    entry = _matchers.get(id(catalogue))
    if entry is not None and entry[0] is catalogue:
        return entry[1]
    if len(_matchers) >= _MAX_MATCHERS:
        _matchers.clear()
    matcher = BrandMatcher(catalogue)
    _matchers[id(catalogue)] = (catalogue, matcher)
    return matcher


def clear_caches() -> None:
    """Forget every matcher's per-host results (for benchmarks and tests)."""
    _default_matcher().clear_cache()
    for _, matcher in _matchers.values():
        matcher.clear_cache()


def find_impersonation(
    parsed: ParsedUrl, catalogue: Catalogue | None = None
) -> list[BrandHit]:
    """Return the ways a parsed URL imitates a catalogued brand.

    Parameters
    ----------
    parsed
        A URL from :func:`trustwatch.enrichment.urls.parse_url`.
    catalogue
        The brands to look for; the shipped catalogue when ``None``. The index
        over a catalogue is built once and kept.

    Returns
    -------
    list of BrandHit
        One hit per brand and technique found; empty when none.

    Examples
    --------
    >>> from trustwatch.enrichment.urls import parse_url
    >>> [h.technique for h in find_impersonation(parse_url("xn--pypal-4ve.com"))]
    ['homoglyph']
    >>> find_impersonation(parse_url("https://www.paypal.com/signin"))
    []
    """
    matcher = _default_matcher() if catalogue is None else _matcher_for(catalogue)
    return matcher.find(parsed)


def imitates_brand(
    batch: Sequence[ParsedUrl], catalogue: Catalogue | None = None
) -> list[bool]:
    """Return, for each parsed URL, whether it imitates a catalogued brand.

    The same answers as ``[bool(find_impersonation(p)) for p in batch]``, a
    few times faster, for callers that need only yes or no (the URL model).

    Examples
    --------
    >>> from trustwatch.enrichment.urls import parse_url
    >>> imitates_brand([parse_url("paypal.com"), parse_url("paypa1.com")])
    [False, True]
    """
    matcher = _default_matcher() if catalogue is None else _matcher_for(catalogue)
    return matcher.imitates(batch)


#: Words that, glued to a brand name, still make a lure: ``paypalsecure``.
_LURE_WORDS = (
    "login", "signin", "secure", "security", "verify", "verification",
    "account", "accounts", "support", "update", "service", "services", "help",
    "online", "web", "app", "auth", "wallet", "pay", "billing", "id", "mail",
    "my", "www", "official", "customer", "center", "alert", "notice",
    "confirm", "recovery", "unlock", "bank", "card", "cloud", "drive",
)  # fmt: skip


def _bounded(text: str, start: int, end: int) -> bool:
    """Return whether a brand name found at ``text[start:end]`` stands apart.

    Each side must be the label's edge, a non-letter (hyphen, digit), or a
    lure word (``securepaypal``, ``paypalsecure``); a name inside an ordinary
    word (``pineapple``, ``applebees``) is no imitation.
    """
    left = (
        start == 0
        or not text[start - 1].isalpha()
        or text[:start].endswith(_LURE_WORDS)
    )
    right = (
        end == len(text)
        or not text[end].isalpha()
        or text[end:].startswith(_LURE_WORDS)
    )
    return left and right
