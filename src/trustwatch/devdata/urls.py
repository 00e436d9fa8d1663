"""Choose real malicious and benign URLs for the development stream.

Three kinds, compared on canonical hosts as
:func:`trustwatch.enrichment.parse_url` computes them (the form intel matching
uses); a URL whose host is absent from a feed is absent from it too:

- **listed**: sampled from the feeds loaded as intel with the stream
  (URLhaus 2025-04-21 and PhishTank 2021-03), half from each;
- **unlisted**: sampled from feeds *not* loaded (PhishTank 2020-05 and the
  OpenPhish 2024 H2 archive), half from each, keeping only URLs whose host
  appears in no loaded feed, so only heuristics can catch them;
- **benign**: sampled from the ISCX-URL2016 benign list, keeping only URLs
  whose host appears in no malicious feed at all.

Strings a browser would not load (:class:`~trustwatch.errors.InvalidUrlError`)
and URLs longer than the event schema allows (512 characters) are left out.
Nothing is fetched or resolved.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from random import Random

from trustwatch.devdata.feeds import (
    BENIGN_URLS,
    PHISHTANK_2020,
    PHISHTANK_2021,
    URLHAUS,
    read_openphish,
    read_phishtank,
    read_url_lines,
    read_urlhaus,
)
from trustwatch.devdata.truth import UrlLabel, UrlStatus
from trustwatch.enrichment import ParsedUrl, parse_url
from trustwatch.errors import InvalidUrlError

__all__ = [
    "FEED_NAMES",
    "INTEL_FEEDS",
    "UrlFeed",
    "choose_urls",
    "host_key",
    "load_feeds",
]

logger = logging.getLogger(__name__)

INTEL_FEEDS: tuple[str, ...] = (URLHAUS, PHISHTANK_2021)
"""Dataset files to load as intel with the stream."""

# The event schema's limit on a URL field (``UrlPosted.url``).
_MAX_URL_CHARS = 512
_PLAIN_NETLOC = re.compile(r"[A-Za-z0-9.-]+(?::[0-9]{1,5})?")
_AUTHORITY_END = re.compile(r"[/?#]")

FEED_NAMES = {
    "urlhaus": "urlhaus-2025-04-21",
    "phishtank_2021": "phishtank-2021-03",
    "phishtank_2020": "phishtank-2020-05",
    "openphish": "openphish-2024h2",
    "benign": "iscx-url2016-benign",
}
"""Short names of the URL sources, as written into the truth."""


@dataclass
class UrlFeed:
    """The URLs of one source and the hosts they cover.

    ``urls`` keeps the raw strings a stream could carry (at most 512
    characters); ``hosts`` holds the host of every entry, overlong ones
    included, as :func:`host_key` computes it.
    """

    name: str
    urls: list[str] = field(default_factory=list)
    hosts: set[str] = field(default_factory=set)

    def add(self, raw: str) -> None:
        """Index one URL of the source."""
        host = host_key(raw)
        if host is None:
            return
        self.hosts.add(host)
        if len(raw) <= _MAX_URL_CHARS:
            self.urls.append(raw)

    def covers(self, parsed: ParsedUrl) -> bool:
        """Whether an entry of this source is on the URL's host (or extra hosts)."""
        return parsed.host in self.hosts or any(
            h in self.hosts for h in parsed.extra_hosts
        )


def host_key(raw: str) -> str | None:
    """Return the canonical host of a URL, or ``None`` when it has none.

    Plain ``scheme://host[:port]/...`` URLs with an ASCII host take a cheap
    path; anything else (userinfo, backslashes, percent escapes, Unicode,
    numeric last labels, no scheme) goes through
    :func:`~trustwatch.enrichment.parse_url`, which decides as a browser
    would. Both give the same host for the plain case.
    """
    scheme, sep, rest = raw.partition("://")
    if sep and scheme.isalpha():
        netloc = _AUTHORITY_END.split(rest, maxsplit=1)[0]
        if _PLAIN_NETLOC.fullmatch(netloc):
            host = netloc.split(":", 1)[0].lower()
            labels = host.split(".")
            if all(labels) and not labels[-1].isdigit():
                return host
    try:
        return parse_url(raw).host
    except InvalidUrlError:
        return None


def load_feeds(datasets: Path) -> dict[str, UrlFeed]:
    """Read and parse every URL source, keyed by the names of :data:`FEED_NAMES`."""
    readers: dict[str, Callable[[], Iterable[str]]] = {
        "urlhaus": lambda: read_urlhaus(datasets),
        "phishtank_2021": lambda: read_phishtank(datasets, PHISHTANK_2021),
        "phishtank_2020": lambda: read_phishtank(datasets, PHISHTANK_2020),
        "openphish": lambda: read_openphish(datasets),
        "benign": lambda: read_url_lines(datasets, BENIGN_URLS),
    }
    feeds = {}
    for key, read in readers.items():
        feed = UrlFeed(FEED_NAMES[key])
        for raw in read():
            feed.add(raw)
        logger.info("url source %s: %d usable urls", feed.name, len(feed.urls))
        feeds[key] = feed
    return feeds


def choose_urls(
    feeds: dict[str, UrlFeed], rng: Random, *, malicious: int, benign: int
) -> list[UrlLabel]:
    """Sample malicious (half listed, half unlisted) and benign URLs.

    Parameters
    ----------
    feeds
        The sources from :func:`load_feeds`.
    rng
        The stream's seeded generator.
    malicious, benign
        How many of each; fewer come back only if the sources run short.
    """
    loaded = (feeds["urlhaus"], feeds["phishtank_2021"])
    bad = (*loaded, feeds["phishtank_2020"], feeds["openphish"])
    chosen: set[str] = set()
    listed = malicious // 2
    unlisted = malicious - listed

    def absent_from(sources: Sequence[UrlFeed]) -> Callable[[ParsedUrl], bool]:
        return lambda parsed: not any(f.covers(parsed) for f in sources)

    picks: list[UrlLabel] = []
    for feed, count in zip(loaded, _halves(listed), strict=True):
        picks += _sample(feed, count, rng, chosen, "listed", lambda _: True)
    others = (feeds["phishtank_2020"], feeds["openphish"])
    for feed, count in zip(others, _halves(unlisted), strict=True):
        picks += _sample(feed, count, rng, chosen, "unlisted", absent_from(loaded))
    picks += _sample(feeds["benign"], benign, rng, chosen, "benign", absent_from(bad))
    return picks


def _halves(total: int) -> tuple[int, int]:
    return total - total // 2, total // 2


def _sample(
    feed: UrlFeed,
    count: int,
    rng: Random,
    chosen: set[str],
    status: UrlStatus,
    keep: Callable[[ParsedUrl], bool],
) -> list[UrlLabel]:
    """Draw up to ``count`` URLs of ``feed`` that pass ``keep`` and are new."""
    order = list(range(len(feed.urls)))
    rng.shuffle(order)
    picked: list[UrlLabel] = []
    for index in order:
        if len(picked) >= count:
            break
        raw = feed.urls[index]
        try:
            parsed = parse_url(raw)
        except InvalidUrlError:
            continue
        if parsed.url in chosen or not keep(parsed):
            continue
        chosen.add(parsed.url)
        label = UrlLabel(url=raw, canonical=parsed.url, status=status, feed=feed.name)
        picked.append(label)
    if len(picked) < count:
        logger.warning(
            "%s: only %d of %d URLs qualified", feed.name, len(picked), count
        )
    return picked
