"""Turn parsed URLs into model features, a batch at a time.

Two kinds of feature, both computed from the URL string alone:

- **hashed character n-grams** (3 to 5 characters) of the lowercased host,
  path and query, each n-gram hashed together with the part it starts in, so
  ``login`` in a host and ``login`` in a path are different features. The
  hashing runs on a padded byte matrix with numpy, a whole batch at once,
  which keeps it to a few microseconds per URL;
- **named lexical features** an analyst can read: IP-literal host, port,
  subdomain depth, lengths, digits and hyphens, hosting and shortener
  services, brand impersonation, credential and payment words, redirect
  parameters, executable payloads, look-alike letters and parser tricks.

Every feature is a function of the string; nothing is fetched or resolved.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from trustwatch.brands import imitates_brand
from trustwatch.enrichment.hosting import hosting_kind
from trustwatch.enrichment.textscan import literal_alternation, match_counts
from trustwatch.enrichment.urls import ParsedUrl

__all__ = [
    "DENSE_FEATURES",
    "NGRAM_SIZES",
    "HashedNgrams",
    "clear_caches",
    "dense_feature_matrix",
    "dense_features",
    "document",
    "hash_ngrams",
]

NGRAM_SIZES = (3, 4, 5)
MAX_DOCUMENT_BYTES = 256
_PART_MARKS = (1, 2)  # bytes that end the host and the path in a document
_PART_NAMES = ("host", "path", "query")

_WORDS = literal_alternation(
    "login signin sign-in logon verif account update secure webscr banking"
    " confirm password wallet invoice suspend unlock billing recover auth"
    " validat support payment refund ebayisapi customer office outlook docusign".split()
)
_PAYLOAD = re.compile(
    r"\.(exe|scr|apk|bin|sh|ps1|vbs|jar|msi|dll|bat|cmd|hta|elf|arm[5-7]?|mips"
    r"|x86|mpsl|m68k|ppc|sh4|spc|lnk|iso|img|zip|rar|7z)$|/(i|\.i|bin\.sh|mozi\.[am])$",
)
_REDIRECT = re.compile(r"=(https?(:|%3a)|%68%74%74%70|www\.|//)", re.IGNORECASE)
_RISKY_TLDS = frozenset(
    "top xyz tk ml ga cf gq icu zip mov buzz rest cyou sbs click link work "
    "support monster quest cfd bond lat shop online site live store".split()
)
_NO_DIGITS = str.maketrans("", "", "0123456789")
_ESCAPE_RUN = re.compile(r"(?:%[0-9a-f]{2})+")
_LOOKALIKE_FLAGS = frozenset({"confusable", "mixed_script"})
_USERINFO_FLAGS = frozenset({"userinfo", "deceptive_userinfo"})
_OBFUSCATION_FLAGS = frozenset(
    {"backslash", "invisible_chars", "percent_encoded_host", "nonstandard_ip_notation"}
)


@dataclass(frozen=True, slots=True)
class DenseFeature:
    """A named feature and how to say, in words, that it raised a score."""

    name: str
    reason: str


DENSE_FEATURES: tuple[DenseFeature, ...] = (
    DenseFeature("ip_host", "IP address instead of a domain name"),
    DenseFeature("port", "unusual port"),
    DenseFeature("plain_http", "plain http, no TLS"),
    DenseFeature("subdomain_depth", "subdomain depth {raw:.0f}"),
    DenseFeature("host_length", "host name of {raw:.0f} characters"),
    DenseFeature("path_length", "path of {raw:.0f} characters"),
    DenseFeature("query_length", "query of {raw:.0f} characters"),
    DenseFeature("path_depth", "path depth {raw:.0f}"),
    DenseFeature("domain_digits", "{raw:.0f} digits in the domain name"),
    DenseFeature("domain_hyphens", "{raw:.0f} hyphens in the domain name"),
    DenseFeature("free_hosting", "free hosting, site builder or serverless host"),
    DenseFeature("shortener", "URL shortener hides the destination"),
    DenseFeature("dynamic_dns", "dynamic DNS host"),
    DenseFeature("link_in_bio", "link-in-bio page"),
    DenseFeature("brand_elsewhere", "brand name outside the brand's own domains"),
    DenseFeature("credential_words", "{raw:.0f} credential or payment words"),
    DenseFeature("redirect_parameter", "a parameter carries another URL"),
    DenseFeature("payload", "executable, script or archive payload"),
    DenseFeature("risky_tld", "top-level domain common in abuse"),
    DenseFeature("idn", "internationalised (punycode) host"),
    DenseFeature("lookalike_letters", "host made of look-alike letters"),
    DenseFeature("userinfo", "a name before '@' hides the real host"),
    DenseFeature("obfuscation", "parser tricks (backslashes, encoded host)"),
    DenseFeature("home_page", "bare home page"),
)
"""The named features, in the order :func:`dense_features` returns them."""

_COLUMN = {spec.name: i for i, spec in enumerate(DENSE_FEATURES)}
_HOST_COLUMNS = [
    _COLUMN[name]
    for name in (
        "ip_host",
        "subdomain_depth",
        "host_length",
        "domain_digits",
        "domain_hyphens",
        "free_hosting",
        "shortener",
        "dynamic_dns",
        "link_in_bio",
        "risky_tld",
        "idn",
        "lookalike_letters",
        "userinfo",
        "obfuscation",
    )
]
"""The columns :func:`_host_features` fills, in the order it returns them."""


def document(parsed: ParsedUrl) -> bytes:
    """Return the bytes the n-grams are taken from: host, path and query.

    The host is taken in its Unicode form, so an internationalised name is
    judged by the letters a reader sees, not by its punycode spelling.
    The parts are lowercased, each run of percent-escapes becomes a single
    ``%``, and the parts are joined with the bytes ``0x01`` and ``0x02``;
    at most :data:`MAX_DOCUMENT_BYTES` bytes are kept.
    """
    path, query = parsed.path.lower(), parsed.query.lower()
    if "%" in path or "%" in query:
        # a run of escapes is one feature ("encoded text here"), not its bytes
        path, query = _ESCAPE_RUN.sub("%", path), _ESCAPE_RUN.sub("%", query)
    text = f"{parsed.host_unicode}\x01{path}\x02{query}"
    return text.encode("utf-8", "replace")[:MAX_DOCUMENT_BYTES]


def dense_features(parsed: ParsedUrl) -> list[float]:
    """Return the named features of one URL, in :data:`DENSE_FEATURES` order."""
    return [float(value) for value in dense_feature_matrix([parsed])[0]]


def dense_feature_matrix(batch: Sequence[ParsedUrl]) -> npt.NDArray[np.float64]:
    """Return the named features of a batch, one row per URL.

    Columns follow :data:`DENSE_FEATURES`. Counts and lengths are raw values
    (the trees need no scaling); yes/no features are 1 or 0. The features of
    a host are computed once per distinct host (and cached across batches: a
    host is usually seen with many paths), and each pattern runs once over
    the batch's parts joined together rather than once per URL.
    """
    count = len(batch)
    matrix = np.zeros((count, len(DENSE_FEATURES)), dtype=np.float64)
    if not count:
        return matrix
    distinct: dict[tuple[str, frozenset[str]], int] = {}
    firsts: list[ParsedUrl] = []
    host_of = np.empty(count, dtype=np.int64)
    for row, parsed in enumerate(batch):
        index = distinct.setdefault((parsed.host, parsed.flags), len(firsts))
        if index == len(firsts):
            firsts.append(parsed)
        host_of[row] = index
    host_rows = np.array(
        [
            _host_features(
                p.host, p.registrable_domain, p.public_suffix, p.host_is_ip, p.flags
            )
            for p in firsts
        ],
        dtype=np.float64,
    )
    matrix[:, _HOST_COLUMNS] = host_rows[host_of]
    paths = [p.path for p in batch]
    queries = [p.query for p in batch]
    lowered = [path.lower() for path in paths]
    column = _COLUMN.__getitem__
    matrix[:, column("port")] = [p.port is not None for p in batch]
    matrix[:, column("plain_http")] = [p.scheme == "http" for p in batch]
    matrix[:, column("path_length")] = list(map(len, paths))
    matrix[:, column("query_length")] = list(map(len, queries))
    matrix[:, column("path_depth")] = [path.count("/") for path in paths]
    matrix[:, column("brand_elsewhere")] = imitates_brand(batch)
    words = [
        f"{p.host}{path}?{query.lower()}"
        for p, path, query in zip(batch, lowered, queries, strict=True)
    ]
    matrix[:, column("credential_words")] = match_counts(_WORDS, words)
    matrix[:, column("redirect_parameter")] = match_counts(_REDIRECT, queries) > 0
    matrix[:, column("payload")] = [
        _PAYLOAD.search(path) is not None for path in lowered
    ]
    matrix[:, column("home_page")] = [
        path in ("", "/") and not query
        for path, query in zip(paths, queries, strict=True)
    ]
    return matrix


def clear_caches() -> None:
    """Forget the per-host features (for benchmarks and tests)."""
    _host_features.cache_clear()


@lru_cache(maxsize=65_536)
def _host_features(
    host: str, registrable: str, suffix: str, is_ip: bool, flags: frozenset[str]
) -> tuple[float, ...]:
    """The features of a URL that depend on its host alone, in column order."""
    label = registrable.partition(".")[0]
    hosting = "" if is_ip else hosting_kind(host)
    return (
        is_ip,
        0 if is_ip else host.count(".") - registrable.count("."),
        len(host),
        len(label) - len(label.translate(_NO_DIGITS)),
        label.count("-"),
        hosting == "hosting",
        hosting == "shortener",
        hosting == "dynamic_dns",
        hosting == "link_in_bio",
        suffix.rpartition(".")[2] in _RISKY_TLDS,
        "idn" in flags,
        not flags.isdisjoint(_LOOKALIKE_FLAGS),
        not flags.isdisjoint(_USERINFO_FLAGS),
        not flags.isdisjoint(_OBFUSCATION_FLAGS),
    )


@dataclass(frozen=True, slots=True)
class HashedNgrams:
    """The n-gram feature indices of a batch.

    ``indices[i, j]`` is the feature index of the j-th n-gram slot of URL
    ``i``; ``mask`` marks the slots that hold an n-gram; ``weight[i]`` is the
    value every n-gram of URL ``i`` takes (one over the square root of its
    n-gram count, so long URLs do not outweigh short ones).
    """

    indices: npt.NDArray[np.int64]
    mask: npt.NDArray[np.bool_]
    weight: npt.NDArray[np.float64]
    starts: npt.NDArray[np.int64]
    sizes: npt.NDArray[np.int64]


_MULTIPLIER = np.uint32(0x01000193)
_PART_SALT = np.uint32(0x9E3779B1)
_SIZE_SALT = np.uint32(0x85EBCA6B)


def hash_ngrams(documents: Sequence[bytes], bits: int) -> HashedNgrams:
    """Hash the 3- to 5-grams of each document into ``2**bits`` buckets.

    Parameters
    ----------
    documents
        Output of :func:`document`, one per URL.
    bits
        Size of the feature space as a power of two (10 to 24).

    Returns
    -------
    HashedNgrams
        Indices in slot order: for each n-gram size, one slot per start
        position, so slot ``j`` of size block ``k`` starts at character
        ``j`` (see ``starts`` and ``sizes``).
    """
    count = len(documents)
    lengths = np.fromiter((len(d) for d in documents), dtype=np.int64, count=count)
    width = max(int(lengths.max(initial=0)), max(NGRAM_SIZES))
    matrix = np.zeros((count, width), dtype=np.uint32)
    if count:
        flat = np.frombuffer(b"".join(documents), dtype=np.uint8)
        rows = np.repeat(np.arange(count), lengths)
        offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
        matrix[rows, np.arange(flat.size) - offsets] = flat
    marks = ((matrix == _PART_MARKS[0]) | (matrix == _PART_MARKS[1])).cumsum(
        axis=1, dtype=np.uint32
    )
    blocks, masks, starts, sizes = [], [], [], []
    positions = np.arange(width)
    smallest = min(NGRAM_SIZES)
    with np.errstate(over="ignore"):
        # the hash folds in one byte at a time, so each size extends the last
        running = np.zeros((count, width - smallest + 1), dtype=np.uint32)
        for offset in range(smallest):
            running = (running * _MULTIPLIER) ^ matrix[
                :, offset : offset + running.shape[1]
            ]
        for size in NGRAM_SIZES:
            span = width - size + 1
            if size > smallest:
                running = (running[:, :span] * _MULTIPLIER) ^ matrix[:, size - 1 :]
            salted = running ^ (
                marks[:, :span] * _PART_SALT + np.uint32(size) * _SIZE_SALT
            )
            blocks.append(_mix(salted) >> np.uint32(32 - bits))
            masks.append(positions[:span][None, :] + size <= lengths[:, None])
            starts.append(positions[:span])
            sizes.append(np.full(span, size))
    mask = np.concatenate(masks, axis=1)
    total = mask.sum(axis=1)
    return HashedNgrams(
        indices=np.concatenate(blocks, axis=1).astype(np.int64),
        mask=mask,
        weight=1.0 / np.sqrt(np.maximum(total, 1)),
        starts=np.concatenate(starts),
        sizes=np.concatenate(sizes),
    )


def _mix(values: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """Spread the bits of 32-bit hashes (the MurmurHash3 finaliser)."""
    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values = values ^ (values >> np.uint32(13))
    values = values * np.uint32(0xC2B2AE35)
    return values ^ (values >> np.uint32(16))


def part_of(doc: bytes, start: int) -> str:
    """Name the URL part (host, path or query) that byte ``start`` lies in."""
    marks = sum(1 for byte in doc[: start + 1] if byte in _PART_MARKS)
    return _PART_NAMES[min(marks, len(_PART_NAMES) - 1)]
