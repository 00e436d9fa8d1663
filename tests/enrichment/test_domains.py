"""Host normalisation, Public Suffix List split, skeletons and script mixing."""

from __future__ import annotations

from typing import Any

import pytest

from trustwatch.enrichment.domains import (
    is_mixed_script,
    normalize_host,
    public_suffix,
    registrable_domain,
    skeleton,
    to_unicode,
)
from trustwatch.errors import InvalidIndicatorError

Cases = dict[str, dict[str, Any]]


def test_dom02_ip_like_tenant_host_keys_on_the_full_host(hardcases: Cases) -> None:
    host = hardcases["DOM-02"]["input"]

    # The bundled list (2026-10) has an exact rule for cprapid.com, so the
    # tenant host is its own registrable domain; either way it is the full host.
    assert registrable_domain(host) == "203-0-113-42.cprapid.com"
    assert registrable_domain(host) != "cprapid.com"


@pytest.mark.parametrize("host", ["test.kobe.jp", "foo.sch.uk", "x.er"])
def test_dom02_wildcard_suffix_hosts_fall_back_to_the_full_host(host: str) -> None:
    assert public_suffix(host) == host
    assert registrable_domain(host) == host


def test_dom02_wildcard_exception_rule_still_applies() -> None:
    assert registrable_domain("www.city.kobe.jp") == "city.kobe.jp"
    assert public_suffix("www.city.kobe.jp") == "kobe.jp"


def test_dom03_a_label_and_u_label_normalise_alike(hardcases: Cases) -> None:
    a_label = "xn--80ajjchqepikd1b.xn--80asehdb"

    assert hardcases["DOM-03"]["input"].startswith(f"http://{a_label}/")
    assert normalize_host("стройтехника.онлайн") == a_label
    assert normalize_host(a_label.upper()) == a_label
    assert to_unicode(a_label) == "стройтехника.онлайн"
    assert registrable_domain("www.стройтехника.онлайн") == a_label


def test_dom04_single_script_spoof_has_the_brand_skeleton(hardcases: Cases) -> None:
    host = hardcases["DOM-04"]["input"]

    assert to_unicode(host) == "\u0430\u0440\u0440\u04cf\u0435.com"
    assert skeleton(host) == "apple.com"
    assert not is_mixed_script(to_unicode(host).split(".")[0])


def test_skeleton_knows_the_palochka_capital() -> None:
    assert skeleton("\u04c0ogin.example") == "login.example"


@pytest.mark.parametrize(
    ("lookalike", "brand"),
    [
        ("paypa1.com", "paypal.com"),
        ("g00gle.com", "google.com"),
        ("rnicrosoft.com", "microsoft.com"),
        ("vvikipedia.org", "wikipedia.org"),
        ("\u0440\u0430\u0443\u0440\u0430l.com", "paypal.com"),
        ("\u03bf\u03c1\u03b5n.example", "open.example"),
        ("PayPal.COM.", "paypal.com"),
    ],
)
def test_skeleton_matches_lookalikes_with_their_brand(
    lookalike: str, brand: str
) -> None:
    assert skeleton(lookalike) == skeleton(brand)


def test_skeleton_keeps_diacritics_apart() -> None:
    assert skeleton("münchen.de") != skeleton("munchen.de")


def test_skeleton_of_text_that_is_not_a_host() -> None:
    assert skeleton("Аpple Inc") == "apple inc"


@pytest.mark.parametrize(
    ("label", "mixed"),
    [
        ("example", False),
        ("p\u0430ypal", True),
        ("\u0430\u0440\u0440\u04cf\u0435", False),
        ("東京tokyo", False),
        ("ひらがなカタカナ漢字", False),
        ("한국어abc", False),
        ("abc\u03b1", True),
        ("a-1-\u0301", False),
        ("\u0561bc", True),
    ],
)
def test_is_mixed_script(label: str, mixed: bool) -> None:
    assert is_mixed_script(label) is mixed


@pytest.mark.parametrize(
    ("host", "normal"),
    [
        ("WWW.Example.COM.", "www.example.com"),
        ("Straße.example", "xn--strae-oqa.example"),
        ("e\u200bvil.example", "evil.example"),
        ("exa%6Dple.com", "example.com"),
        ("0x7f.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("_dmarc.example", "_dmarc.example"),
    ],
)
def test_normalize_host(host: str, normal: str) -> None:
    assert normalize_host(host) == normal


@pytest.mark.parametrize(
    "host", ["", "exa mple.com", "example.com:443", "a/b", "℅", "xn--.example"]
)
def test_invalid_hosts_raise_invalid_indicator_error(host: str) -> None:
    with pytest.raises(InvalidIndicatorError, match="is not a valid host"):
        normalize_host(host)


@pytest.mark.parametrize(
    ("host", "registrable", "suffix"),
    [
        ("www.google.co.uk", "google.co.uk", "co.uk"),
        ("a.b.c.example.com", "example.com", "com"),
        ("tenant.github.io", "tenant.github.io", "github.io"),
        ("github.io", "github.io", "github.io"),
        ("localhost", "localhost", "localhost"),
        ("evil.unlistedtld", "evil.unlistedtld", "unlistedtld"),
        ("a..b.example", "a..b.example", ""),
        ("198.51.100.7", "198.51.100.7", ""),
        ("2001:db8::1", "2001:db8::1", ""),
    ],
)
def test_registrable_domain_and_suffix(
    host: str, registrable: str, suffix: str
) -> None:
    assert registrable_domain(host) == registrable
    assert public_suffix(host) == suffix


def test_registrable_domain_is_never_empty_or_a_bare_suffix() -> None:
    for host in ("co.uk", "com", "kobe.jp", "cprapid.com"):
        assert registrable_domain(host) == host
