"""The development stream built from the real shared datasets."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest

from trustwatch.devdata import DEV_START, DevStream, DevTruth, build_dev_stream
from trustwatch.devdata.feeds import (
    HASH_IOCS,
    PHISHTANK_2020,
    PHISHTANK_2021,
    read_hash_iocs,
    read_openphish,
    read_phishtank,
    read_urlhaus,
)
from trustwatch.devdata.urls import FEED_NAMES
from trustwatch.enrichment import parse_url
from trustwatch.errors import InvalidUrlError
from trustwatch.events import Event, FileUploaded, LinkCreated, Login, UrlPosted

pytestmark = [pytest.mark.slow, pytest.mark.datasets]


@dataclass(frozen=True)
class Built:
    """One build: what the function returned, the truth and the events read back."""

    stream: DevStream
    truth: DevTruth
    events: list[Event]


def _read(stream: DevStream) -> Built:
    decoder = msgspec.json.Decoder(Event)
    events = [
        decoder.decode(line) for line in stream.events_path.read_bytes().splitlines()
    ]
    truth = msgspec.json.decode(stream.truth_path.read_bytes(), type=DevTruth)
    return Built(stream, truth, events)


@pytest.fixture(scope="module")
def built(datasets_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The default stream, built once for the module."""
    return _read(build_dev_stream(datasets_dir, tmp_path_factory.mktemp("dev")))


def _canonical(urls: list[str]) -> set[str]:
    keys = set()
    for url in urls:
        try:
            keys.add(parse_url(url).url)
        except InvalidUrlError:
            continue
    return keys


def test_truth_counts_match_the_events(built: Built) -> None:
    kinds = Counter(str(type(e).__struct_config__.tag) for e in built.events)
    assert dict(kinds) == built.truth.counts == built.stream.counts
    assert sum(built.truth.sources.values()) == len(built.events) == built.stream.events


def test_events_decode_sorted_with_unique_ids(built: Built) -> None:
    ids = [e.event_id for e in built.events]
    assert len(set(ids)) == len(ids)
    assert [e.ts for e in built.events] == sorted(e.ts for e in built.events)
    assert set(built.truth.malicious_event_ids) <= set(ids)


def test_same_seed_writes_the_same_files(
    built: Built, datasets_dir: Path, tmp_path: Path
) -> None:
    again = build_dev_stream(datasets_dir, tmp_path)
    assert again.events_path.read_bytes() == built.stream.events_path.read_bytes()
    assert again.truth_path.read_bytes() == built.stream.truth_path.read_bytes()


def test_another_seed_samples_other_urls(
    built: Built, datasets_dir: Path, tmp_path: Path
) -> None:
    other = _read(build_dev_stream(datasets_dir, tmp_path, seed=8))
    assert other.truth.malicious_urls() != built.truth.malicious_urls()


def test_no_benign_url_is_in_a_malicious_feed(built: Built, datasets_dir: Path) -> None:
    malicious = [
        *read_urlhaus(datasets_dir),
        *read_phishtank(datasets_dir, PHISHTANK_2021),
        *read_phishtank(datasets_dir, PHISHTANK_2020),
        *read_openphish(datasets_dir),
    ]
    benign = built.truth.benign_urls()
    assert len(benign) == 2000
    assert not benign & set(malicious)
    assert not _canonical(list(benign)) & _canonical(malicious)


def test_half_the_malicious_urls_are_in_the_loaded_intel(
    built: Built, datasets_dir: Path
) -> None:
    intel = _canonical(
        [*read_urlhaus(datasets_dir), *read_phishtank(datasets_dir, PHISHTANK_2021)]
    )
    labels = [u for u in built.truth.urls if u.malicious]
    listed = {u.canonical for u in labels if u.status == "listed"}
    unlisted = {u.canonical for u in labels if u.status == "unlisted"}
    assert len(listed) == len(unlisted) == 200
    assert listed <= intel
    assert not unlisted & intel
    assert {u.feed for u in labels if u.status == "unlisted"} == {
        FEED_NAMES["phishtank_2020"],
        FEED_NAMES["openphish"],
    }


def test_every_url_is_posted_once(built: Built) -> None:
    posted = Counter(
        e.url for e in built.events if isinstance(e, UrlPosted | LinkCreated)
    )
    assert set(posted) == {u.url for u in built.truth.urls}
    assert set(posted.values()) == {1}


def test_malicious_hashes_come_from_the_ioc_file(
    built: Built, datasets_dir: Path
) -> None:
    iocs = {i.value: i.algorithm for i in read_hash_iocs(datasets_dir)}
    bad = built.truth.malicious_hashes()
    assert len(bad) == 300
    assert all(
        iocs[h] == label.algorithm
        for label in built.truth.hashes
        for h in [label.value]
        if label.malicious
    )
    assert {h.feed for h in built.truth.hashes if h.malicious} == {
        HASH_IOCS.split("/")[0]
    }
    uploaded = {
        getattr(e, label)
        for e in built.events
        if isinstance(e, FileUploaded)
        for label in ("sha256", "sha1", "md5")
        if getattr(e, label)
    }
    assert bad <= uploaded


def test_openssh_brute_force_sources_follow_the_rule(built: Built) -> None:
    rule_ips = {i.ip for i in built.truth.ips if i.source == "openssh-bruteforce-rule"}
    assert "183.62.140.253" in rule_ips
    assert "119.137.62.142" not in rule_ips
    malicious = set(built.truth.malicious_event_ids)
    for event in built.events:
        if event.event_id.startswith("ssh-"):
            assert (event.event_id in malicious) == (event.ip in rule_ips)


def test_honeypot_sources_are_attackers_and_legitimate_ones_benign(
    built: Built,
) -> None:
    attackers, benign = built.truth.attacker_ips(), built.truth.benign_ips()
    assert not attackers & benign
    for event in built.events:
        if event.event_id.startswith("cowrie-"):
            assert event.ip in attackers
        elif event.event_id.startswith("sshlegit-"):
            assert event.ip in benign
            assert isinstance(event, Login) and event.success


def test_every_login_source_starts_on_the_same_day(built: Built) -> None:
    for prefix in ("ssh-", "cowrie-", "sshlegit-"):
        first = min(e.ts for e in built.events if e.event_id.startswith(prefix))
        assert first == DEV_START
    assert built.truth.start == DEV_START
