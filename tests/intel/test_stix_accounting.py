"""Every STIX indicator object ends up somewhere; related objects name threats."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import pytest

from trustwatch.intel.feeds import FeedLoad
from trustwatch.intel.stix import load_stix_objects, read_stix_file

STAMP = "2025-03-01T00:00:00.000Z"
LATER = "2025-03-02T00:00:00.000Z"
SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

#: One pattern of each kind, and how it is expected to end up.
PATTERNS: Final = {
    "equality": ("[url:value = 'http://evil.example/a']", "indicator"),
    "or_of_equalities": (
        "[domain-name:value = 'a.example' OR domain-name:value = 'b.example']",
        "indicator",
    ),
    "hash": (f"[file:hashes.'SHA-256' = '{SHA256}']", "indicator"),
    "network": ("[ipv4-addr:value = '198.51.100.0/24']", "indicator"),
    "matches": ("[url:value MATCHES '^https?://a\\\\.example/x[0-9]+$']", "pattern"),
    "unsafe_regex": ("[url:value MATCHES '(a+)+$']", "reject"),
    "match_everything": ("[domain-name:value LIKE '%']", "reject"),
    "long_and_chain": (
        "[" + "domain-name:value = 'a.example' AND " * 600 + "file:name = 'x']",
        "pattern",
    ),
    "like": ("[domain-name:value LIKE '%.evil.example']", "pattern"),
    "issubset": ("[ipv4-addr:value ISSUBSET '198.51.100.0/24']", "pattern"),
    "other_path": ("[network-traffic:dst_port = 443]", "pattern"),
    "and_of_two": (
        "[url:value = 'http://a.example/' AND file:name = 'x.exe']",
        "pattern",
    ),
    "followed_by": (
        "[url:value = 'http://a.example/'] FOLLOWEDBY [url:value = 'http://b.example/']",
        "reject",
    ),
    "broken": ("[url:value = ", "reject"),
    "wildcard": ("[domain-name:value = '*.wild.example']", "indicator"),
    "misplaced_star": ("[domain-name:value = 'a.*.example']", "reject"),
    "catch_all": ("[domain-name:value = '*.com']", "reject"),
}


def indicator(number: int, pattern: Any, **extra: Any) -> dict[str, Any]:
    """Return a STIX 2.1 indicator object."""
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--00000000-0000-4000-8000-{number:012d}",
        "created": STAMP,
        "modified": STAMP,
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": STAMP,
        **extra,
    }


def outcomes(loaded: FeedLoad) -> dict[str, set[str]]:
    """Return the ids of indicator objects per outcome of a load."""
    return {
        "indicator": {i.reference or "" for i in loaded.indicators},
        "pattern": {p.id for p in loaded.patterns},
        "reject": {
            r.location.split(":", 1)[1]
            for r in loaded.rejects
            if r.location.split(":", 1)[-1].startswith("indicator--")
        },
        "revoked": set(loaded.revoked),
    }


def assert_nothing_vanishes(objects: Sequence[Any], loaded: FeedLoad) -> None:
    """Every indicator object's id is an indicator, pattern, reject or revocation."""
    ids = {
        obj["id"]
        for obj in objects
        if isinstance(obj, Mapping) and obj.get("type") == "indicator"
    }
    seen = set().union(*outcomes(loaded).values())
    assert ids - seen == set(), "indicator objects that gave nothing"
    assert seen - ids == set(), "outcomes naming no indicator object"


def hand_written_bundle() -> list[dict[str, Any]]:
    """One indicator per pattern kind, plus the other ways an object can end."""
    objects = [
        indicator(number, pattern)
        for number, (pattern, _) in enumerate(PATTERNS.values(), 1)
    ]
    base = len(objects)
    objects += [
        indicator(base + 1, "title:'x'", pattern_type="sigma"),
        indicator(base + 2, None),
        indicator(base + 3, "[url:value = 'http://gone.example/']", revoked=True),
        indicator(base + 4, "[url:value = 'http://old.example/']"),
        indicator(base + 4, "[url:value = 'http://new.example/']", modified=LATER),
        indicator(base + 5, "[url:value = 'http://ok.example/' OR url:value = 'x']"),
    ]
    return objects


def test_every_pattern_kind_ends_as_expected() -> None:
    objects = hand_written_bundle()
    loaded = load_stix_objects(objects, feed="intel", location="hand.json")
    found = outcomes(loaded)
    for number, (name, (_, expected)) in enumerate(PATTERNS.items(), 1):
        stix_id = f"indicator--00000000-0000-4000-8000-{number:012d}"
        where = {kind for kind, ids in found.items() if stix_id in ids}
        assert where == {expected}, name
    assert_nothing_vanishes(objects, loaded)
    assert [i.value for i in loaded.indicators if "new" in i.value] == [
        "http://new.example/"
    ]
    assert not any("old.example" in i.value for i in loaded.indicators)


def test_a_vanishing_object_fails_the_accounting() -> None:
    objects = hand_written_bundle()
    loaded = load_stix_objects(objects, feed="intel", location="hand.json")
    loaded.patterns.pop()
    with pytest.raises(AssertionError):
        assert_nothing_vanishes(objects, loaded)


@pytest.mark.datasets
def test_nothing_vanishes_from_the_oasis_examples(datasets_dir: Path) -> None:
    folder = datasets_dir / "stix21-examples"
    if not folder.is_dir():
        reason = f"{folder} is absent: the STIX 2.1 examples are not on this machine"
        if os.environ.get("TRUSTWATCH_REQUIRE_DATASETS") == "1":
            pytest.fail(f"{reason}, and TRUSTWATCH_REQUIRE_DATASETS=1 requires it")
        pytest.skip(reason)
    bundles = sorted(folder.glob("*.json"))
    assert bundles
    total = 0
    for path in bundles:
        objects = read_stix_file(path)
        loaded = load_stix_objects(objects, feed="oasis", location=path.name)
        assert_nothing_vanishes(objects, loaded)
        total += sum(1 for obj in objects if obj.get("type") == "indicator")
    assert total > 0


def relationship(number: int, source: str, target: str) -> dict[str, Any]:
    """Return an ``indicates`` relationship."""
    return {
        "type": "relationship",
        "spec_version": "2.1",
        "id": f"relationship--00000000-0000-4000-8000-{number:012d}",
        "created": STAMP,
        "modified": STAMP,
        "relationship_type": "indicates",
        "source_ref": source,
        "target_ref": target,
    }


def context(kind: str, name: str) -> dict[str, Any]:
    """Return a named SDO (malware, tool, threat actor …)."""
    return {
        "type": kind,
        "spec_version": "2.1",
        "id": f"{kind}--00000000-0000-4000-8000-000000000001",
        "created": STAMP,
        "modified": STAMP,
        "name": name,
    }


def test_indicates_names_the_threat_malware_first() -> None:
    actor, tool, malware = (
        context("threat-actor", "TA505"),
        context("tool", "Cobalt Strike"),
        context("malware", "Evilware"),
    )
    objects = [
        actor,
        tool,
        malware,
        indicator(1, "[url:value = 'http://one.example/']"),
        indicator(2, "[url:value = 'http://two.example/']"),
        indicator(3, "[url:value = 'http://three.example/']"),
        indicator(
            4, "[url:value = 'http://four.example/']", indicator_types=["phishing"]
        ),
        indicator(5, "[url:value MATCHES '^http://five']"),
    ]
    ids = [obj["id"] for obj in objects[3:]]
    objects += [
        relationship(1, ids[0], actor["id"]),
        relationship(2, ids[0], malware["id"]),
        relationship(3, ids[0], tool["id"]),
        relationship(4, ids[1], actor["id"]),
        relationship(5, ids[1], tool["id"]),
        relationship(6, ids[2], actor["id"]),
        relationship(7, ids[3], malware["id"]),
        relationship(8, ids[4], malware["id"]),
    ]
    loaded = load_stix_objects(objects, feed="intel", location="b.json")
    by_value = {i.value: i for i in loaded.indicators}
    one = by_value["http://one.example/"]
    assert one.threat == "Evilware"
    assert set(one.tags) == {
        "threat-actor:TA505",
        "malware:Evilware",
        "tool:Cobalt Strike",
    }
    assert by_value["http://two.example/"].threat == "Cobalt Strike"
    assert by_value["http://three.example/"].threat == "TA505"
    four = by_value["http://four.example/"]
    assert four.threat == "phishing" and "malware:Evilware" in four.tags
    [pattern] = loaded.patterns
    assert pattern.threat == "Evilware"
