"""Threat intel: indicators, feed loaders, and the store that matches them.

Find the feed files with :func:`resolve_feed_paths`, load each with
:func:`load_feed`, put the indicators in an :class:`IndicatorStore`, and match
parsed URLs, hosts, addresses and file hashes against it::

    from trustwatch.enrichment.urls import parse_url
    from trustwatch.intel import IndicatorStore, load_feed, resolve_feed_paths

    store = IndicatorStore()
    for path in resolve_feed_paths(["feeds/"]):
        store.add_many(load_feed(path).indicators)
    matches = store.match_url(parse_url("http://203.0.113.5:8080/bin.sh"))
"""

from __future__ import annotations

from trustwatch.intel.feeds import (
    FeedLoad,
    Reject,
    iter_feed,
    load_feed,
    resolve_feed_paths,
)
from trustwatch.intel.formats import (
    FEED_FORMATS,
    FORMAT_DEFAULTS,
    FeedFormat,
    FormatDefaults,
    sniff_format,
)
from trustwatch.intel.indicators import (
    HASH_TYPES,
    INDICATOR_TYPES,
    MAX_URL_INDICATOR_CHARS,
    MIN_IPV4_PREFIX,
    MIN_IPV6_PREFIX,
    HashType,
    Indicator,
    IndicatorType,
    RefusedIndicatorError,
    Source,
    indicator_from_text,
    merge_indicators,
    normalize_hash,
    normalize_indicator,
    normalize_url,
)
from trustwatch.intel.store import IndicatorStore, IntelMatch, MatchedOn, StoreStats

__all__ = [
    "FEED_FORMATS",
    "FORMAT_DEFAULTS",
    "HASH_TYPES",
    "INDICATOR_TYPES",
    "MAX_URL_INDICATOR_CHARS",
    "MIN_IPV4_PREFIX",
    "MIN_IPV6_PREFIX",
    "FeedFormat",
    "FeedLoad",
    "FormatDefaults",
    "HashType",
    "Indicator",
    "IndicatorStore",
    "IndicatorType",
    "IntelMatch",
    "MatchedOn",
    "RefusedIndicatorError",
    "Reject",
    "Source",
    "StoreStats",
    "indicator_from_text",
    "iter_feed",
    "load_feed",
    "merge_indicators",
    "normalize_hash",
    "normalize_indicator",
    "normalize_url",
    "resolve_feed_paths",
    "sniff_format",
]
