"""Defanged indicators in every common form, through every feed loader path."""

from __future__ import annotations

import csv
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trustwatch.enrichment.urls import extract_urls, parse_url, refang
from trustwatch.errors import InvalidIndicatorError
from trustwatch.intel import (
    IndicatorStore,
    IndicatorType,
    load_feed,
    normalize_indicator,
)
from trustwatch.intel._fastpath import (
    CANONICAL_IPV4,
    fast_canonical_url,
    is_plain_host,
)
from trustwatch.intel.indicators import SeveralValuesError

Cases = dict[str, dict[str, Any]]

#: (as a feed writes it, type, normal form). Hosts are documentation names
#: and addresses; nothing here is resolved or contacted.
DEFANGED: list[tuple[str, IndicatorType, str]] = [
    ("hxxp://evil.example/a", "url", "http://evil.example/a"),
    ("hXXp://evil.example/a", "url", "http://evil.example/a"),
    ("HXXPS://evil.example/a", "url", "https://evil.example/a"),
    ("hxxps://evil[.]example/a", "url", "https://evil.example/a"),
    ("http[:]//evil.example/a", "url", "http://evil.example/a"),
    ("http[://]evil.example/a", "url", "http://evil.example/a"),
    ("hxxp(://)evil(.)example/a", "url", "http://evil.example/a"),
    ("hxxp{://}evil{.}example/a", "url", "http://evil.example/a"),
    ("http:\\/\\/evil.example\\/a\\/b.php", "url", "http://evil.example/a/b.php"),
    ("hxxps[:]\\/\\/evil[.]example\\/a", "url", "https://evil.example/a"),
    ("http://evil.example[/]a", "url", "http://evil.example/a"),
    ("hXXps[://]drop[.]example[/]gate[.]php", "url", "https://drop.example/gate.php"),
    ("hxxp://evil[dot]example/a", "url", "http://evil.example/a"),
    ("hxxp://evil dot example/a", "url", "http://evil.example/a"),
    ("hxxp://evil.example[:]8080/a", "url", "http://evil.example:8080/a"),
    ("hxxp://203.0.113[.]7/bin.sh", "url", "http://203.0.113.7/bin.sh"),
    ("tcp://evil[.]example:8989/bad", "url", "tcp://evil.example:8989/bad"),
    ("evil[.]example/path", "url", "http://evil.example/path"),
    ("evil[.]example", "domain", "evil.example"),
    ("evil(.)example", "domain", "evil.example"),
    ("evil{.}example", "domain", "evil.example"),
    ("evil[dot]example", "domain", "evil.example"),
    ("evil(dot)example", "domain", "evil.example"),
    ("evil{dot}example", "domain", "evil.example"),
    ("evil(DOT)example", "domain", "evil.example"),
    ("evil [.] example", "domain", "evil.example"),
    ("evil dot example", "domain", "evil.example"),
    ("evil DoT example", "domain", "evil.example"),
    ("www[.]EVIL[.]example", "domain", "www.evil.example"),
    ("198.51.100[.]248", "ip", "198.51.100.248"),
    ("198[.]51[.]100[.]248", "ip", "198.51.100.248"),
    ("198.51.100(dot)248", "ip", "198.51.100.248"),
    ("198 . 51 . 100 . 248", "ip", "198.51.100.248"),
    ("2001:db8[:]:1", "ip", "2001:db8::1"),
    ("203.0.113[.]0/24", "cidr", "203.0.113.0/24"),
    ("203.0.113.0[/]24", "cidr", "203.0.113.0/24"),
]
URL_FORMS = [(text, value) for text, kind, value in DEFANGED if kind == "url"]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Make any name lookup or connection fail the test; yield what was tried."""
    attempts: list[str] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(repr(args[:1]))
        raise AssertionError("a feed load tried to resolve or connect")

    for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex"):
        monkeypatch.setattr(socket, name, refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield attempts


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _pairs(path: Path, fmt: str) -> list[tuple[str, str]]:
    load = load_feed(path, format=fmt)
    assert load.rejects == []
    return [(indicator.type, indicator.value) for indicator in load.indicators]


# --- the single-value entry point ---------------------------------------------


@pytest.mark.parametrize(("text", "kind", "value"), DEFANGED)
def test_normalize_indicator_refangs_every_form(
    text: str, kind: str, value: str
) -> None:
    assert normalize_indicator(text) == (
        kind,
        parse_url(value).url if kind == "url" else value,
    )


@pytest.mark.parametrize(("text", "kind", "value"), DEFANGED)
def test_forced_type_refangs_too(text: str, kind: IndicatorType, value: str) -> None:
    expected = parse_url(value).url if kind == "url" else value
    assert normalize_indicator(text, kind) == (kind, expected)


def test_refang_handles_json_escaped_slashes_and_spaced_dot_words() -> None:
    assert refang("hxxp:\\/\\/evil dot example\\/a") == "http://evil.example/a"
    assert refang('{"u": "http:\\/\\/a.example\\/x"}') == '{"u": "http://a.example/x"}'
    # An escaped slash outside a URL written with ':\/\/' stays as written.
    assert refang("a\\/b") == "a\\/b"


def test_defanging_inside_a_clean_urls_query_is_kept() -> None:
    text = "http://evil.example/search?q=a[.]b"
    assert normalize_indicator(text) == ("url", "http://evil.example/search?q=a[.]b")


# --- every loader path -----------------------------------------------------------


def test_plain_feed_refangs_every_form(tmp_path: Path, no_network: list[str]) -> None:
    feed = _write(tmp_path / "iocs.txt", "\n".join(t for t, _, _ in DEFANGED) + "\n")
    expected = [
        (kind, parse_url(value).url if kind == "url" else value)
        for _, kind, value in DEFANGED
    ]
    assert _pairs(feed, "plain") == expected
    assert no_network == []


def test_urlhaus_csv_url_column_refangs(tmp_path: Path, no_network: list[str]) -> None:
    feed = tmp_path / "urlhaus.csv"
    with feed.open("w", newline="", encoding="utf-8") as handle:
        handle.write("# id,dateadded,url,url_status,last_online,threat,tags,")
        handle.write("urlhaus_link,reporter\n")
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL)
        for row_id, (text, _) in enumerate(URL_FORMS, 1):
            when = "2025-04-21 12:00:00"
            link = f"https://urlhaus.example/url/{row_id}/"
            writer.writerow(
                [
                    row_id,
                    when,
                    text,
                    "online",
                    when,
                    "malware_download",
                    "elf",
                    link,
                    "tester",
                ]
            )
    assert _pairs(feed, "urlhaus_csv") == [
        ("url", parse_url(value).url) for _, value in URL_FORMS
    ]
    assert no_network == []


def test_phishtank_csv_and_json_url_fields_refang(tmp_path: Path) -> None:
    header = "phish_id,url,phish_detail_url,submission_time,verified,"
    header += "verification_time,online,target\n"
    rows = [
        f'{n},"{text}",http://www.phishtank.example/{n},2020-04-24T00:56:58+00:00,'
        f"yes,2020-04-24T11:30:30+00:00,yes,Other"
        for n, (text, _) in enumerate(URL_FORMS, 1)
    ]
    table = _write(tmp_path / "online-valid.csv", header + "\n".join(rows) + "\n")
    expected = [("url", parse_url(value).url) for _, value in URL_FORMS]
    assert _pairs(table, "phishtank_csv") == expected
    records = [{"phish_id": n, "url": text} for n, (text, _) in enumerate(URL_FORMS, 1)]
    listing = _write(tmp_path / "online-valid.json", json.dumps(records))
    assert _pairs(listing, "phishtank_json") == expected


def test_urlhaus_json_and_openphish_refang(tmp_path: Path) -> None:
    expected = [("url", parse_url(value).url) for _, value in URL_FORMS]
    dump = {str(n): [{"url": text}] for n, (text, _) in enumerate(URL_FORMS, 1)}
    assert _pairs(_write(tmp_path / "u.json", json.dumps(dump)), "urlhaus_json") == (
        expected
    )
    lines = "\n".join(text for text, _ in URL_FORMS) + "\n"
    assert _pairs(_write(tmp_path / "feed.txt", lines), "openphish_txt") == expected


def test_hash_list_reads_digests_and_cuts_defanged_urls_from_comments(
    tmp_path: Path,
) -> None:
    digest = "44D88612FEA8A8F36DE82E1278ABB02F"
    lines = [
        f"{digest};Loader fetched from hxxp[://]drop[.]example/a.exe",
        f"SHA1:{'AB' * 20};Dropper http[:]//drop.example/b",
        f"{'cd' * 32};Beacon HXXPS://evil[.]example/c",
    ]
    load = load_feed(
        _write(tmp_path / "hash-iocs.txt", "\n".join(lines)), format="hashlist"
    )
    assert load.rejects == []
    assert [(i.type, i.value, i.threat) for i in load.indicators] == [
        ("md5", digest.lower(), "Loader fetched from"),
        ("sha1", "ab" * 20, "Dropper"),
        ("sha256", "cd" * 32, "Beacon"),
    ]


def test_defanged_feed_matches_refanged_observations(tmp_path: Path) -> None:
    feed = _write(
        tmp_path / "iocs.txt",
        "evil(dot)example\nhxxp://drop[.]example/a.exe\n203.0.113[.]9\n"
        "198.51.100.0[/]24\n",
    )
    store = IndicatorStore(load_feed(feed, format="plain").indicators)
    assert [m.matched_on for m in store.match_host("www.evil.example")] == ["domain"]
    matched = store.match_url(parse_url("http://drop.example/a.exe"))
    assert [m.matched_on for m in matched] == ["url"]
    assert [m.matched_on for m in store.match_ip("203.0.113.9")] == ["ip"]
    assert [m.matched_on for m in store.match_ip("198.51.100.77")] == ["cidr"]


# --- several values on one line ---------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "a.example b.example",
        "0.0.0.0 evil.example",  # a hosts-file line
        "hxxp://a[.]example/x hxxp://b[.]example/y",
        "evil.example\t203.0.113.4",
    ],
)
def test_several_values_on_one_line_is_one_reject(tmp_path: Path, line: str) -> None:
    load = load_feed(_write(tmp_path / "list.txt", line + "\n"), format="plain")
    assert load.indicators == []
    [reject] = load.rejects
    assert (reject.location, reject.reason) == ("list.txt:1", "several_values")
    assert "hint:" in reject.message
    with pytest.raises(SeveralValuesError):
        normalize_indicator(line)


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("evil [.] example", "domain"),
        ("hxxp://evil dot example/a", "url"),
        ("http://evil.example/a b c", "url"),  # spaces in a path: one URL
    ],
)
def test_spaced_defanging_and_url_spaces_stay_one_value(line: str, kind: str) -> None:
    assert normalize_indicator(line)[0] == kind


def test_words_that_are_not_values_stay_invalid_values(tmp_path: Path) -> None:
    load = load_feed(_write(tmp_path / "list.txt", "not a value\n"), format="plain")
    assert [r.reason for r in load.rejects] == ["invalid_value"]
    with pytest.raises(InvalidIndicatorError) as caught:
        normalize_indicator("not a value")
    assert not isinstance(caught.value, SeveralValuesError)


# --- hard case FEED-07 -----------------------------------------------------------


def _feed07_urls(case: dict[str, Any]) -> list[str]:
    """The three URLs the case expects, read from its text."""
    listed = re.search(r"Three URLs: (.*?)\. Variants", case["expected"])
    assert listed is not None
    return listed.group(1).split(", ")


def test_feed07_one_value_per_line_gives_three_urls(
    tmp_path: Path, hardcases: Cases, no_network: list[str]
) -> None:
    case = hardcases["FEED-07"]
    lines = case["input"].split()
    feed = _write(tmp_path / "feed07.txt", "\n".join(lines) + "\n")
    assert _pairs(feed, "plain") == [
        ("url", parse_url(url).url) for url in _feed07_urls(case)
    ]
    assert no_network == []


def test_feed07_on_one_line_is_one_reject_and_free_text_gives_three(
    tmp_path: Path, hardcases: Cases
) -> None:
    case = hardcases["FEED-07"]
    load = load_feed(
        _write(tmp_path / "feed07.txt", case["input"] + "\n"), format="plain"
    )
    assert load.indicators == []
    assert [(r.reason, r.raw) for r in load.rejects] == [
        ("several_values", case["input"])
    ]
    found = [normalize_indicator(url) for url in extract_urls(case["input"])]
    assert found == [("url", parse_url(url).url) for url in _feed07_urls(case)]


def test_feed07_variants(tmp_path: Path, hardcases: Cases) -> None:
    expected = hardcases["FEED-07"]["expected"]
    login, locky, address, tcp = re.findall(r"'([^']+)'", expected)
    https = re.search(r"-> (https://\S+)", expected)
    stored_ip = re.search(r"stored IP ([0-9.]+);", expected)
    assert https is not None and stored_ip is not None

    assert normalize_indicator(login) == ("url", parse_url(https.group(1)).url)
    scheme, separator, rest = login.partition("[://]")
    assert normalize_indicator(scheme.swapcase() + separator + rest) == (
        normalize_indicator(login)
    )

    feed = _write(tmp_path / "variants.txt", f"{locky}\n{address}\n{tcp}\n")
    load = load_feed(feed, format="plain")
    assert load.rejects == []
    kinds = [(indicator.type, indicator.value) for indicator in load.indicators]
    assert kinds[1] == ("ip", refang(address))
    assert [kind for kind, _ in kinds].count("url") == 2  # the IP gave no URL
    assert kinds[2][1].startswith("tcp://")

    store = IndicatorStore(
        [load_feed(_write(tmp_path / "ip.txt", stored_ip.group(1))).indicators[0]]
    )
    matches = store.match_url(parse_url(kinds[0][1]))
    assert [(m.matched_on, m.indicator.value) for m in matches] == [
        ("ip", stored_ip.group(1))
    ]


# --- the URL fast path's host check -------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet="abxn019-.", min_size=1, max_size=16),
    st.sampled_from(["", ":8080", ":80", ":0", ":65536"]),
)
def test_fast_url_host_check_agrees_with_plain_host_and_parse_url(
    host: str, port: str
) -> None:
    url = f"http://{host}{port}/a.php?id=1"
    fast = fast_canonical_url(url)
    if fast is not None:
        assert fast == parse_url(url).url
    host_ok = is_plain_host(host) or CANONICAL_IPV4.fullmatch(host) is not None
    port_ok = port in ("", ":8080")
    assert (fast is not None) == (host_ok and port_ok)


@pytest.mark.parametrize(
    ("host", "taken"),
    [
        ("a." * 508 + "example", True),  # 1,023 characters: a host still
        ("a." * 509 + "example", False),
        ("xn--80ak6aa92e.com", False),
        ("203.0.113.5", True),
        ("203.0.113.05", False),
        ("evil.example1", False),
    ],
)
def test_fast_url_host_limits(host: str, taken: bool) -> None:
    url = f"https://{host}/x"
    assert (fast_canonical_url(url) == url) is taken
