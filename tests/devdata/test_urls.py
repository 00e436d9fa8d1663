"""URL choice: hosts as a browser reads them, and the three kinds kept apart."""

from __future__ import annotations

from random import Random

import pytest

from trustwatch.devdata.urls import UrlFeed, choose_urls, host_key
from trustwatch.enrichment import parse_url


@pytest.mark.parametrize(
    "raw",
    [
        "HTTP://Shop.Example:8080/x",
        "http://evil.example\\@good.example/",
        "http://user@host.example/path",
        "http://3232235777/",
        "http://xn--80ak6aa92e.com/",
        "http://аррӏе.com/",
        "www.example.com/path",
        "http://host.example./",
        "http://%77ww.example/",
    ],
)
def test_host_key_agrees_with_the_url_parser(raw: str) -> None:
    assert host_key(raw) == parse_url(raw).host


def test_host_key_of_a_non_url_is_none() -> None:
    assert host_key("not a url at all") is None


def _feed(name: str, urls: list[str]) -> UrlFeed:
    feed = UrlFeed(name)
    for url in urls:
        feed.add(url)
    return feed


def test_choose_urls_keeps_unlisted_and_benign_hosts_out_of_the_feeds() -> None:
    feeds = {
        "urlhaus": _feed("u", ["http://198.51.100.7/bin.sh", "http://bad.example/a"]),
        "phishtank_2021": _feed("p21", ["https://phish.example/login"]),
        "phishtank_2020": _feed(
            "p20", ["https://phish.example/old", "https://gone.example/x"]
        ),
        "openphish": _feed("op", ["https://kit.example/", "https://bad.example/b"]),
        "benign": _feed(
            "b",
            [
                "https://docs.example/a",
                "https://kit.example/ok",
                "http://bad.example/c",
            ],
        ),
    }
    picks = choose_urls(feeds, Random(3), malicious=4, benign=3)
    by_status = {
        s: {p.url for p in picks if p.status == s}
        for s in ("listed", "unlisted", "benign")
    }
    assert by_status["unlisted"] == {"https://gone.example/x", "https://kit.example/"}
    assert by_status["benign"] == {"https://docs.example/a"}
    assert len(by_status["listed"]) == 2


def test_overlong_urls_block_their_host_but_are_never_chosen() -> None:
    long = "https://long.example/" + "a" * 600
    feed = _feed("u", [long])
    assert feed.urls == []
    assert "long.example" in feed.hosts
