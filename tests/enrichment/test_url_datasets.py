"""parse_url over real feeds (read in place from ../shared/datasets)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from trustwatch.enrichment.urls import parse_url
from trustwatch.errors import InvalidUrlError

pytestmark = pytest.mark.datasets

FEEDS = {
    "urlhaus": ("urlhaus-2025-04-21/urlhaus.csv", "url"),
    "phishtank": ("phishtank-2021-03/verified_online.csv", "url"),
    "iscx-benign": ("iscx-url2016-benign/benign_urls_dev_hosts.csv", None),
}


def _urls(datasets_dir: Path, name: str) -> Iterator[str]:
    """Yield the URLs of one feed; the benign list is one URL per line."""
    relative, column = FEEDS[name]
    with (datasets_dir / relative).open(encoding="utf-8", newline="") as handle:
        lines = (line for line in handle if not line.startswith("#"))
        if column is None:
            yield from (line.strip() for line in lines if line.strip())
            return
        for row in csv.DictReader(lines):
            yield row[column]


@pytest.mark.parametrize("name", sorted(FEEDS))
def test_real_feed_urls_parse_and_canonicalise_stably(
    datasets_dir: Path, name: str
) -> None:
    total = invalid = 0
    for raw in _urls(datasets_dir, name):
        total += 1
        try:
            parsed = parse_url(raw)
        except InvalidUrlError:
            invalid += 1
            continue
        assert parsed.registrable_domain
        assert parse_url(parsed.url).url == parsed.url

    assert total > 10_000
    assert invalid <= total // 1000
