"""The answer key of a development stream built from real data.

Labels come from the data's own sources, never from trustwatch: a URL is
malicious because a feed listed it, an address is an attacker because it hit
a honeypot or met the open brute-force rule of :mod:`trustwatch.devdata.labels`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, TypeAlias

import msgspec

from trustwatch.devdata.feeds import HashAlgorithm

__all__ = [
    "DevTruth",
    "HashLabel",
    "IpLabel",
    "UrlLabel",
    "UrlStatus",
]

UrlStatus: TypeAlias = Literal["listed", "unlisted", "benign"]
"""``listed``: in the intel loaded with the stream; ``unlisted``: malicious but
in no loaded feed; ``benign``: from a benign list and in no malicious feed."""


class UrlLabel(msgspec.Struct, frozen=True, kw_only=True):
    """A URL posted in the stream, where it came from, and what it is."""

    url: str
    canonical: str
    status: UrlStatus
    feed: str

    @property
    def malicious(self) -> bool:
        """Whether a feed lists the URL as phishing or malware."""
        return self.status != "benign"


class HashLabel(msgspec.Struct, frozen=True, kw_only=True):
    """A file hash uploaded in the stream and whether it is malicious."""

    value: str
    algorithm: HashAlgorithm
    malicious: bool
    feed: str | None = None


class IpLabel(msgspec.Struct, frozen=True, kw_only=True):
    """A login source address and how its label was decided.

    ``label`` is ``unlabelled`` for addresses of the raw SSH log that do not
    meet the brute-force rule: they are not known to be benign.
    """

    ip: str
    label: Literal["attacker", "benign", "unlabelled"]
    source: str


class DevTruth(msgspec.Struct, frozen=True, kw_only=True):
    """Labels and counts of one development stream.

    Parameters
    ----------
    seed
        Seed of the sampling.
    start, end
        First and last event times.
    intel_feeds
        Dataset files to load as the intel feed for this stream; URLs
        ``listed`` are exactly those found in them.
    rules
        Every labelling rule in words, by name.
    counts
        Events per event type (``type`` tag).
    sources
        Events per source of this stream.
    urls, hashes, ips
        Labels of every posted URL, uploaded hash and login source.
    accounts
        Synthetic accounts that posted or uploaded something malicious.
    malicious_event_ids
        Ids of the events a detector should flag.
    """

    seed: int
    start: datetime
    end: datetime
    intel_feeds: tuple[str, ...]
    rules: dict[str, str]
    counts: dict[str, int]
    sources: dict[str, int]
    urls: tuple[UrlLabel, ...]
    hashes: tuple[HashLabel, ...]
    ips: tuple[IpLabel, ...]
    accounts: tuple[str, ...]
    malicious_event_ids: tuple[str, ...]

    def malicious_urls(self) -> frozenset[str]:
        """Return the posted URLs a feed lists (loaded or not)."""
        return frozenset(u.url for u in self.urls if u.malicious)

    def unlisted_urls(self) -> frozenset[str]:
        """Return the malicious URLs no loaded intel feed holds."""
        return frozenset(u.url for u in self.urls if u.status == "unlisted")

    def benign_urls(self) -> frozenset[str]:
        """Return the posted URLs from the benign list."""
        return frozenset(u.url for u in self.urls if not u.malicious)

    def malicious_hashes(self) -> frozenset[str]:
        """Return the uploaded hashes a feed lists."""
        return frozenset(h.value for h in self.hashes if h.malicious)

    def attacker_ips(self) -> frozenset[str]:
        """Return the login sources labelled attackers."""
        return frozenset(i.ip for i in self.ips if i.label == "attacker")

    def benign_ips(self) -> frozenset[str]:
        """Return the login sources labelled benign."""
        return frozenset(i.ip for i in self.ips if i.label == "benign")
