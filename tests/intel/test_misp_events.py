"""MISP events and MISP feed folders read as indicators."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from trustwatch.errors import InvalidIndicatorError
from trustwatch.intel import FeedLoad, load_feed, resolve_feed_paths, sniff_format

EVENT_UUID = "5f0c0e3a-0000-4000-8000-00000000e001"


@pytest.fixture(scope="module")
def misp_events_dir(datasets_dir: Path) -> Path:
    """The PyMISP example events, or skip (fail under the CI flag)."""
    folder = datasets_dir / "misp-events-pymisp"
    if not folder.is_dir():
        reason = f"{folder} is absent: the real MISP events are not on this machine"
        if os.environ.get("TRUSTWATCH_REQUIRE_DATASETS") == "1":
            pytest.fail(f"{reason}, and TRUSTWATCH_REQUIRE_DATASETS=1 requires it")
        pytest.skip(reason)
    return folder


def attribute(
    type: str, value: Any, *, number: int = 1, to_ids: Any = True, **extra: Any
) -> dict[str, Any]:
    """One MISP attribute as MISP exports it."""
    return {
        "uuid": f"5f0c0e3a-0000-4000-8000-{number:012d}",
        "type": type,
        "category": "Network activity",
        "value": value,
        "to_ids": to_ids,
        "deleted": False,
        "timestamp": "1600000000",
        **extra,
    }


def event(
    attributes: list[dict[str, Any]],
    objects: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """One event body."""
    body: dict[str, Any] = {
        "uuid": EVENT_UUID,
        "info": "Test campaign",
        "published": True,
        "threat_level_id": "2",
        "Tag": [{"name": "tlp:green"}],
        "Attribute": attributes,
        **fields,
    }
    if objects is not None:
        body["Object"] = objects
    return body


def load(tmp_path: Path, document: Any, **kwargs: Any) -> FeedLoad:
    """Write a document as JSON and load it as a MISP event file."""
    path = tmp_path / "event.json"
    path.write_bytes(msgspec.json.encode(document))
    return load_feed(path, **kwargs)


def values(loaded: FeedLoad) -> list[tuple[str, str]]:
    """(type, value) of every indicator."""
    return [(i.type, i.value) for i in loaded.indicators]


# --- real events ------------------------------------------------------------------


def test_every_real_event_loads(misp_events_dir: Path) -> None:
    files = sorted(misp_events_dir.glob("*.json"))
    events = [f for f in files if f.name != "tests_stix2.json"]
    assert len(events) == 16
    for path in events:
        assert sniff_format(path) == "misp_event", path.name
        loaded = load_feed(path)
        assert loaded.format == "misp_event"
        assert loaded.records + sum(loaded.skipped.values()) > 0, path.name
        for indicator in loaded.indicators:
            event_uuid, _, attribute_uuid = (indicator.reference or "").partition("/")
            assert len(event_uuid) == 36 and len(attribute_uuid) == 36


def test_a_stix_bundle_is_no_misp_event(misp_events_dir: Path) -> None:
    loaded = load_feed(misp_events_dir / "tests_stix2.json", format="misp_event")
    assert loaded.indicators == []
    assert [(r.location, r.reason) for r in loaded.rejects] == [
        ("tests_stix2.json", "not_misp_event")
    ]
    assert "hint:" in loaded.rejects[0].message


def test_a_glob_of_events_rejects_one_stray_file_and_loads_the_rest(
    misp_events_dir: Path,
) -> None:
    paths = resolve_feed_paths([str(misp_events_dir / "*.json")])
    assert misp_events_dir / "tests_stix2.json" in paths
    loads = [load_feed(path, format="misp_event") for path in paths]
    stray = [r for load in loads for r in load.rejects if r.reason == "not_misp_event"]
    assert [r.location for r in stray] == ["tests_stix2.json"]
    assert sum(len(load.indicators) for load in loads) > 0


def test_real_event_counts_sednit(misp_events_dir: Path) -> None:
    # 37 sha1 + 19 domain + 12 ip-dst marked to_ids; one link that is not.
    loaded = load_feed(
        misp_events_dir / "tests_mispevent_testfiles_existing_event.json"
    )
    assert loaded.by_type() == {"sha1": 37, "domain": 19, "ip": 12}
    assert loaded.rejects == []
    assert loaded.skipped == {
        "to_ids_false": 1,
        "unsupported_type:text": 38,
        "unsupported_type:filename": 15,
    }
    first = loaded.indicators[0]
    assert first.threat == "Sofacy"
    assert "tlp:white" in first.tags and "unpublished" in first.tags
    assert first.confidence == 50  # threat_level_id 3


def test_real_event_counts_asert_report(misp_events_dir: Path) -> None:
    loaded = load_feed(misp_events_dir / "tests_reportlab_testfiles_long_event.json")
    assert len(loaded.indicators) == 248
    assert loaded.skipped["to_ids_false"] == 83
    assert loaded.skipped["unsupported_type:filename"] == 18
    # two 'url' attributes hold bare file paths (Data/dtl.dat): rejects
    assert [r.reason for r in loaded.rejects] == ["invalid_url", "invalid_url"]
    assert {i.confidence for i in loaded.indicators} == {70}  # threat_level_id 2
    assert "unpublished" not in loaded.indicators[0].tags


def test_real_event_to_delete1_counts(misp_events_dir: Path) -> None:
    loaded = load_feed(misp_events_dir / "tests_reportlab_testfiles_to_delete1.json")
    assert len(loaded.indicators) == 50
    assert loaded.skipped["to_ids_false"] == 15
    assert loaded.skipped["unsupported_type:regkey"] == 5


# --- attribute types --------------------------------------------------------------


@pytest.mark.parametrize(
    ("misp_type", "value", "expected"),
    [
        ("url", "http://evil.example/a.php", ("url", "http://evil.example/a.php")),
        ("url", "hxxp://evil[.]example/b", ("url", "http://evil.example/b")),
        ("link", "https://c2.example/x", ("url", "https://c2.example/x")),
        ("domain", "Evil.Example", ("domain", "evil.example")),
        ("domain", "evil[.]example", ("domain", "evil.example")),
        ("hostname", "mail.evil.example", ("domain", "mail.evil.example")),
        ("ip-src", "198.51.100.7", ("ip", "198.51.100.7")),
        ("ip-dst", "203.0.113[.]9", ("ip", "203.0.113.9")),
        ("ip-dst", "203.0.113.0/24", ("cidr", "203.0.113.0/24")),
        ("ip-dst", "2001:DB8::1", ("ip", "2001:db8::1")),
        (
            "md5",
            "D41D8CD98F00B204E9800998ECF8427F",
            ("md5", "d41d8cd98f00b204e9800998ecf8427f"),
        ),
        ("sha1", "a" * 40, ("sha1", "a" * 40)),
        ("sha256", "b" * 64, ("sha256", "b" * 64)),
    ],
)
def test_single_types(
    tmp_path: Path, misp_type: str, value: str, expected: tuple[str, str]
) -> None:
    loaded = load(tmp_path, {"Event": event([attribute(misp_type, value)])})
    assert values(loaded) == [expected]
    assert loaded.rejects == [] and loaded.skipped == {}


@pytest.mark.parametrize(
    ("misp_type", "value", "expected"),
    [
        ("ip-src|port", "198.51.100.7|4444", [("ip", "198.51.100.7")]),
        ("ip-dst|port", "2001:db8::5|443", [("ip", "2001:db8::5")]),
        ("hostname|port", "c2.evil.example|8080", [("domain", "c2.evil.example")]),
        (
            "domain|ip",
            "evil.example|203.0.113.5",
            [("domain", "evil.example"), ("ip", "203.0.113.5")],
        ),
        ("filename|md5", "a.exe|" + "c" * 32, [("md5", "c" * 32)]),
        ("filename|sha1", "b|c.exe|" + "d" * 40, [("sha1", "d" * 40)]),
        ("filename|sha256", "x.dll|" + "e" * 64, [("sha256", "e" * 64)]),
    ],
)
def test_composite_types(
    tmp_path: Path, misp_type: str, value: str, expected: list[tuple[str, str]]
) -> None:
    loaded = load(tmp_path, {"Event": event([attribute(misp_type, value)])})
    assert values(loaded) == expected
    references = {i.reference for i in loaded.indicators}
    assert references == {f"{EVENT_UUID}/5f0c0e3a-0000-4000-8000-000000000001"}


def test_composite_without_separator_is_a_reject(tmp_path: Path) -> None:
    loaded = load(tmp_path, {"Event": event([attribute("domain|ip", "evil.example")])})
    assert loaded.indicators == []
    assert [r.reason for r in loaded.rejects] == ["invalid_value"]
    assert loaded.rejects[0].location.endswith("000000000001")


def test_other_types_are_skipped_and_counted_by_type(tmp_path: Path) -> None:
    attributes = [
        attribute("email-src", "a@evil.example", number=1),
        attribute("regkey", "HKLM\\Software\\Run", number=2),
        attribute("mutex", "Global\\x", number=3),
        attribute("text", "note", number=4),
        attribute("comment", "see report", number=5),
        attribute("text", "more", number=6),
        attribute("domain", "evil.example", number=7),
    ]
    loaded = load(tmp_path, {"Event": event(attributes)})
    assert values(loaded) == [("domain", "evil.example")]
    assert loaded.rejects == []
    assert loaded.skipped == {
        "unsupported_type:email-src": 1,
        "unsupported_type:regkey": 1,
        "unsupported_type:mutex": 1,
        "unsupported_type:text": 2,
        "unsupported_type:comment": 1,
    }


def test_to_ids_false_is_skipped_not_rejected(tmp_path: Path) -> None:
    attributes = [
        attribute("link", "https://blog.example/report", number=1, to_ids=False),
        attribute("url", "http://evil.example/a", number=2, to_ids="0"),
        attribute("url", "http://evil.example/b", number=3, to_ids="1"),
        attribute("domain", "evil.example", number=4, to_ids=1),
        attribute("domain", "quiet.example", number=5, to_ids=None),
    ]
    loaded = load(tmp_path, {"Event": event(attributes)})
    assert values(loaded) == [
        ("url", "http://evil.example/b"),
        ("domain", "evil.example"),
    ]
    assert loaded.rejects == []
    assert loaded.skipped == {"to_ids_false": 3}


def test_deleted_attributes_and_objects_are_skipped(tmp_path: Path) -> None:
    objects = [
        {
            "name": "domain-ip",
            "deleted": True,
            "Attribute": [attribute("domain", "gone.example", number=10)],
        }
    ]
    attributes = [
        attribute("domain", "old.example", number=1, deleted=True),
        attribute("domain", "live.example", number=2, deleted="0"),
    ]
    loaded = load(tmp_path, {"Event": event(attributes, objects)})
    assert values(loaded) == [("domain", "live.example")]
    assert loaded.skipped == {"deleted": 2}


def test_object_attributes_are_read(tmp_path: Path) -> None:
    objects = [
        {
            "name": "file",
            "uuid": "5f0c0e3a-0000-4000-8000-0000000000f1",
            "Attribute": [
                attribute("filename", "dropper.exe", number=11),
                attribute("md5", "1" * 32, number=12),
                attribute("sha256", "2" * 64, number=13),
                attribute("size-in-bytes", "1024", number=14, to_ids=False),
            ],
        },
        {
            "name": "url",
            "Attribute": [attribute("url", "http://dl.evil.example/x", number=15)],
        },
        {
            "name": "domain-ip",
            "Attribute": [
                attribute("domain", "evil.example", number=16),
                attribute("ip", "203.0.113.8", number=17),
                attribute("ip-dst", "203.0.113.9", number=18),
            ],
        },
    ]
    loaded = load(tmp_path, {"Event": event([], objects)})
    assert values(loaded) == [
        ("md5", "1" * 32),
        ("sha256", "2" * 64),
        ("url", "http://dl.evil.example/x"),
        ("domain", "evil.example"),
        ("ip", "203.0.113.9"),
    ]
    assert loaded.skipped == {
        "unsupported_type:filename": 1,
        "unsupported_type:size-in-bytes": 1,
        "unsupported_type:ip": 1,
    }


def test_bad_values_are_rejects_with_location(tmp_path: Path) -> None:
    attributes = [
        attribute("domain", "not a domain!", number=1),
        attribute("md5", "xyz", number=2),
        attribute("ip-dst", "0.0.0.0", number=3),
        attribute("url", "", number=4),
    ]
    loaded = load(tmp_path, {"Event": event(attributes)})
    assert loaded.indicators == []
    assert [r.reason for r in loaded.rejects] == [
        "invalid_domain",
        "invalid_hash",
        "not_routable",
        "invalid_value",
    ]
    assert loaded.rejects[0].location == (
        f"event.json:{EVENT_UUID}/5f0c0e3a-0000-4000-8000-000000000001"
    )


def test_fields_of_the_wrong_type_stay_local(tmp_path: Path) -> None:
    attributes = [
        attribute("domain", 12345, number=1),
        attribute("domain", "fine.example", number=2),
    ]
    loaded = load(tmp_path, {"Event": event(attributes)})
    assert values(loaded) == [("domain", "fine.example")]
    assert [r.reason for r in loaded.rejects] == ["malformed_record"]
    assert "12345" in loaded.rejects[0].raw


# --- provenance -------------------------------------------------------------------


def test_provenance_from_event_and_attribute(tmp_path: Path) -> None:
    attributes = [
        attribute(
            "domain",
            "evil.example",
            number=1,
            Tag=[{"name": 'misp-galaxy:malpedia="Emotet"'}],
        ),
        attribute(
            "domain",
            "other.example",
            number=2,
            first_seen="2020-01-02T03:04:05.000000+00:00",
            last_seen="2020-02-03T00:00:00+00:00",
        ),
    ]
    body = event(attributes, Tag=[{"name": "tlp:amber"}, {"name": "type:OSINT"}])
    loaded = load(tmp_path, {"Event": body})
    tagged, timed = loaded.indicators
    assert loaded.feed == "misp"
    assert tagged.tags == ("tlp:amber", "type:OSINT", 'misp-galaxy:malpedia="Emotet"')
    assert tagged.threat == "Emotet"
    assert (
        tagged.first_seen
        == tagged.last_seen
        == datetime(2020, 9, 13, 12, 26, 40, tzinfo=UTC)
    )
    assert timed.threat == "Test campaign"
    assert timed.first_seen == datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert timed.last_seen == datetime(2020, 2, 3, tzinfo=UTC)
    assert timed.reference == f"{EVENT_UUID}/5f0c0e3a-0000-4000-8000-000000000002"


def test_object_times_apply_to_its_attributes(tmp_path: Path) -> None:
    objects = [
        {
            "name": "url",
            "first_seen": "2021-05-01T00:00:00+00:00",
            "Attribute": [
                attribute("url", "http://a.example/x", number=1),
                attribute(
                    "url",
                    "http://b.example/x",
                    number=2,
                    first_seen="2021-06-01T00:00:00Z",
                ),
            ],
        }
    ]
    first, second = load(tmp_path, {"Event": event([], objects)}).indicators
    assert first.first_seen == datetime(2021, 5, 1, tzinfo=UTC)
    assert first.last_seen == datetime(2020, 9, 13, 12, 26, 40, tzinfo=UTC)
    assert second.first_seen == datetime(2021, 6, 1, tzinfo=UTC)


def test_event_galaxy_tag_names_the_threat(tmp_path: Path) -> None:
    body = event(
        [attribute("domain", "evil.example")],
        Tag=[
            {"name": 'misp-galaxy:mitre-attack-pattern="Phishing - T1566"'},
            {"name": 'misp-galaxy:threat-actor="APT28"'},
        ],
    )
    (indicator,) = load(tmp_path, {"Event": body}).indicators
    assert indicator.threat == "APT28"


@pytest.mark.parametrize(
    ("level", "confidence"),
    [("1", 90), ("2", 70), ("3", 50), ("4", 50), (1, 90), (None, 50)],
)
def test_threat_level_sets_confidence(
    tmp_path: Path, level: Any, confidence: int
) -> None:
    body = event([attribute("domain", "evil.example")], threat_level_id=level)
    (indicator,) = load(tmp_path, {"Event": body}).indicators
    assert indicator.confidence == confidence


def test_caller_confidence_wins_over_threat_level(tmp_path: Path) -> None:
    body = event([attribute("domain", "evil.example")], threat_level_id="1")
    (indicator,) = load(tmp_path, {"Event": body}, confidence=33).indicators
    assert indicator.confidence == 33


def test_unpublished_events_are_loaded_and_tagged(tmp_path: Path) -> None:
    body = event([attribute("domain", "evil.example")], published=False)
    (indicator,) = load(tmp_path, {"Event": body}).indicators
    assert indicator.tags == ("tlp:green", "unpublished")


def test_bad_timestamps_are_counted(tmp_path: Path) -> None:
    attributes = [
        attribute("domain", "a.example", number=1, timestamp="soon"),
        attribute("domain", "b.example", number=2, first_seen="yesterday"),
    ]
    loaded = load(tmp_path, {"Event": event(attributes)})
    assert len(loaded.indicators) == 2
    assert loaded.bad_timestamps == 2
    assert loaded.indicators[0].first_seen is None


# --- file shapes ------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape",
    ["wrapped", "list", "response", "bare"],
)
def test_event_file_shapes(tmp_path: Path, shape: str) -> None:
    body = event([attribute("domain", "evil.example")])
    document = {
        "wrapped": {"Event": body},
        "list": [{"Event": body}, {"Event": {**body, "uuid": "second"}}],
        "response": {"response": [{"Event": body}]},
        "bare": {"Attribute": body["Attribute"], "uuid": EVENT_UUID, "info": "x"},
    }[shape]
    path = tmp_path / "event.json"
    path.write_bytes(msgspec.json.encode(document))
    assert sniff_format(path) == "misp_event"
    loaded = load_feed(path)
    expected = 2 if shape == "list" else 1
    assert values(loaded) == [("domain", "evil.example")] * expected


def test_json_of_another_shape_is_one_reject(tmp_path: Path) -> None:
    loaded = load(tmp_path, {"objects": []}, format="misp_event")
    assert loaded.indicators == []
    assert [(r.reason, r.raw) for r in loaded.rejects] == [
        ("not_misp_event", "event.json")
    ]
    path = tmp_path / "broken.json"
    path.write_text('{"Event": {"Attribute": [')
    with pytest.raises(InvalidIndicatorError, match="not valid JSON"):
        load_feed(path, format="misp_event")


# --- feed folders -----------------------------------------------------------------


def make_feed(folder: Path) -> list[str]:
    """A MISP feed folder: a manifest naming three events, one file missing."""
    folder.mkdir()
    names = [f"5f0c0e3a-0000-4000-8000-00000000000{n}" for n in range(1, 5)]
    manifest = {name: {"info": f"event {n}"} for n, name in enumerate(names)}
    (folder / "manifest.json").write_bytes(msgspec.json.encode(manifest))
    for number, name in enumerate(names[:2], 1):
        body = event(
            [attribute("domain", f"evil{number}.example", number=number)], uuid=name
        )
        (folder / f"{name}.json").write_bytes(msgspec.json.encode({"Event": body}))
    (folder / f"{names[2]}.json").write_text("{not json")
    (folder / "hashes.csv").write_text("")
    return names


def test_feed_folder_loads_as_one_feed(tmp_path: Path) -> None:
    folder = tmp_path / "circl-osint"
    names = make_feed(folder)
    assert sniff_format(folder) == "misp_feed"
    assert resolve_feed_paths([folder]) == [folder]
    assert resolve_feed_paths([str(tmp_path / "circl-*")]) == [folder]
    loaded = load_feed(folder)
    assert loaded.format == "misp_feed" and loaded.feed == "circl-osint"
    assert values(loaded) == [("domain", "evil1.example"), ("domain", "evil2.example")]
    assert loaded.indicators[1].reference == (
        f"{names[1]}/5f0c0e3a-0000-4000-8000-000000000002"
    )
    reasons = {r.location: r.reason for r in loaded.rejects}
    assert reasons == {
        f"circl-osint/{names[2]}.json": "malformed_record",
        f"circl-osint/manifest.json:{names[3]}": "missing_event",
    }


def test_feed_manifest_keys_cannot_leave_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "feed"
    folder.mkdir()
    (tmp_path / "secret.json").write_bytes(
        msgspec.json.encode({"Event": event([attribute("domain", "x.example")])})
    )
    (folder / "manifest.json").write_text('{"../secret": {}}')
    loaded = load_feed(folder)
    assert loaded.indicators == []
    assert [r.reason for r in loaded.rejects] == ["malformed_record"]


def test_feed_manifest_of_the_wrong_shape_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "feed"
    folder.mkdir()
    (folder / "manifest.json").write_text("[1, 2]")
    with pytest.raises(InvalidIndicatorError, match="not an object of event uuids"):
        load_feed(folder)
