"""parse_url, refang and extract_urls: behaviour beyond the hard cases."""

from __future__ import annotations

import urllib.parse

import pytest

from trustwatch.enrichment import urls
from trustwatch.enrichment.urls import ParsedUrl, extract_urls, parse_url, refang
from trustwatch.errors import InvalidUrlError

# ------------------------------------------------------------------ refang


@pytest.mark.parametrize(
    ("defanged", "plain"),
    [
        ("hxxp://evil.example/", "http://evil.example/"),
        ("HXXPS://evil.example/", "https://evil.example/"),
        ("h**p://evil.example/", "http://evil.example/"),
        ("h**ps://evil.example/", "https://evil.example/"),
        ("h__p://evil.example/", "http://evil.example/"),
        ("H__PS://evil.example/", "https://evil.example/"),
        ("hXXp://evil.example/", "http://evil.example/"),
        ("hxxps[:]//evil.example/", "https://evil.example/"),
        ("fxp://evil.example/", "ftp://evil.example/"),
        ("FXP://evil.example/", "ftp://evil.example/"),
        ("fxps://evil.example/", "ftps://evil.example/"),
        ("see h__p[://]evil[.]example", "see http://evil.example"),
        ("evil[.]example", "evil.example"),
        ("evil(.)example", "evil.example"),
        ("evil{.}example", "evil.example"),
        ("evil[dot]example", "evil.example"),
        ("evil(DOT)example", "evil.example"),
        ("evil [.] example", "evil.example"),
        ("evil[ . ]example", "evil.example"),
        ("evil . example", "evil.example"),
        ("http[:]//evil.example", "http://evil.example"),
        ("http[://]evil.example", "http://evil.example"),
        ("http(:)//evil.example", "http://evil.example"),
        ("http://evil.example[/]a", "http://evil.example/a"),
        ("user[@]evil.example", "user@evil.example"),
        ("user[at]evil.example", "user@evil.example"),
    ],
)
def test_refang_undoes_common_forms(defanged: str, plain: str) -> None:
    assert refang(defanged) == plain


@pytest.mark.parametrize(
    "text",
    [
        "https://en.wikipedia.org/wiki/Foo_(bar)",
        "look (at) this. Then stop.",
        "http://[2001:db8::1]/",
        "a.b. c",
        # brackets that do not close each other are no defanging
        "a(/]",
        "a[.)b",
        "a{dot]b",
        "u(@]h",
        "x(://}y",
    ],
)
def test_refang_leaves_ordinary_text_alone(text: str) -> None:
    assert refang(text) == text


@pytest.mark.parametrize("raw", ["http://a(\\]", "http://(\\]", "http://a(/]"])
def test_a_url_with_unmatched_brackets_parses_to_itself(raw: str) -> None:
    canonical = parse_url(raw).url
    assert parse_url(canonical).url == canonical


# --------------------------------------------------------------- extraction


def test_extract_urls_trims_sentence_punctuation() -> None:
    text = 'See (http://a.example/x_(y)), "http://b.example/". Also http://c.example.'

    assert extract_urls(text) == [
        "http://a.example/x_(y)",
        "http://b.example/",
        "http://c.example",
    ]


def test_extract_urls_drops_duplicates_and_keeps_order() -> None:
    text = "http://b.example/ http://a.example/ hxxp://b[.]example/"

    assert extract_urls(text) == ["http://b.example/", "http://a.example/"]


def test_extract_urls_needs_a_scheme_and_a_host() -> None:
    assert extract_urls("evil.example/path mailto:x@evil.example http://") == []


def test_extract_urls_keeps_balanced_quotes_inside_a_url() -> None:
    text = "'https://example.com/params?&message='hello''"

    assert extract_urls(text) == ["https://example.com/params?&message='hello'"]


# ------------------------------------------------------------------ parsing


def test_parsed_url_fields_for_a_full_url() -> None:
    parsed = parse_url("HTTPS://User:Pw@WWW.Example.co.uk:8443/a/./b/../c?x=1#top")

    assert parsed == ParsedUrl(
        raw="HTTPS://User:Pw@WWW.Example.co.uk:8443/a/./b/../c?x=1#top",
        url="https://www.example.co.uk:8443/a/c?x=1",
        scheme="https",
        host="www.example.co.uk",
        host_unicode="www.example.co.uk",
        port=8443,
        path="/a/c",
        query="x=1",
        fragment="top",
        userinfo="User:Pw",
        host_is_ip=False,
        registrable_domain="example.co.uk",
        public_suffix="co.uk",
        flags=frozenset({"userinfo"}),
        extra_hosts=(),
    )


@pytest.mark.parametrize(
    ("raw", "url"),
    [
        ("http://example.com:80/", "http://example.com/"),
        ("https://example.com:443", "https://example.com/"),
        ("ws://example.com:80/x", "ws://example.com/x"),
        ("http://example.com:443/", "http://example.com:443/"),
        ("http://example.com:/", "http://example.com/"),
        ("http://example.com/a b", "http://example.com/a%20b"),
        ("http://example.com/ü?q=ü", "http://example.com/%C3%BC?q=%C3%BC"),
        ("http://example.com/%aa?b=%2f", "http://example.com/%AA?b=%2F"),
        ("http://example.com/%70ayload.exe", "http://example.com/payload.exe"),
        ("http://example.com/%41%7a%30%2D%2e%5F%7E", "http://example.com/Az0-._~"),
        ("http://example.com/?q=%6B%65y&r=%7e", "http://example.com/?q=key&r=~"),
        ("http://example.com/%2f%3F%23%25%20", "http://example.com/%2F%3F%23%25%20"),
        ("http://example.com/%2541", "http://example.com/%2541"),
        ("http://example.com/a/%2e%2e%2e/b", "http://example.com/a/.../b"),
        ("http://example.com/a%2e/b", "http://example.com/a./b"),
        ("tcp://example.com/%7euser", "tcp://example.com/~user"),
        ("http://example.com/?", "http://example.com/"),
        ("http://example.com/a/%2e%2E/b", "http://example.com/b"),
        ("http://example.com/a/..", "http://example.com/"),
        ("http://example.com/a/.", "http://example.com/a/"),
        ("http://example.com/../../a", "http://example.com/a"),
        ("https://example.com?q='x'", "https://example.com/?q=%27x%27"),
        ("http://example.com/a\\b", "http://example.com/a/b"),
        ("tcp://example.com/a\\b", "tcp://example.com/a\\b"),
        (" \thttp://exa\nmple.com/\r\n", "http://example.com/"),
    ],
)
def test_canonical_url(raw: str, url: str) -> None:
    assert parse_url(raw).url == url


@pytest.mark.parametrize(
    ("raw", "host", "notation_flagged"),
    [
        ("http://0x7f.1/", "127.0.0.1", True),
        ("http://2130706433/", "127.0.0.1", True),
        ("http://0177.0.0.1/", "127.0.0.1", True),
        ("http://127.1/", "127.0.0.1", True),
        ("http://0xC6.51.100.7/", "198.51.100.7", True),
        ("http://198.51.100.7./", "198.51.100.7", False),
        ("http://198.51.100.7/", "198.51.100.7", False),
        ("http://[::ffff:198.51.100.7]/", "198.51.100.7", True),
        ("http://[2001:DB8:0::1]/", "2001:db8::1", False),
    ],
)
def test_ip_hosts_in_every_browser_notation(
    raw: str, host: str, notation_flagged: bool
) -> None:
    parsed = parse_url(raw)

    assert parsed.host == host
    assert parsed.host_is_ip
    assert parsed.registrable_domain == host
    assert parsed.public_suffix == ""
    assert ("nonstandard_ip_notation" in parsed.flags) is notation_flagged
    assert {"ip_host", "private_ip"} <= parsed.flags


def test_ipv6_host_is_bracketed_in_the_canonical_url() -> None:
    parsed = parse_url("http://[2001:db8::1]:8080/x")

    assert parsed.url == "http://[2001:db8::1]:8080/x"
    assert parsed.port == 8080


def test_public_ip_host_is_not_flagged_private() -> None:
    parsed = parse_url("http://185.17.120.130/imageload.cgi")

    assert "private_ip" not in parsed.flags


def test_ipv4_mapped_literal_is_unwrapped_and_flagged() -> None:
    assert "ipv4_mapped" in parse_url("http://[::ffff:7f00:1]/").flags


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "foo",
        "user@example.com",
        "mailto:user@example.com",
        "javascript:alert(1)",
        "data:text/html,hello",
        "file:///etc/passwd",
        "http://",
        "http:///",
        "http://example.com:99999/",
        "http://example.com:80a/",
        "http://exa mple.com/",
        "http://exa<mple.com/",
        "http://1.2.3.4.5/",
        "http://example.123/",
        "http://256.1.1.1/",
        "http://08.1.2.3/",
        "http://[2001:db8::1/",
        "http://[2001:db8::1]x/",
        "http://[fe80::1%25eth0]/",
        "http://[not-ipv6]/",
        "http://xn--a-ecp.example%/",
        "http://xn--zz-.example/",
        "http://xn--.example/",
        "http://%ff.example/",
        "tcp:example.com",
        "http://" + "a" * 2000 + ".example/",
    ],
)
def test_invalid_urls_raise_invalid_url_error(raw: str) -> None:
    with pytest.raises(InvalidUrlError, match="is not a URL a browser would load"):
        parse_url(raw)


def test_error_message_names_the_value_and_a_hint() -> None:
    with pytest.raises(InvalidUrlError) as caught:
        parse_url("http://exa mple.com/")

    message = str(caught.value)
    assert "'http://exa mple.com/'" in message
    assert "forbidden character ' '" in message
    assert "expected scheme://host" in message


def test_invalid_results_are_cached_and_still_raise() -> None:
    for _ in range(3):
        with pytest.raises(InvalidUrlError):
            parse_url("http://exa mple.com/")


@pytest.mark.parametrize(
    ("raw", "url"),
    [
        ("example.com/path", "http://example.com/path"),
        ("www.example.com", "http://www.example.com/"),
        ("example.com:8080/x", "http://example.com:8080/x"),
        ("//example.com/x", "http://example.com/x"),
        ("198.51.100.248", "http://198.51.100.248/"),
        ("[2001:db8::1]:81", "http://[2001:db8::1]:81/"),
    ],
)
def test_scheme_less_input_gets_http(raw: str, url: str) -> None:
    parsed = parse_url(raw)

    assert parsed.url == url
    assert "no_scheme" in parsed.flags


@pytest.mark.parametrize(
    "raw",
    [
        "fxp://evil.example/a",
        "FXP://evil.example/a",
        "fxps://evil.example/a",
        "h__p://evil.example/a",
        "hXXps://evil.example/a",
    ],
)
def test_defanged_schemes_parse_as_the_real_scheme(raw: str) -> None:
    parsed = parse_url(raw)

    assert parsed.scheme == refang(raw).partition(":")[0]
    assert parsed.scheme in ("http", "https", "ftp", "ftps")
    assert "defanged" in parsed.flags


def test_percent_encoded_path_matches_the_plain_listing() -> None:
    listed = parse_url("http://evil.example.com/payload.exe")
    seen = parse_url("http://evil.example.com/%70ayload.exe")

    assert seen.url == listed.url
    assert seen.path == "/payload.exe"


def test_real_query_text_is_not_refanged() -> None:
    raw = "http://hitsem.example/images/?hxxp:/us.battle.example/[.]"
    parsed = parse_url(raw)

    assert parsed.query == "hxxp:/us.battle.example/[.]"
    assert "defanged" not in parsed.flags


def test_defanged_host_refangs_the_whole_url() -> None:
    parsed = parse_url("hxxp://evil[.]example/drop[.]php")

    assert parsed.url == "http://evil.example/drop.php"
    assert "defanged" in parsed.flags


def test_tabs_and_newlines_are_removed_and_flagged() -> None:
    parsed = parse_url("http://ev\til.example/\n")

    assert parsed.host == "evil.example"
    assert "tab_or_newline" in parsed.flags


def test_userinfo_with_host_shaped_password_is_deceptive() -> None:
    parsed = parse_url("http://user:paypal.com@evil.example/")

    assert parsed.extra_hosts == ("paypal.com",)
    assert "deceptive_userinfo" in parsed.flags


def test_plain_userinfo_is_not_deceptive() -> None:
    parsed = parse_url("ftp://anonymous:guest@ftp.example/")

    assert parsed.userinfo == "anonymous:guest"
    assert "deceptive_userinfo" not in parsed.flags


def test_last_at_sign_starts_the_host() -> None:
    parsed = parse_url("http://a@b.example@c.example/")

    assert parsed.host == "c.example"
    assert parsed.userinfo == "a@b.example"


def test_unicode_host_is_encoded_and_mixed_script_flagged() -> None:
    parsed = parse_url("http://pаypal.com/")  # Cyrillic а

    assert parsed.host == "xn--pypal-4ve.com"
    assert parsed.host_unicode == "pаypal.com"
    assert {"idn", "mixed_script", "confusable"} <= parsed.flags


def test_fullwidth_and_ideographic_dots_map_to_ascii() -> None:
    assert parse_url("http://ＥＸＡＭＰＬＥ。com/").host == "example.com"


def test_punycode_label_in_unmapped_form_is_kept_and_flagged() -> None:
    parsed = parse_url("http://xn--bankofmerca-3ij68171c.vg")

    assert parsed.host == "xn--bankofmerca-3ij68171c.vg"
    assert {"idn", "nonstandard_idn", "mixed_script"} <= parsed.flags


def test_non_special_scheme_keeps_its_port_and_scheme() -> None:
    parsed = parse_url("tcp://example.com:8989/bad")

    assert (parsed.scheme, parsed.port, parsed.url) == (
        "tcp",
        8989,
        "tcp://example.com:8989/bad",
    )


def test_public_suffix_fallback_for_hosting_platform_tenants() -> None:
    parsed = parse_url("https://tenant.github.io/login")

    assert parsed.registrable_domain == "tenant.github.io"
    assert parsed.public_suffix == "github.io"


def test_parse_url_is_cached_on_the_raw_string() -> None:
    raw = "https://cache.example/path?x=1"

    assert parse_url(raw) is parse_url(raw)


def test_inputs_over_two_mebibytes_are_refused() -> None:
    raw = "https://long.example/" + "a" * (2 * 1024 * 1024)

    with pytest.raises(InvalidUrlError, match="longer than 2097152 characters"):
        parse_url(raw)


def test_long_inputs_are_parsed_but_not_cached() -> None:
    raw = "https://long.example/" + "a" * 3000

    assert parse_url(raw) == parse_url(raw)
    assert parse_url(raw) is not parse_url(raw)


def test_a_repeated_url_is_parsed_once() -> None:
    """The second parse of a URL is a cache lookup (its speed is measured in
    ``benchmarks/bench_url_parse.py``, not here)."""
    raws = [f"https://h{n}.example/p/{n}?q={n}" for n in range(2000)]
    urls.clear_caches()
    first = [parse_url(raw) for raw in raws]
    hits = urls._parse_cached.cache_info().hits
    again = [parse_url(raw) for raw in raws]
    assert urls._parse_cached.cache_info().hits >= hits + len(raws)
    assert all(a is b for a, b in zip(first, again, strict=True))


def test_canonical_url_agrees_with_urlsplit_on_plain_urls() -> None:
    raw = "https://www.example.com:8443/a/b?c=d"
    split = urllib.parse.urlsplit(raw)
    parsed = parse_url(raw)

    assert (parsed.host, parsed.port, parsed.path, parsed.query) == (
        split.hostname,
        split.port,
        split.path,
        split.query,
    )


def test_a_host_hidden_after_a_password_in_userinfo_is_deceptive() -> None:
    parsed = parse_url("http://user:pass@paypal.com@evil.example/")
    assert parsed.host == "evil.example"
    assert "deceptive_userinfo" in parsed.flags
    assert parsed.extra_hosts == ("paypal.com",)
