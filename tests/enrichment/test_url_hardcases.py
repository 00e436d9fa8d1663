"""The URL, refang and extraction hard cases of ../shared/hardcases."""

from __future__ import annotations

from typing import Any

import pytest

from trustwatch.enrichment.urls import extract_urls, parse_url, refang
from trustwatch.errors import InvalidUrlError

Cases = dict[str, dict[str, Any]]


def test_url01_userinfo_is_kept_apart_from_host(hardcases: Cases) -> None:
    parsed = parse_url(hardcases["URL-01"]["input"])

    assert parsed.host == "bar.com"
    assert parsed.registrable_domain == "bar.com"
    assert parsed.userinfo == "foo"
    assert parsed.url == "http://bar.com/"
    assert "userinfo" in parsed.flags
    assert "deceptive_userinfo" not in parsed.flags
    assert parsed.extra_hosts == ()


def test_url01_domain_userinfo_in_front_of_ip_and_port() -> None:
    parsed = parse_url("http://www.test.edu.cn@8.8.8.8:51733/hn35/")

    assert parsed.host == "8.8.8.8"
    assert parsed.host_is_ip
    assert parsed.port == 51733
    assert parsed.registrable_domain == "8.8.8.8"
    assert parsed.url == "http://8.8.8.8:51733/hn35/"
    assert "deceptive_userinfo" in parsed.flags
    assert parsed.extra_hosts == ("www.test.edu.cn",)


def test_url01_host_shaped_userinfo_is_deceptive() -> None:
    parsed = parse_url("https://bank.example@evil.example/login")

    assert parsed.host == "evil.example"
    assert parsed.registrable_domain == "evil.example"
    assert {"userinfo", "deceptive_userinfo"} <= parsed.flags
    assert parsed.extra_hosts == ("bank.example",)


def test_url02_backslash_ends_the_authority(hardcases: Cases) -> None:
    parsed = parse_url(hardcases["URL-02"]["input"])

    assert parsed.host == "one.com"
    assert parsed.path == "/@two.com/path"
    assert parsed.userinfo is None
    assert parsed.extra_hosts == ("two.com",)
    assert {"backslash", "parser_differential"} <= parsed.flags


@pytest.mark.parametrize(
    "raw",
    [
        "https:\\www.attacker.com/a/b",
        "https:/www.attacker.com/a/b",
        "https:///www.attacker.com/a/b",
    ],
)
def test_url02_variants_reach_the_host_browsers_reach(raw: str) -> None:
    parsed = parse_url(raw)

    assert parsed.host == "www.attacker.com"
    assert parsed.path == "/a/b"
    assert parsed.url == "https://www.attacker.com/a/b"
    assert {"nonstandard_slashes", "parser_differential"} <= parsed.flags


def test_url05_percent_encoded_host_is_decoded_once(hardcases: Cases) -> None:
    parsed = parse_url(hardcases["URL-05"]["input"])

    assert parsed.host == "127.0.0.1"
    assert parsed.host_is_ip
    assert {"percent_encoded_host", "ip_host", "private_ip"} <= parsed.flags


@pytest.mark.parametrize(
    ("raw", "host"),
    [("https://%63url.se/", "curl.se"), ("https://example%2Ecom/", "example.com")],
)
def test_url05_variants_decode_to_the_real_host(raw: str, host: str) -> None:
    assert parse_url(raw).host == host


def test_url05_double_encoding_is_invalid() -> None:
    with pytest.raises(InvalidUrlError, match="forbidden character '%'"):
        parse_url("https://%2531%2532%2537.0.0.1/")


def test_url07_care_of_sign_is_an_invalid_host(hardcases: Cases) -> None:
    with pytest.raises(InvalidUrlError, match="forbidden character '/'"):
        parse_url(hardcases["URL-07"]["input"])


def test_url08_invisible_characters_are_removed_and_flagged(
    hardcases: Cases,
) -> None:
    raw = hardcases["URL-08"]["input"]
    parsed = parse_url(raw)

    assert "\u200b" in raw
    assert parsed.host == "evil.com"
    assert parsed.url == "http://evil.com/"
    assert "invisible_chars" in parsed.flags


def test_url10_trailing_root_dot_is_stripped(hardcases: Cases) -> None:
    parsed = parse_url(hardcases["URL-10"]["input"])

    assert parsed.host == "www.google.co.uk"
    assert parsed.registrable_domain == "google.co.uk"
    assert parsed.public_suffix == "co.uk"
    assert "trailing_dot" in parsed.flags
    assert parse_url("http://evil.example./").host == "evil.example"


def test_url11_port_is_removed_before_suffix_lookup(hardcases: Cases) -> None:
    parsed = parse_url(hardcases["URL-11"]["input"])

    assert parsed.host == "google.co.uk"
    assert parsed.registrable_domain == "google.co.uk"
    assert parsed.public_suffix == "co.uk"
    assert parsed.port == 8081
    assert parsed.query == "q=something"


def test_dom03_punycode_url_is_valid_both_ways(hardcases: Cases) -> None:
    parsed = parse_url(hardcases["DOM-03"]["input"])

    assert parsed.host == "xn--80ajjchqepikd1b.xn--80asehdb"
    assert parsed.host_unicode == "стройтехника.онлайн"
    assert parsed.public_suffix == "xn--80asehdb"
    assert parse_url("http://стройтехника.онлайн/bcnv8324").url == parsed.url
    assert "idn" in parsed.flags


@pytest.mark.parametrize(
    ("raw", "unicode_host"),
    [
        ("https://www.xn--bld-tna.com", "www.blöd.com"),
        ("http://xn--d1abbgf6aiiy.xn--p1ai/", "президент.рф"),
        (
            "http://r2---sn-huoa-cvhl.googlevideo.com/videoplayback",
            "r2---sn-huoa-cvhl.googlevideo.com",
        ),
    ],
)
def test_dom03_real_hosts_parse_leniently(raw: str, unicode_host: str) -> None:
    assert parse_url(raw).host_unicode == unicode_host


def test_feed07_extracts_every_defanged_url(hardcases: Cases) -> None:
    assert extract_urls(hardcases["FEED-07"]["input"]) == [
        "http://example1.com",
        "http://example2.com",
        "https://example3.com",
    ]


def test_feed07_variants() -> None:
    assert refang("hXXps[://]secure-login[.]xyz[/]drop[.]php") == (
        "https://secure-login.xyz/drop.php"
    )
    locky = parse_url("hxxp://185.17.120[.]130/imageload.cgi")
    assert locky.host == "185.17.120.130"
    assert "defanged" in locky.flags
    assert extract_urls("198.51.100[.]248") == []
    assert refang("198.51.100[.]248") == "198.51.100.248"
    assert extract_urls("tcp://example[.]com:8989/bad") == [
        "tcp://example.com:8989/bad"
    ]
    assert parse_url("tcp://example[.]com:8989/bad").scheme == "tcp"
