"""The public API of trustwatch.intel is deliberate: this pins it."""

from __future__ import annotations

import trustwatch.intel


def test_public_api_is_pinned() -> None:
    assert sorted(trustwatch.intel.__all__) == [
        "FEED_FORMATS",
        "FORMAT_DEFAULTS",
        "FeedFormat",
        "FeedLoad",
        "FormatDefaults",
        "HASH_TYPES",
        "HashType",
        "INDICATOR_TYPES",
        "Indicator",
        "IndicatorStore",
        "IndicatorType",
        "IntelMatch",
        "MAX_URL_INDICATOR_CHARS",
        "MIN_IPV4_PREFIX",
        "MIN_IPV6_PREFIX",
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


def test_every_exported_name_exists() -> None:
    missing = [n for n in trustwatch.intel.__all__ if not hasattr(trustwatch.intel, n)]
    assert missing == []
