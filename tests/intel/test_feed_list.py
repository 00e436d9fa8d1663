"""The TOML feed list: every key validated, errors naming the feed and the key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from trustwatch.errors import ConfigError
from trustwatch.intel.feedlist import (
    DEFAULT_MAX_BYTES,
    load_feed_list,
    parse_duration,
    parse_feed_list,
    redact_url,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "feeds.toml"


def test_the_example_feed_list_is_valid_and_uses_no_real_hosts() -> None:
    feeds = load_feed_list(EXAMPLE)
    assert [feed.name for feed in feeds] == [
        "urlhaus-recent",
        "phishtank",
        "malware-hashes",
        "team-blocklist",
        "sharing-group",
        "old-list",
    ]
    kinds = {feed.name: feed.source_kind for feed in feeds}
    assert kinds["urlhaus-recent"] == "url"
    assert kinds["malware-hashes"] == "path"
    assert kinds["sharing-group"] == "taxii"
    for feed in feeds:
        host = feed.url or (feed.taxii.url if feed.taxii else "")
        assert host == "" or "127.0.0.1" in host or ".example/" in host
    relative = feeds.get("malware-hashes").path
    assert relative == EXAMPLE.parent / "intel" / "hashes" / "*.txt"
    assert not feeds.get("old-list").enabled


def test_keys_get_their_types_and_defaults() -> None:
    feeds = parse_feed_list(
        """
        [[feeds]]
        name = "a"
        url = "https://feeds.example/a.csv"
        format = "urlhaus_csv"
        every = "15m"
        confidence = 90
        expires = "7d"
        threat = "malware_download"
        tags = ["x", "y"]

        [[feeds]]
        name = "b.c_d-e"
        taxii = { url = "http://127.0.0.1:5000/api1/", collection = "c1" }
        """
    )
    first, second = feeds.feeds
    assert first.every == timedelta(minutes=15)
    assert first.expires == timedelta(days=7)
    assert first.confidence == 90
    assert first.tags == ("x", "y")
    assert first.mode == "snapshot"
    assert first.max_bytes == DEFAULT_MAX_BYTES
    assert first.proxy is None
    assert second.mode == "incremental"  # TAXII polls add; expiry removes
    assert second.taxii is not None and second.taxii.collection == "c1"
    assert second.every == timedelta(hours=1)
    assert second.expires is None


def test_fingerprint_changes_with_meaning_not_with_schedule() -> None:
    def one(extra: str) -> str:
        text = f'[[feeds]]\nname = "a"\nurl = "http://127.0.0.1/a"\n{extra}'
        return parse_feed_list(text).feeds[0].fingerprint()

    assert one('every = "5m"') == one('every = "1h"')
    assert one("confidence = 10") != one("confidence = 20")
    assert one('format = "plain"') != one('format = "hashlist"')


@pytest.mark.parametrize(
    ("text", "expected"),
    [("90s", 90), ("15m", 900), ("6h", 21600), ("1d", 86400), (" 2w ", 1209600)],
)
def test_durations(text: str, expected: int) -> None:
    assert parse_duration(text) == timedelta(seconds=expected)


@pytest.mark.parametrize("text", ["0m", "15", "m", "1.5h", "-1d", "1y", ""])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="hint:"):
        parse_duration(text)


BAD_FEEDS = [
    ('name = "Bad Name"\nurl = "http://127.0.0.1/a"', "feed #1 key 'name'"),
    ('name = "a"', "feed 'a' key 'url': a feed needs exactly one source"),
    (
        'name = "a"\nurl = "http://127.0.0.1/a"\npath = "x.txt"',
        "feed 'a' key 'path': a feed needs exactly one source, it has url, path",
    ),
    ('name = "a"\nurl = "ftp://127.0.0.1/a"', "feed 'a' key 'url'"),
    ('name = "a"\nurl = "http://u:s3cretpw@127.0.0.1/a"', "holds a password"),
    ('name = "a"\nurl = "http://127.0.0.1/a"\nformat = "csv"', "key 'format'"),
    ('name = "a"\nurl = "http://127.0.0.1/a"\nconfidence = 101', "key 'confidence'"),
    ('name = "a"\nurl = "http://127.0.0.1/a"\nconfidence = "high"', "'confidence'"),
    ('name = "a"\nurl = "http://127.0.0.1/a"\nevery = "often"', "key 'every'"),
    ('name = "a"\nurl = "http://127.0.0.1/a"\nexpires = 7', "key 'expires'"),
    ('name = "a"\nurl = "http://127.0.0.1/a"\nmode = "mirror"', "key 'mode'"),
    ('name = "a"\nurl = "http://127.0.0.1/a"\nenabled = "yes"', "key 'enabled'"),
    ('name = "a"\nurl = "http://127.0.0.1/a"\ntags = "x"', "key 'tags'"),
    ('name = "a"\nurl = "http://127.0.0.1/a"\nschedule = "1h"', "key 'schedule'"),
    ('name = "a"\nurl = "http://127.0.0.1/a"\ntimeout = 0', "key 'timeout'"),
    ('name = "a"\nurl = "http://127.0.0.1/a"\nretries = 50', "key 'retries'"),
    (
        'name = "a"\nurl = "http://127.0.0.1/a"\nheaders_env = { Auth-Key = "x y" }',
        "key 'headers_env.Auth-Key'",
    ),
    (
        'name = "a"\ntaxii = { url = "http://127.0.0.1/api/", collection = "c", '
        'password = "hunter2" }',
        "key 'taxii.password': unknown key",
    ),
    ('name = "a"\ntaxii = { url = "http://127.0.0.1/api/" }', "'taxii.collection'"),
    (
        'name = "a"\ntaxii = { url = "http://127.0.0.1/api/", collection = "c" }\n'
        'format = "plain"',
        "a TAXII feed is STIX",
    ),
    (
        'name = "a"\ntaxii = { url = "http://127.0.0.1/", collection = "c", '
        'username_env = "not a name" }',
        "key 'taxii.username_env'",
    ),
]


@pytest.mark.parametrize(("body", "expected"), BAD_FEEDS)
def test_invalid_feeds_name_the_feed_and_the_key(body: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_feed_list(f"[[feeds]]\n{body}\n", origin="feeds.toml")
    message = str(caught.value)
    assert expected in message
    assert message.startswith("feed list feeds.toml: ")
    assert "hint:" in message
    assert "hunter2" not in message and "s3cretpw" not in message


def test_duplicate_names_are_refused() -> None:
    text = '[[feeds]]\nname = "a"\npath = "x"\n[[feeds]]\nname = "a"\npath = "y"\n'
    with pytest.raises(ConfigError, match="feed 'a' key 'name': the name is used"):
        parse_feed_list(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[feeds]\n", "not valid TOML"),
        ("feeds = 3\n", "array of tables"),
        ('[settings]\nx = 1\n[[feeds]]\nname = "a"\npath = "x"\n', "'settings'"),
    ],
)
def test_documents_of_the_wrong_shape_are_refused(text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        parse_feed_list(text)


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read feed list"):
        load_feed_list(tmp_path / "absent.toml")


def test_an_empty_list_is_refused_and_unknown_names_are_reported() -> None:
    with pytest.raises(ConfigError, match="has no feeds; hint: add a"):
        parse_feed_list("")
    feeds = parse_feed_list('[[feeds]]\nname = "a"\nurl = "https://f.example/a"\n')
    with pytest.raises(ConfigError, match="no feed named 'x'"):
        feeds.get("x")


def test_deadline_defaults_to_ten_timeouts_and_is_checked() -> None:
    base = '[[feeds]]\nname = "a"\nurl = "https://f.example/a"\ntimeout = 3\n'
    assert parse_feed_list(base).get("a").deadline == 30.0
    assert parse_feed_list(base + "deadline = 7\n").get("a").deadline == 7.0
    with pytest.raises(ConfigError, match="'deadline'"):
        parse_feed_list(base + "deadline = 0\n")


def test_timeout_and_deadline_take_durations_as_other_keys_do() -> None:
    base = '[[feeds]]\nname = "a"\nurl = "https://f.example/a"\n'
    feed = parse_feed_list(base + 'timeout = "6s"\ndeadline = "2m"\n').get("a")
    assert (feed.timeout, feed.deadline) == (6.0, 120.0)
    with pytest.raises(
        ConfigError, match="'deadline': '2 weeks' is not a whole, positive number"
    ):
        parse_feed_list(base + 'deadline = "2 weeks"\n')
    with pytest.raises(ConfigError, match=r"'timeout': 7200.0 is outside"):
        parse_feed_list(base + 'timeout = "2h"\n')


CREDENTIALS = [
    'url = "http://feeds.example/a"\nheaders_env = { Auth-Key = "FEED_KEY" }',
    # a proxy reads a plain http request whole, the loopback target's too
    'url = "http://localhost/a"\nproxy = "http://proxy.example:3128"\n'
    'headers_env = { Auth-Key = "FEED_KEY" }',
    'taxii = { url = "http://taxii.example/api/", collection = "c", '
    'username_env = "U", password_env = "P" }',
    'taxii = { url = "https://taxii.example/api/", collection = "c", '
    'password_env = "P", verify_tls = false }',
]


@pytest.mark.parametrize("source", CREDENTIALS)
def test_credentials_never_cross_the_network_unprotected(source: str) -> None:
    text = f'[[feeds]]\nname = "a"\n{source}\n'
    with pytest.raises(ConfigError, match="credentials") as caught:
        parse_feed_list(text)
    assert "insecure_http = true" in str(caught.value)
    # said on purpose, it is allowed
    assert parse_feed_list(text + "insecure_http = true\n").get("a").name == "a"


@pytest.mark.parametrize(
    "source",
    [
        'url = "http://127.0.0.1:8080/a"\nheaders_env = { Auth-Key = "K" }',
        'url = "http://localhost/a"\nheaders_env = { Auth-Key = "K" }',
        'taxii = { url = "http://[::1]/api/", collection = "c", password_env = "P" }',
        'url = "https://feeds.example/a"\nheaders_env = { Auth-Key = "K" }',
        'url = "http://feeds.example/a"',  # nothing secret is sent
    ],
)
def test_loopback_https_and_credential_free_feeds_are_fine(source: str) -> None:
    assert parse_feed_list(f'[[feeds]]\nname = "a"\n{source}\n').get("a")


@pytest.mark.parametrize("header", ["Bad Header:", "X-Key\\r\\n", "", "a/b"])
def test_header_names_must_be_tokens(header: str) -> None:
    text = (
        '[[feeds]]\nname = "a"\nurl = "https://f.example/a"\n'
        f'headers_env = {{"{header}" = "API_KEY"}}\n'
    )
    with pytest.raises(
        ConfigError, match=r"feed 'a' key 'headers_env.*not a valid header"
    ):
        parse_feed_list(text)


def test_urls_are_shown_without_credentials_or_query() -> None:
    assert (
        redact_url("https://user:pw@feeds.example:8443/a.csv?key=s3cret#x")
        == "https://feeds.example:8443/a.csv"
    )
    feeds = parse_feed_list(
        '[[feeds]]\nname = "a"\nurl = "https://feeds.example/a?auth=s3cret"\n'
    )
    assert "s3cret" not in feeds.feeds[0].source


def test_a_loopback_proxy_or_an_https_target_keeps_credentials_safe() -> None:
    for source in (
        'url = "http://localhost./a"\nproxy = "http://127.0.0.1:3128"',
        'url = "https://feeds.example/a"\nproxy = "http://proxy.example:3128"',
    ):
        text = f'[[feeds]]\nname = "a"\n{source}\nheaders_env = {{ K = "V" }}\n'
        assert parse_feed_list(text).get("a").name == "a"


@pytest.mark.parametrize("key", ['headers_env = { K = "V" }', 'proxy = "http://p:1"'])
def test_a_taxii_feed_refuses_what_its_polls_do_not_use(key: str) -> None:
    text = (
        '[[feeds]]\nname = "a"\n'
        'taxii = { url = "https://taxii.example/api/", collection = "c" }\n'
        f"{key}\n"
    )
    with pytest.raises(ConfigError, match="a TAXII feed does not use it"):
        parse_feed_list(text)
