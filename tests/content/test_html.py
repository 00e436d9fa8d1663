"""HTML pages: links, forms, refreshes, frames and script redirects."""

from __future__ import annotations

import pytest

from trustwatch.content import FoundForm, FoundUrl, extract_content
from trustwatch.content.html import resolve_link

PHISH = b"""<!DOCTYPE html><html><head>
<meta http-equiv="Refresh" content="5; URL='https://next.example/landing'">
</head><body>
<a href="https://bank.example/help">Help  &amp;
  support</a>
<form action="https://collect.example/gate.php" method="POST">
  <input type="email" name="login"><input type="PASSWORD" name="pw">
  <input type="submit">
</form>
<iframe src="https://frame.example/embed"></iframe>
<script>window.location.href = "https://redirect.example/go";
location.replace('https://replace.example/x');</script>
</body></html>"""


def _urls(page: bytes, base_host: str | None = None) -> list[tuple[str, str]]:
    found = extract_content(page, base_host=base_host).urls
    return [(u.url, u.where) for u in found]


def test_link_keeps_its_text_collapsed() -> None:
    urls = extract_content(PHISH).urls
    assert FoundUrl("https://bank.example/help", "a_href", "Help & support") in urls


def test_every_url_place_is_found() -> None:
    found = _urls(PHISH)
    assert ("https://next.example/landing", "meta_refresh") in found
    assert ("https://collect.example/gate.php", "form_action") in found
    assert ("https://frame.example/embed", "iframe_src") in found
    assert ("https://redirect.example/go", "script_location") in found
    assert ("https://replace.example/x", "script_location") in found


def test_password_form_posting_elsewhere_is_flagged() -> None:
    result = extract_content(PHISH, base_host="bank.example")
    assert result.forms == (
        FoundForm(
            action="https://collect.example/gate.php",
            method="post",
            has_password=True,
            fields=("login", "pw", "submit"),
            posts_to_other_domain=True,
        ),
    )
    assert "password_form_other_domain" in result.flags


def test_other_domain_is_unknown_without_base_host() -> None:
    result = extract_content(PHISH)
    assert result.forms[0].posts_to_other_domain is None
    assert "password_form_other_domain" not in result.flags


def test_relative_action_resolves_to_the_same_domain() -> None:
    page = b'<form action="/login"><input type=password name=p></form>'
    result = extract_content(page, base_host="www.bank.example")
    assert result.forms[0].action == "https://www.bank.example/login"
    assert result.forms[0].posts_to_other_domain is False


def test_subdomain_of_the_same_registrable_domain_is_not_other() -> None:
    page = b'<form action="https://login.bank.example/x"><input type=password></form>'
    result = extract_content(page, base_host="www.bank.example")
    assert result.forms[0].posts_to_other_domain is False


def test_form_without_action_posts_to_itself() -> None:
    result = extract_content(b"<form><input name=q></form>")
    assert result.forms[0].action is None
    assert result.forms[0].method == "get"
    assert result.forms[0].posts_to_other_domain is False
    assert result.forms[0].has_password is False


def test_base_href_changes_where_relative_links_go() -> None:
    page = b'<html><base href="https://cdn.example/k/"><a href="p.html">x</a></html>'
    found = _urls(page, base_host="site.example")
    assert ("https://cdn.example/k/p.html", "a_href") in found


def test_javascript_and_data_links_are_flagged_not_resolved() -> None:
    page = (
        b'<html><a href="javascript:steal()">a</a>'
        b'<iframe src="data:text/html;base64,' + b"A" * 5000 + b'"></iframe></html>'
    )
    found = extract_content(page, base_host="site.example").urls
    assert found[0] == FoundUrl("javascript:steal()", "javascript_url", "a")
    assert found[1].where == "data_url"
    assert found[1].url.startswith("data:text/html;base64,")
    assert len(found[1].url) == 256


def test_fragment_links_are_skipped() -> None:
    assert _urls(b'<html><a href="#top">top</a></html>') == []


def test_duplicates_are_kept_once_per_place() -> None:
    page = b'<html><a href="https://a.example/">1</a><a href="https://a.example/">2</a>'
    assert _urls(page) == [("https://a.example/", "a_href")]


def test_link_text_is_cut_to_200_characters() -> None:
    page = b'<html><a href="https://a.example/">' + b"word " * 100 + b"</a>"
    text = extract_content(page).urls[0].text
    assert text is not None
    assert len(text) == 200


def test_url_count_limit_truncates() -> None:
    links = b"".join(b'<a href="https://h%d.example/">x</a>' % i for i in range(50))
    result = extract_content(b"<html>" + links, max_urls=10)
    assert len(result.urls) == 10
    assert result.truncated


def test_invalid_utf8_is_replaced_and_reported() -> None:
    page = b'<html>\xff\xfe\xfa<a href="https://a.example/\xe9">x</a></html>'
    result = extract_content(page)
    assert result.kind == "html"
    assert result.errors[0].startswith("invalid_utf8:")
    assert result.urls[0].url == "https://a.example/\ufffd"


def test_utf16_page_is_read() -> None:
    page = '<html><a href="https://wide.example/">w</a></html>'.encode("utf-16")
    assert _urls(page) == [("https://wide.example/", "a_href")]


def test_deeply_nested_tags_do_not_break_parsing() -> None:
    page = b"<html>" + b"<div>" * 200_000 + b'<a href="https://deep.example/">d</a>'
    # the time the page takes is not what this checks: the budget leaves room
    result = extract_content(page, time_budget=600)
    assert ("https://deep.example/", "a_href") in [
        (u.url, u.where) for u in result.urls
    ]
    assert result.errors == ()


def test_markup_that_never_closes_stops_quickly_with_a_reason() -> None:
    import time

    from trustwatch.content import extract_content

    page = b'<html><a href="http://x.example/">x</a>' + b"</" * 3_000_000
    started = time.monotonic()
    result = extract_content(page)
    assert time.monotonic() - started < 2.0
    assert result.truncated
    assert any(e.startswith("html_unparsable") for e in result.errors)
    assert [u.url for u in result.urls] == ["http://x.example/"]


def test_links_are_read_as_a_browser_reads_them() -> None:
    page = (
        b"<html><a href='//cdn.example.net/d.exe'>a</a>"
        b"<a href='https:\\\\kit.example.net\\a\\b.php?x=\\y'>b</a>"
        b"<a href='\\\\/other.example.net/c'>c</a>"
        b"<a href=' htt\tps:///tabs.example.net/t\n'>d</a>"
        b"<a href='java\nscript:alert(1)'>e</a>"
        b"<a href='relative/page.html'>f</a>"
    )
    assert _urls(page) == [
        # an upload is served by the platform over https
        ("https://cdn.example.net/d.exe", "a_href"),
        ("https://kit.example.net/a/b.php?x=\\y", "a_href"),
        ("https://other.example.net/c", "a_href"),
        ("https://tabs.example.net/t", "a_href"),
        ("javascript:alert(1)", "javascript_url"),
        ("relative/page.html", "a_href"),  # no base: its host is unknown
    ]


def test_a_protocol_relative_action_takes_the_scheme_of_the_base() -> None:
    page = (
        b"<base href='http://files.example/u/'>"
        b"<form action='//collect.example.net/p.php' method=post>"
        b"<input type=password name=pw></form>"
    )
    (form,) = extract_content(page, base_host="files.example").forms
    assert form.action == "http://collect.example.net/p.php"
    assert form.posts_to_other_domain is True


@pytest.mark.parametrize(
    ("link", "base", "read"),
    [
        # the page's own scheme with fewer than two slashes: relative
        ("https:host/p", "https://files.example/u/", "https://files.example/u/host/p"),
        ("https:/host/p", "https://files.example/u/", "https://files.example/host/p"),
        ("https:?x", "https://files.example/u/", "https://files.example/u/?x"),
        ("https:login.php", None, "login.php"),
        ("https:\\login.php", None, "/login.php"),
        # another scheme: a host, however few the slashes
        ("http:host/p", "https://files.example/u/", "http://host/p"),
        ("http:host/p", None, "http://host/p"),
        ("//a.example/x", "http://b.example/", "http://a.example/x"),
    ],
)
def test_a_link_in_the_pages_own_scheme_may_be_relative(link, base, read) -> None:
    assert resolve_link(link, base) == read


def test_a_base_is_read_as_a_browser_reads_it() -> None:
    page = (
        b"<html><base href='//kit.example.net/k/'>"
        b"<form action='post.php' method=post><input type=password name=pw>"
        b"</form></html>"
    )
    found = extract_content(page, base_host="files.example")
    assert ("https://kit.example.net/k/", "base_href") in [
        (u.url, u.where) for u in found.urls
    ]
    (form,) = found.forms
    assert form.action == "https://kit.example.net/k/post.php"
    assert form.posts_to_other_domain is True
