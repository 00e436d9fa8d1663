"""Wildcard domains: ``*.x.example`` matches subdomains, ``*.com`` is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from trustwatch.enrichment.urls import parse_url
from trustwatch.errors import InvalidIndicatorError
from trustwatch.intel import IndicatorStore, load_feed
from trustwatch.intel.allowlists import AllowList, WarningList
from trustwatch.intel.feeds import FeedLoad
from trustwatch.intel.indicators import (
    WILDCARD_TAG,
    RefusedIndicatorError,
    indicator_from_text,
    normalize_indicator,
)
from trustwatch.intel.stix import load_stix_objects

STAMP = "2025-01-01T00:00:00.000Z"
URLHAUS_HEAD = (
    "# abuse.ch URLhaus Database Dump (CSV - online URLs only)\n"
    "# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n"
)


def reasons(load: FeedLoad) -> list[tuple[str, str]]:
    """Return each reject's location and reason."""
    return [(reject.location, reject.reason) for reject in load.rejects]


@pytest.mark.parametrize("kind", [None, "domain"])
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("*.wild.example", "*.wild.example"),
        ("*.WILD[.]example", "*.wild.example"),
        ("*.bücher.example", "*.xn--bcher-kva.example"),
    ],
)
def test_a_wildcard_domain_keeps_its_star(text: str, value: str, kind: Any) -> None:
    assert normalize_indicator(text, kind) == ("domain", value)


@pytest.mark.parametrize("kind", [None, "domain"])
@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a.*.wild.example", "wildcard"),
        ("*.*.wild.example", "wildcard"),
        ("*", "wildcard"),
        ("*.com", "too_broad"),
        ("*.co.uk", "too_broad"),
        ("*.github.io", "too_broad"),
    ],
)
def test_a_catch_all_or_misplaced_wildcard_is_refused(
    text: str, reason: str, kind: Any
) -> None:
    with pytest.raises(RefusedIndicatorError, match="hint:") as caught:
        normalize_indicator(text, kind)
    assert caught.value.reason == reason


def test_a_wildcard_matches_subdomains_only() -> None:
    wild = indicator_from_text("*.wild.example", "f")
    store = IndicatorStore([wild, indicator_from_text("plain.example", "g")])
    for host in ("a.wild.example", "a.b.wild.example", "A.Wild.Example"):
        [match] = store.match_host(host)
        assert (match.indicator.value, match.matched_on) == ("*.wild.example", "domain")
    for host in ("wild.example", "otherwild.example", "wild.example.evil", "x.com"):
        assert store.match_host(host) == []
    [match] = store.match_url(parse_url("https://login.wild.example/a"))
    assert match.indicator is wild
    assert store.match_url(parse_url("https://wild.example/a")) == []
    assert [m.indicator.value for m in store.match_host("a.plain.example")] == [
        "plain.example"
    ]


def test_a_wildcard_under_a_private_suffix_and_next_to_its_domain() -> None:
    store = IndicatorStore(
        [
            indicator_from_text("*.evil.github.io", "f"),
            indicator_from_text("evil.example", "f"),
            indicator_from_text("*.evil.example", "g"),
        ]
    )
    assert [m.indicator.value for m in store.match_host("x.evil.github.io")] == [
        "*.evil.github.io"
    ]
    assert store.match_host("evil.github.io") == []
    assert store.match_host("other.github.io") == []
    assert [m.indicator.value for m in store.match_host("a.evil.example")] == [
        "evil.example",
        "*.evil.example",
    ]
    assert [m.indicator.value for m in store.match_host("evil.example")] == [
        "evil.example"
    ]


@pytest.mark.parametrize(
    ("text", "reason"),
    [("http://*.wild.example/x", "wildcard"), ("https://*.com/", "too_broad")],
)
def test_a_url_on_a_wildcard_host_is_refused(text: str, reason: str) -> None:
    for kind in (None, "url"):
        with pytest.raises(RefusedIndicatorError) as caught:
            normalize_indicator(text, kind)  # type: ignore[arg-type]
        assert caught.value.reason == reason


def test_a_star_elsewhere_is_no_wildcard() -> None:
    assert normalize_indicator("http://ok.example/a*b") == (
        "url",
        "http://ok.example/a*b",
    )
    assert normalize_indicator("wild.example") == ("domain", "wild.example")
    with pytest.raises(InvalidIndicatorError):
        normalize_indicator("*")


def test_plain_list_reads_wildcards(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text("good.example\n*.wild.example\n*.co.uk\na.*.example\n")
    load = load_feed(path, format="plain")
    assert [(i.value, i.tags) for i in load.indicators] == [
        ("good.example", ()),
        ("*.wild.example", (WILDCARD_TAG,)),
    ]
    assert reasons(load) == [("list.txt:3", "too_broad"), ("list.txt:4", "wildcard")]
    assert IndicatorStore(load.indicators).match_host("sub.wild.example")


def test_urlhaus_csv_rejects_a_url_on_a_wildcard_host(tmp_path: Path) -> None:
    row = (
        '"{n}","2025-04-21 12:35:06","{url}","online","",'
        '"malware_download","elf","https://urlhaus.example/{n}/","r"\n'
    )
    path = tmp_path / "u.csv"
    path.write_text(
        URLHAUS_HEAD
        + row.format(n=1, url="http://*.wild.example/bin.sh")
        + row.format(n=2, url="http://ok.example/bin.sh")
        + row.format(n=3, url="http://*.com/bin.sh")
    )
    load = load_feed(path, format="urlhaus_csv")
    assert [i.value for i in load.indicators] == ["http://ok.example/bin.sh"]
    assert [r.reason for r in load.rejects] == ["wildcard", "too_broad"]
    assert "'*.wild.example'" in load.rejects[0].message
    assert all(r.location.startswith("u.csv:") for r in load.rejects)


def test_misp_domain_and_hostname_attributes_read_wildcards(tmp_path: Path) -> None:
    values = [("domain", "*.wild.example"), ("hostname", "*.com")]
    values += [("hostname", "a.*.example"), ("domain", "evil.example")]
    attributes = [
        {
            "uuid": f"5f0c0e3a-0000-4000-8000-{number:012d}",
            "type": kind,
            "category": "Network activity",
            "value": value,
            "to_ids": True,
        }
        for number, (kind, value) in enumerate(values, 1)
    ]
    path = tmp_path / "event.json"
    path.write_bytes(
        msgspec.json.encode({"Event": {"uuid": "e1", "Attribute": attributes}})
    )
    load = load_feed(path, format="misp_event")
    assert [i.value for i in load.indicators] == ["*.wild.example", "evil.example"]
    assert WILDCARD_TAG in load.indicators[0].tags
    assert [r.reason for r in load.rejects] == ["too_broad", "wildcard"]


def test_stix_domain_name_patterns_read_wildcards() -> None:
    def indicator(number: int, value: str) -> dict[str, Any]:
        return {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--00000000-0000-4000-8000-{number:012d}",
            "created": STAMP,
            "modified": STAMP,
            "pattern": f"[domain-name:value = '{value}']",
            "pattern_type": "stix",
            "valid_from": STAMP,
            "indicator_types": ["malicious-activity"],
        }

    loaded = load_stix_objects(
        [
            indicator(1, "*.wild.example"),
            indicator(2, "*.github.io"),
            indicator(3, "evil.example"),
        ],
        feed="intel",
        location="b.json",
    )
    assert [(i.value, i.tags) for i in loaded.indicators] == [
        ("*.wild.example", ("malicious-activity", WILDCARD_TAG)),
        ("evil.example", ("malicious-activity",)),
    ]
    assert [r.reason for r in loaded.rejects] == ["too_broad"]
    assert loaded.rejects[0].location.startswith("b.json:indicator--")


def test_an_allow_listed_domain_drops_its_wildcard() -> None:
    allow = AllowList(
        [
            WarningList(
                name="top",
                type="hostname",
                entries=["google.example"],
                matching_attributes=[],
            )
        ]
    )
    wild = indicator_from_text("*.google.example", "f")
    assert allow.reason(wild) == "top"
    store = IndicatorStore([indicator_from_text("*.evil.example", "f")])
    assert store.set_allowlist(allow) == 0
    assert store.match_host("a.evil.example")
