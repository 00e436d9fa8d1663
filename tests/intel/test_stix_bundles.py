"""STIX 2.1 bundles as a feed: loading, versions, revocation, context, matching."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from trustwatch.detectors.intel_match import IntelMatchDetector
from trustwatch.enrichment.urls import parse_url
from trustwatch.errors import ConfigError, InvalidIndicatorError
from trustwatch.events.model import FileUploaded, Login, UrlPosted
from trustwatch.features.context import EventContext
from trustwatch.intel import IndicatorStore, load_feed, sniff_format
from trustwatch.intel.stix import load_stix, load_stix_objects

SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
SHA1 = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
MD5 = "098f6bcd4621d373cade4e832627b4f6"
T0 = datetime(2025, 3, 1, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def indicator(
    n: int | str, pattern: str, *, modified: datetime = T0, **extra: Any
) -> dict[str, Any]:
    """Return a STIX 2.1 indicator object."""
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--00000000-0000-4000-8000-{int(n):012d}",
        "created": stamp(T0),
        "modified": stamp(modified),
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": stamp(T0),
        **extra,
    }


def ident(n: int) -> str:
    return f"indicator--00000000-0000-4000-8000-{n:012d}"


def bundle(*objects: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "bundle",
        "id": "bundle--00000000-0000-4000-8000-000000000000",
        "objects": list(objects),
    }


def load(*objects: dict[str, Any], **options: Any) -> Any:
    return load_stix_objects(objects, feed="intel", location="test", **options)


# --- the OASIS examples -----------------------------------------------------------

# file stem -> (indicators, patterns, rejects, skipped)
EXAMPLES: dict[str, tuple[int, int, int, dict[str, int]]] = {
    "apt1": (10, 2, 0, {}),
    "defining-campaigns-threat-actors-intrusion-sets": (0, 0, 0, {}),
    "identifying-a-threat-actor-profile": (0, 0, 0, {}),
    "indicator-for-malicious-url": (1, 0, 0, {}),
    "malware-indicator-for-file-hash": (1, 0, 0, {}),
    "poisonivy": (64, 2, 1, {}),
    "sighting-of-an-indicator": (1, 0, 0, {}),
    "sighting-of-observed-data": (
        0,
        0,
        0,
        {"file": 1, "observed-data": 2, "windows-registry-key": 1},
    ),
    "threat-actor-leveraging-attack-patterns-and-malware": (0, 0, 0, {}),
    "using-granular-markings": (0, 1, 0, {}),
    "using-marking-definitions": (1, 0, 0, {}),
}


@pytest.mark.datasets
@pytest.mark.parametrize("stem", sorted(EXAMPLES))
def test_oasis_examples_load(datasets_dir: Path, stem: str) -> None:
    path = datasets_dir / "stix21-examples" / f"examples_example_json_{stem}.json"
    assert sniff_format(path) == "stix21"
    loaded = load_feed(path)
    counts = (len(loaded.indicators), len(loaded.patterns), len(loaded.rejects))
    assert counts == EXAMPLES[stem][:3]
    assert loaded.skipped == EXAMPLES[stem][3]
    assert loaded.revoked == []
    assert all(
        ind.reference and ind.reference.startswith("indicator--")
        for ind in loaded.indicators
    )


@pytest.mark.datasets
def test_oasis_examples_context(datasets_dir: Path) -> None:
    folder = datasets_dir / "stix21-examples"
    ivy = load_feed(folder / "examples_example_json_poisonivy.json")
    assert ivy.rejects[0].reason == "invalid_domain"
    assert ivy.rejects[0].location.endswith(
        ":indicator--" + ivy.rejects[0].location.split("indicator--")[1]
    )
    tagged = [ind for ind in ivy.indicators if "campaign:menuPass" in ind.tags]
    assert tagged and all(ind.threat == "malicious-activity" for ind in tagged)
    apt1 = load_feed(folder / "examples_example_json_apt1.json")
    networks = [ind for ind in apt1.indicators if ind.type == "cidr"]
    assert len(networks) == 4
    assert any(tag.startswith("kill_chain:") for tag in networks[0].tags)
    assert all(ind.confidence == 70 for ind in apt1.indicators)
    observed = load_stix(
        folder / "examples_example_json_sighting-of-observed-data.json",
        observables=True,
    )
    assert sorted(ind.type for ind in observed.indicators) == ["md5", "sha1"]
    assert observed.skipped == {"observed-data": 2, "windows-registry-key": 1}


# --- pattern forms ----------------------------------------------------------------


def test_simple_patterns_become_plain_indicators() -> None:
    loaded = load(
        indicator(1, "[url:value = 'http://Evil.example/a b']"),
        indicator(2, "[domain-name:value = 'Evil.Example.']"),
        indicator(
            3,
            "[ipv4-addr:value = '203.0.113.5' OR ipv4-addr:value = '198.51.100.0/24']",
        ),
        indicator(4, "[ipv6-addr:value = '2001:DB8::1']"),
        indicator(
            5, f"[file:hashes.MD5 = '{MD5.upper()}' OR file:hashes.'SHA-1' = '{SHA1}']"
        ),
        indicator(6, f"[file:hashes.'SHA-256' = '{SHA256}']"),
        indicator(7, "[domain-name:value IN ('a.example', 'b.example')]"),
    )
    assert loaded.patterns == [] and loaded.rejects == []
    values = [(ind.type, ind.value, ind.reference) for ind in loaded.indicators]
    assert values == [
        ("url", "http://evil.example/a%20b", ident(1)),
        ("domain", "evil.example", ident(2)),
        ("ip", "203.0.113.5", ident(3)),
        ("cidr", "198.51.100.0/24", ident(3)),
        ("ip", "2001:db8::1", ident(4)),
        ("md5", MD5, ident(5)),
        ("sha1", SHA1, ident(5)),
        ("sha256", SHA256, ident(6)),
        ("domain", "a.example", ident(7)),
        ("domain", "b.example", ident(7)),
    ]


def test_other_forms_become_pattern_indicators_or_rejects() -> None:
    loaded = load(
        indicator(1, f"[file:hashes.'SHA-256' = '{SHA256}' AND file:size > 1000]"),
        indicator(2, "[file:name LIKE 'invoice%.exe']"),
        indicator(3, "[url:value = 'http://a.example/'] FOLLOWEDBY [file:name = 'x']"),
        indicator(4, "[url:value = 'unterminated]"),
        indicator(5, 'title:"x"', pattern_type="sigma"),
        indicator(6, "[domain-name:value = 'not a domain']"),
        indicator(7, "[ipv4-addr:value = '0.0.0.0/0']"),
        indicator(8, "[file:hashes.'SHA-512' = 'aa']"),
        {"type": "indicator", "id": ident(9), "pattern_type": "stix"},
        "not an object",  # type: ignore[arg-type]
    )
    assert [p.id for p in loaded.patterns] == [ident(1), ident(2), ident(8)]
    assert loaded.patterns[0].anchors is not None
    assert loaded.patterns[1].anchors is None
    reasons = {r.location.split(":", 1)[1]: r.reason for r in loaded.rejects}
    assert reasons == {
        ident(3): "unsupported_pattern",
        ident(4): "invalid_pattern",
        ident(5): "unsupported_pattern_type",
        ident(6): "invalid_domain",
        ident(7): "too_broad",
        ident(9): "malformed_record",
        "object 10": "malformed_record",
    }
    assert all(r.message for r in loaded.rejects)


# --- provenance -------------------------------------------------------------------


def test_fields_confidence_labels_kill_chain_and_relationships() -> None:
    loaded = load(
        indicator(
            1,
            "[domain-name:value = 'c2.example']",
            confidence=85,
            indicator_types=["malicious-activity", "compromised"],
            kill_chain_phases=[
                {
                    "kill_chain_name": "lockheed-martin-cyber-kill-chain",
                    "phase_name": "command-and-control",
                }
            ],
            valid_until=stamp(T0 + timedelta(days=30)),
        ),
        indicator(
            2, "[domain-name:value = 'other.example']", labels=["benign-looking"]
        ),
        {"type": "malware", "id": "malware--1", "name": "Dridex", "is_family": True},
        {"type": "threat-actor", "id": "threat-actor--1", "name": "TA505"},
        {"type": "identity", "id": "identity--1", "name": "Someone"},
        {
            "type": "relationship",
            "id": "relationship--1",
            "relationship_type": "indicates",
            "source_ref": ident(1),
            "target_ref": "malware--1",
        },
        {
            "type": "relationship",
            "id": "relationship--2",
            "relationship_type": "indicates",
            "source_ref": ident(1),
            "target_ref": "threat-actor--1",
        },
        {
            "type": "relationship",
            "id": "relationship--3",
            "relationship_type": "indicates",
            "source_ref": ident(2),
            "target_ref": "identity--1",
        },
    )
    first, second = loaded.indicators
    assert first.confidence == 85 and second.confidence == 70
    assert first.threat == "malicious-activity"
    assert first.tags == (
        "malicious-activity",
        "compromised",
        "kill_chain:lockheed-martin-cyber-kill-chain:command-and-control",
        "malware:Dridex",
        "threat-actor:TA505",
    )
    assert first.first_seen == T0 and first.expires_at == T0 + timedelta(days=30)
    assert second.tags == ("benign-looking",) and second.threat == "benign-looking"
    overridden = load(
        indicator(1, "[domain-name:value = 'c2.example']", confidence=85), confidence=20
    )
    assert overridden.indicators[0].confidence == 20
    with pytest.raises(ConfigError, match="hint:"):
        load(confidence=101)


def test_revocation_and_versions() -> None:
    later = T0 + timedelta(hours=1)
    loaded = load(
        indicator(1, "[domain-name:value = 'v1.example']"),
        indicator(1, "[domain-name:value = 'v2.example']", modified=later),
        indicator(2, "[domain-name:value = 'gone.example']", revoked=True),
        indicator(3, "[domain-name:value = 'back.example']", modified=later),
        indicator(3, "[domain-name:value = 'back.example']", revoked=True),
        indicator(
            4, "[domain-name:value = 'late.example']", revoked=True, modified=later
        ),
        indicator(4, "[domain-name:value = 'late.example']"),
        indicator(5, "[file:name = 'a.exe' AND file:size = 3]"),
        indicator(5, "[file:name = 'b.exe' AND file:size = 3]", modified=later),
    )
    assert [ind.value for ind in loaded.indicators] == ["v2.example", "back.example"]
    assert sorted(loaded.revoked) == [ident(2), ident(4)]
    assert [p.pattern for p in loaded.patterns] == [
        "[file:name = 'b.exe' AND file:size = 3]"
    ]


def test_validity_window_is_honoured_by_the_store() -> None:
    ended = T0 + timedelta(days=1)
    loaded = load(
        indicator(1, "[url:value = 'http://old.example/x']", valid_until=stamp(ended)),
        indicator(
            2, "[file:name = 'old.exe' AND file:size = 3]", valid_until=stamp(ended)
        ),
    )
    assert loaded.indicators[0].expires_at == ended
    store = IndicatorStore(loaded.indicators)
    store.add_patterns(loaded.patterns)
    url = parse_url("http://old.example/x")
    assert store.match_url(url, at=T0)
    assert store.match_url(url) == []
    observation = {"file:name": "old.exe", "file:size": 3, "file:hashes.MD5": MD5}
    assert store.match_observation(observation, at=T0)
    assert store.match_observation(observation) == []


def test_observations_are_skipped_unless_asked_for() -> None:
    objects = (
        {"type": "url", "id": "url--1", "value": "http://seen.example/"},
        {"type": "file", "id": "file--1", "hashes": {"SHA-256": SHA256}},
        {
            "type": "observed-data",
            "id": "observed-data--1",
            "first_observed": stamp(T0),
            "objects": {"0": {"type": "ipv4-addr", "value": "203.0.113.5"}},
        },
        {"type": "mutex", "id": "mutex--1", "name": "x"},
    )
    skipped = load(*objects)
    assert skipped.indicators == [] and skipped.rejects == []
    assert skipped.skipped == {"url": 1, "file": 1, "observed-data": 1, "mutex": 1}
    taken = load(*objects, observables=True)
    assert [(i.type, i.value) for i in taken.indicators] == [
        ("url", "http://seen.example/"),
        ("sha256", SHA256),
        ("ip", "203.0.113.5"),
    ]
    assert taken.skipped == {"mutex": 1}


# --- files and the registry -------------------------------------------------------


def test_files_sniffed_and_loaded(tmp_path: Path) -> None:
    objects = [
        indicator(1, "[domain-name:value = 'a.example']"),
        indicator(2, "[file:name = 'a.exe' AND file:size = 3]"),
        indicator(3, "[domain-name:value = 'r.example']", revoked=True),
    ]
    as_bundle = tmp_path / "intel.json"
    as_bundle.write_text(json.dumps(bundle(*objects)), encoding="utf-8")
    keys_sorted = tmp_path / "sorted.json"
    keys_sorted.write_text(
        json.dumps(bundle(*objects), sort_keys=True), encoding="utf-8"
    )
    as_list = tmp_path / "objects.json"
    as_list.write_text(json.dumps(objects), encoding="utf-8")
    for path in (as_bundle, keys_sorted, as_list):
        assert sniff_format(path) == "stix21"
        loaded = load_feed(path, confidence=40)
        assert loaded.format == "stix21" and loaded.feed == path.stem
        assert [i.value for i in loaded.indicators] == ["a.example"]
        assert loaded.indicators[0].confidence == 40
        assert [p.id for p in loaded.patterns] == [ident(2)]
        assert loaded.revoked == [ident(3)]
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"something": 1}', encoding="utf-8")
    with pytest.raises(InvalidIndicatorError, match="hint:"):
        load_feed(wrong, format="stix21")


# --- matching ---------------------------------------------------------------------


def test_match_observation_names_feed_and_stix_id() -> None:
    loaded = load(
        indicator(1, f"[file:hashes.'SHA-256' = '{SHA256}' AND file:size > 1000]"),
        indicator(2, f"[file:hashes.MD5 = '{MD5}']"),
    )
    store = IndicatorStore(loaded.indicators)
    assert store.add_patterns(loaded.patterns) == 1
    observation = {
        "file:hashes.'SHA-256'": SHA256,
        "file:hashes.MD5": MD5,
        "file:size": 4096,
    }
    found = store.match_observation(observation, T0)
    assert sorted(m.matched_on for m in found) == ["md5", "pattern"]
    hit = next(m for m in found if m.matched_on == "pattern")
    assert hit.indicator.feed == "intel" and hit.indicator.reference == ident(1)
    assert (hit.indicator.type, hit.observed) == ("sha256", SHA256)
    assert hit.pattern is not None and hit.pattern.id == ident(1)
    small = {**observation, "file:size": 10}
    assert [m.matched_on for m in store.match_observation(small, T0)] == ["md5"]
    assert store.match_observation(small, T0, plain=False) == []
    with pytest.raises(ConfigError, match="hint:"):
        store.match_observation({"file:size": 4096}, T0)


def upload(**fields: Any) -> FileUploaded:
    return FileUploaded(event_id="u1", ts=T0, account="alice", file_id="f1", **fields)


def test_detector_raises_a_signal_for_a_pattern_hit_on_an_upload() -> None:
    loaded = load(
        indicator(
            1,
            f"[file:hashes.'SHA-256' = '{SHA256}' AND file:name LIKE '%.exe']",
            confidence=90,
            indicator_types=["malicious-activity"],
        ),
    )
    store = IndicatorStore()
    store.add_patterns(loaded.patterns)
    detector = IntelMatchDetector(store, match_source_ip=False)
    event = upload(sha256=SHA256, name="setup.exe", size=3)
    signals = detector.process_one(event, EventContext(event))
    assert [s.kind for s in signals] == ["intel_hash"]
    signal = signals[0]
    assert signal.entity == SHA256 and signal.score == pytest.approx(0.9)
    ref = signal.indicators[0]
    assert (ref.type, ref.reference, ref.feeds, ref.matched_on) == (
        "stix_pattern",
        ident(1),
        ("intel",),
        "pattern",
    )
    benign = upload(sha256=SHA256, name="setup.pdf", size=3)
    assert detector.process_one(benign, EventContext(benign)) == []
    unhashed = upload(name="setup.exe")
    assert detector.process_one(unhashed, EventContext(unhashed)) == []


def test_detector_matches_posted_urls_against_patterns() -> None:
    loaded = load(
        indicator(
            1, "[domain-name:value = 'drop.example' AND url:value LIKE '%/bin/%']"
        ),
        indicator(
            2, "[ipv4-addr:value ISSUBSET '203.0.113.0/24' AND url:value LIKE '%.sh']"
        ),
    )
    store = IndicatorStore()
    store.add_patterns(loaded.patterns)
    detector = IntelMatchDetector(store, match_source_ip=False)
    for url, expected in (
        ("http://drop.example/bin/x86", [ident(1)]),
        ("http://drop.example/img/x.png", []),
        ("http://203.0.113.9/a.sh", [ident(2)]),
    ):
        event = UrlPosted(event_id="p1", ts=T0, account="bob", url=url)
        signals = detector.process_one(event, EventContext(event))
        assert [s.indicators[0].reference for s in signals] == expected
        assert all(s.kind == "intel_url" for s in signals)


def test_detector_matches_source_addresses_against_patterns() -> None:
    loaded = load(
        indicator(
            1,
            "[ipv4-addr:value ISSUBSET '203.0.113.0/24'] OR "
            "[domain-name:value = 'orpart.example']",
            confidence=80,
        ),
        indicator(
            2,
            "[ipv6-addr:value ISSUBSET '2001:db8::/64'] OR "
            "[domain-name:value = 'v6.example']",
        ),
    )
    store = IndicatorStore()
    store.add_patterns(loaded.patterns)
    detector = IntelMatchDetector(store)
    for ip, expected in (
        ("203.0.113.9", [ident(1)]),
        ("198.51.100.9", []),
        ("2001:db8:0:0::7", [ident(2)]),
        ("not an address", []),
    ):
        event = Login(event_id="l1", ts=T0, account="bob", ip=ip, success=True)
        signals = detector.process_one(event, EventContext(event))
        assert [s.indicators[0].reference for s in signals] == expected, ip
        assert all(s.kind == "intel_ip" and s.entity_type == "ip" for s in signals)
    quiet = IntelMatchDetector(store, match_source_ip=False)
    event = Login(event_id="l2", ts=T0, account="bob", ip="203.0.113.9", success=True)
    assert quiet.process_one(event, EventContext(event)) == []


def test_detector_without_patterns_skips_observations() -> None:
    store = IndicatorStore()
    detector = IntelMatchDetector(store, match_source_ip=False)
    event = upload(name="setup.exe")
    assert len(store.patterns) == 0
    assert detector.process_one(event, EventContext(event)) == []


def test_feed05_escaped_quotes_reach_the_url_indicator(
    hardcases: dict[str, Any],
) -> None:
    case = hardcases["FEED-05"]
    loaded = load(indicator(1, case["input"]))
    assert loaded.rejects == [] and len(loaded.indicators) == 1
    store = IndicatorStore(loaded.indicators)
    written = parse_url("https://example.com/params?&message='hello'")
    assert [m.indicator.reference for m in store.match_url(written, at=T0)] == [
        ident(1)
    ]
    backslashes = parse_url("https://example.com/params?&message=\\'hello\\'")
    assert store.match_url(backslashes, at=T0) == []


def test_revoked_context_adds_no_tags() -> None:
    loaded = load(
        indicator(1, "[domain-name:value = 'c2.example']"),
        {"type": "malware", "id": "malware--1", "name": "Old", "revoked": True},
        {
            "type": "relationship",
            "id": "relationship--1",
            "relationship_type": "indicates",
            "source_ref": ident(1),
            "target_ref": "malware--1",
        },
    )
    assert loaded.indicators[0].tags == ()
