"""Synthetic accounts that post the chosen URLs and upload files with real hashes.

The accounts, their addresses, devices and the timing are synthetic (drawn
from :mod:`trustwatch.simulation`'s residential and hosting blocks and
browser strings); the URLs and the malicious hashes are real. A small set of
abusive accounts, working from hosting addresses, posts every malicious URL
and uploads every malicious file; ordinary accounts post the benign URLs and
upload files with fresh random hashes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from random import Random
from typing import Any

from trustwatch.devdata.feeds import HashAlgorithm, HashIoc
from trustwatch.devdata.truth import HashLabel, UrlLabel
from trustwatch.events import Event, FileUploaded, LinkCreated, UrlPosted
from trustwatch.simulation.catalog import DESKTOP_USER_AGENTS, FILE_KINDS
from trustwatch.simulation.netblocks import COUNTRIES, HOSTING

__all__ = [
    "Poster",
    "benign_hash_labels",
    "make_posters",
    "malicious_hash_labels",
    "upload_events",
    "url_events",
]

_LINK_SHARE = 0.2
_DIGEST_BYTES = {"md5": 16, "sha1": 20, "sha256": 32}
_LURES = (
    ("Invoice_{n}.exe", "application/x-msdownload"),
    ("Payment_{n}.zip", "application/zip"),
    ("Document_{n}.docm", "application/vnd.ms-word.document.macroEnabled.12"),
    ("setup_{n}.msi", "application/x-msi"),
    ("scan_{n}.js", "text/javascript"),
)


@dataclass(frozen=True)
class Poster:
    """A synthetic account: id, usual address and browser."""

    account: str
    ip: str
    user_agent: str
    abusive: bool


def make_posters(rng: Random, count: int, abusive: int) -> list[Poster]:
    """Create ``count`` accounts, the first ``abusive`` of them abusive."""
    posters = []
    for n in range(count):
        bad = n < abusive
        block = rng.choice(HOSTING) if bad else rng.choice(COUNTRIES)
        posters.append(
            Poster(
                account=f"dev-acct-{n:04d}",
                ip=block.draw(rng),
                user_agent=rng.choice(DESKTOP_USER_AGENTS),
                abusive=bad,
            )
        )
    return posters


class _Clock:
    """Uniform random instants in ``[start, start + span)``."""

    def __init__(self, rng: Random, start: datetime, span: timedelta) -> None:
        self._rng = rng
        self._start = start
        self._seconds = max(span.total_seconds(), 1.0)

    def draw(self) -> datetime:
        return self._start + timedelta(seconds=self._rng.random() * self._seconds)


def url_events(
    urls: Sequence[UrlLabel],
    posters: Sequence[Poster],
    rng: Random,
    *,
    start: datetime,
    span: timedelta,
    ids: list[str],
) -> list[Event]:
    """Post each URL once: mostly as a comment, sometimes as a link object.

    ``ids`` supplies the event ids in order (one per URL).
    """
    clock = _Clock(rng, start, span)
    bad = [p for p in posters if p.abusive]
    good = [p for p in posters if not p.abusive]
    events: list[Event] = []
    for label, event_id in zip(urls, ids, strict=True):
        who = rng.choice(bad if label.malicious else good)
        fields: dict[str, Any] = {
            "event_id": event_id,
            "ts": clock.draw(),
            "account": who.account,
            "ip": who.ip,
            "user_agent": who.user_agent,
        }
        if rng.random() < _LINK_SHARE:
            link_id = f"{event_id}-link"
            events.append(LinkCreated(link_id=link_id, url=label.url, **fields))
        else:
            events.append(UrlPosted(url=label.url, context="comment", **fields))
    return events


def upload_events(
    hashes: Sequence[HashLabel],
    posters: Sequence[Poster],
    rng: Random,
    *,
    start: datetime,
    span: timedelta,
    ids: list[str],
) -> list[Event]:
    """Upload one file per hash; a malicious hash fills only its own field."""
    clock = _Clock(rng, start, span)
    bad = [p for p in posters if p.abusive]
    good = [p for p in posters if not p.abusive]
    events: list[Event] = []
    for label, event_id in zip(hashes, ids, strict=True):
        who = rng.choice(bad if label.malicious else good)
        number = rng.randint(100, 9999)
        if label.malicious:
            pattern, mime = rng.choice(_LURES)
            name, size = pattern.format(n=number), rng.randint(20_000, 4_000_000)
        else:
            kind = rng.choice(FILE_KINDS)
            name, mime = rng.choice(kind.names).format(n=number), kind.mime_type
            size = max(1, int(kind.median_size * rng.lognormvariate(0.0, 1.0)))
        value, algorithm = label.value, label.algorithm
        events.append(
            FileUploaded(
                event_id=event_id,
                ts=clock.draw(),
                account=who.account,
                ip=who.ip,
                user_agent=who.user_agent,
                file_id=f"{event_id}-file",
                name=name,
                size=size,
                mime_type=mime,
                sha256=value if algorithm == "sha256" else None,
                sha1=value if algorithm == "sha1" else None,
                md5=value if algorithm == "md5" else None,
            )
        )
    return events


def benign_hash_labels(
    rng: Random, count: int, avoid: set[str], algorithms: Sequence[HashAlgorithm]
) -> list[HashLabel]:
    """Return ``count`` random digests labelled benign (none in ``avoid``).

    Each takes an algorithm drawn from ``algorithms`` (pass the malicious
    ones), so which field a file fills says nothing about its label.
    """
    labels: list[HashLabel] = []
    while len(labels) < count:
        algorithm = rng.choice(algorithms) if algorithms else "sha256"
        value = rng.randbytes(_DIGEST_BYTES[algorithm]).hex()
        if value not in avoid:
            labels.append(HashLabel(value=value, algorithm=algorithm, malicious=False))
    return labels


def malicious_hash_labels(iocs: Sequence[HashIoc], feed: str) -> list[HashLabel]:
    """Label IOC hashes malicious, keeping each one's algorithm."""
    return [
        HashLabel(value=i.value, algorithm=i.algorithm, malicious=True, feed=feed)
        for i in iocs
    ]
