"""Pages and SVG images hidden from the format sniffer by padding or bareness.

A browser renders a file served as HTML or SVG whatever precedes the markup:
comments, whitespace, byte order marks, an XML prolog or a doctype. These
files must be read as pages, with their links, forms and redirects found.
"""

from __future__ import annotations

import base64
import io
import time
import zipfile

import pytest

from trustwatch.content import extract_content, sniff_kind
from trustwatch.content.budget import WorkBudget
from trustwatch.content.extract import _SNIFF_BYTES, _extract_member
from trustwatch.content.model import Collector

from .builders import zip_of

LURE = "https://paypal-login.lure.example/verify"
LB = LURE.encode()
FORM = (
    b'<form action="https://collect.lure.example/p" method="post">'
    b'<input type="password" name="pw"></form>'
)
PAGE = b"<p>Your statement</p>" + FORM + b'<a href="' + LURE.encode() + b'">Sign in</a>'
SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" '
    b'xmlns:xlink="http://www.w3.org/1999/xlink">'
    b'<a xlink:href="' + LURE.encode() + b'"><text>Sign in to PayPal</text></a></svg>'
)


def _urls(data: bytes, **label: str) -> list[tuple[str, str]]:
    result = extract_content(data, **label)
    return [(found.url, found.where) for found in result.urls]


# ------------------------------------------------------------ padded pages


@pytest.mark.parametrize(
    "padding",
    [
        b"<!--" + b"x" * 1100 + b"-->",  # the reported page
        b"<!--" + b"x" * 900_000 + b"-->",  # far past any kilobyte window
        b"".join(b"<!-- %d -->\n" % n for n in range(5000)),  # many comments
        b" \t\r\n" * 2000,
        b"\xef\xbb\xbf" + b"\n" * 3000,
        b"<!---->" * 500 + b"<!-->" + b"<!--->",  # empty and abruptly closed
        b'<?xml version="1.0"?>' + b"\n" * 2000,
        b'<!DOCTYPE x [<!ENTITY a "b">]>' + b"<!--" + b"-" * 2000 + b"-->",
        b"Statement of account. " * 200,  # visible text before the markup
    ],
    ids=[
        "comment",
        "huge-comment",
        "many-comments",
        "whitespace",
        "bom",
        "odd-comments",
        "xml-prolog",
        "doctype-subset",
        "long-text",
    ],
)
def test_padded_page_is_read_with_its_password_form(padding: bytes) -> None:
    data = padding + PAGE
    assert sniff_kind(data) == "html"
    result = extract_content(data)
    assert result.kind == "html"
    assert [form.has_password for form in result.forms] == [True]
    assert (LURE, "a_href") in [(u.url, u.where) for u in result.urls]


def test_utf16_padded_page_is_read() -> None:
    data = ("\ufeff<!--" + "x" * 1100 + "-->").encode("utf-16-le") + PAGE.decode(
        "ascii"
    ).encode("utf-16-le")
    assert sniff_kind(data) == "html"
    assert extract_content(data).forms[0].has_password


def test_markup_padded_past_the_window_is_still_a_page_when_unlabelled() -> None:
    # markup first, then more filler than the window, then the lure
    data = b"<div hidden>" + b"x" * (_SNIFF_BYTES + 10) + b"</div>" + PAGE
    assert sniff_kind(data) == "html"
    assert extract_content(data).forms[0].has_password


def test_long_comment_inside_a_page_does_not_stop_the_reader() -> None:
    # html.parser holds an open comment as unfinished markup; one longer than
    # the reader's backlog cap used to stop the page there
    data = b"<p>x</p><!--" + b"x" * 900_000 + b"-->" + PAGE
    result = extract_content(data, name="page.html")
    assert result.errors == () and not result.truncated
    assert [form.has_password for form in result.forms] == [True]


@pytest.mark.parametrize(
    "filler",
    [
        b"<script>/*" + b"x" * 900_000 + b"*/</script>",
        b"<script>var a = '<!--" + b"<x" * 450_000 + b"';</script>",
        b"<style>" + b"p{}" * 300_000 + b"</style>",
    ],
    ids=["script", "script-with-markup", "style"],
)
def test_long_script_or_style_does_not_stop_the_reader(filler: bytes) -> None:
    data = b"<p>x</p>" + filler + PAGE
    result = extract_content(data, name="page.html")
    assert result.errors == () and not result.truncated
    assert [form.has_password for form in result.forms] == [True]


def test_redirect_in_a_long_script_is_still_found() -> None:
    script = b"<script>" + b"x=1;\n" * 100_000 + b'location.href="' + LB + b'";'
    result = extract_content(script + b"</script>", name="page.html")
    assert [(u.url, u.where) for u in result.urls] == [(LURE, "script_location")]


def test_markup_only_inside_a_comment_is_not_a_page() -> None:
    assert sniff_kind(b"<!-- <form><a href=x>y</a> -->plain words") == "unknown"
    assert sniff_kind(b"<!--" + b"x" * 5000 + b"<form>") == "unknown"  # never closes


def test_padded_page_in_an_archive_is_read() -> None:
    data = zip_of({"statement": b"<!--" + b"x" * 1100 + b"-->" + PAGE})
    result = extract_content(data)
    assert result.kind == "zip"
    assert result.forms and result.forms[0].has_password


def test_archive_member_heads_are_charged_to_the_inflated_allowance() -> None:
    # a member of unknown format is sniffed, not read; what its head inflated
    # past the first kilobyte still counts against the file's allowance
    data = zip_of({"blob.bin": b"\0" * (4 << 20)})
    collector = Collector(10, WorkBudget(max_inflated=8 << 20))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        _extract_member(zf, zf.infolist()[0], collector, 1, 16 << 20)
    assert collector.budget.inflated_left < 8 << 20
    assert collector.urls == [] and collector.errors == []


# ------------------------------------------------------- bare pages


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b'<script>window.location="' + LB + b'"</script>', "script_location"),
        (
            b'<meta http-equiv="refresh" content="0;url=' + LB + b'">',
            "meta_refresh",
        ),
        (b"<META HTTP-EQUIV=Refresh CONTENT='0; URL=" + LB + b"'>", "meta_refresh"),
        (b'<a href="' + LB + b'">Sign in</a>', "a_href"),
        (b"<A\nHREF=" + LB + b">Sign in</A>", "a_href"),
        (b'<frameset><frame src="' + LB + b'"></frameset>', "iframe_src"),
        (b'<script src="' + LB + b'"></script>', "script_src"),
    ],
)
def test_bare_page_is_read_as_html(data: bytes, where: str) -> None:
    assert sniff_kind(data) == "html"
    assert (LURE, where) in _urls(data)


def test_reported_bare_redirect_and_refresh_files() -> None:
    redirect = b'<script>window.location="' + LURE.encode() + b'"</script>\n'
    refresh = b'<meta http-equiv="refresh" content="0;url=' + LURE.encode() + b'">\n'
    assert _urls(redirect) == [(LURE, "script_location")]
    assert _urls(refresh) == [(LURE, "meta_refresh")]


def test_prose_that_mentions_tags_is_not_a_page() -> None:
    # a mark counts only as a tag a browser acts on: a link with an href, a
    # refresh, a script with its end tag or source, a known element's own tag
    for prose in (
        b"The <formula> and <scripted> tags are not HTML. x < y and y > z.",
        b"Use the <a > tag to link pages, and <script> for code.",
        b"In HTML, <meta charset=utf-8> sets the encoding; <a name=top> anchors.",
        b"Notes: wrap code in <script> tags. More text follows here.",
        b"<<<<<< merge conflict markers >>>>>>",
    ):
        assert sniff_kind(prose) == "unknown", prose
        assert sniff_kind(prose, name="notes.txt") == "text", prose


# ------------------------------------------------------------------- SVG


def test_svg_is_recognised_by_suffix_mime_and_markup() -> None:
    assert sniff_kind(b"x", name="logo.SVG") == "html"
    assert sniff_kind(b"x", mime_type="image/svg+xml; charset=utf-8") == "html"
    assert sniff_kind(SVG) == "html"
    assert sniff_kind(b'<?xml version="1.0"?>\n<!-- c -->\n' + SVG) == "html"


@pytest.mark.parametrize(
    "prefix",
    [
        b"",
        b"\xef\xbb\xbf",
        b'<?xml version="1.0" encoding="UTF-8"?>\n',
        b'<?xml version="1.0"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
        b'"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n',
        b'<!DOCTYPE x [<!ENTITY a "b">]>\n',
        b"<!-- hi -->\n",
    ],
)
def test_svg_xlink_anchor_is_extracted(prefix: bytes) -> None:
    result = extract_content(prefix + SVG)
    assert result.kind == "html"
    assert [(u.url, u.where, u.text) for u in result.urls] == [
        (LURE, "a_href", "Sign in to PayPal")
    ]


def test_reported_svg_lure_with_plain_href() -> None:
    lure = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<svg xmlns="http://www.w3.org/2000/svg" width="400" height="100">'
        b'<a href="' + LURE.encode() + b'"><rect width="400" height="100"/>'
        b'<text x="20" y="60">View your PayPal invoice</text></a></svg>\n'
    )
    assert _urls(lure, name="lure.svg") == [(LURE, "a_href")]
    assert _urls(lure) == [(LURE, "a_href")]


def test_svg2_href_wins_over_xlink_href() -> None:
    data = (
        b'<svg><a href="https://a.example/" xlink:href="https://b.example/">x</a></svg>'
    )
    assert _urls(data) == [("https://a.example/", "a_href")]


def test_svg_script_href_and_foreign_object_form_are_read() -> None:
    data = (
        b'<svg xmlns:xlink="http://www.w3.org/1999/xlink">'
        b'<script xlink:href="https://kit.example/a.js"/>'
        b'<script href="https://kit.example/b.js"></script>'
        b"<script><![CDATA[location.href='https://kit.example/go']]></script>"
        b"<foreignObject><form action='https://collect.example/p'>"
        b"<input type=password></form></foreignObject></svg>"
    )
    result = extract_content(data, name="x.svg")
    pairs = [(u.url, u.where) for u in result.urls]
    assert ("https://kit.example/a.js", "script_src") in pairs
    assert ("https://kit.example/b.js", "script_src") in pairs
    assert ("https://kit.example/go", "script_location") in pairs
    assert result.forms[0].has_password


def test_svg_animated_href_is_read() -> None:
    data = (
        b"<svg><a><animate attributeName='href' values='https://a.example/;"
        b"javascript:alert(1)'/><set attributeName=xlink:href "
        b"to='https://b.example/'/><text>x</text></a></svg>"
    )
    pairs = _urls(data)
    assert ("https://a.example/", "a_href") in pairs
    assert ("javascript:alert(1)", "javascript_url") in pairs
    assert ("https://b.example/", "a_href") in pairs


def test_svg_in_a_data_url_is_a_nested_page() -> None:
    inner = base64.b64encode(SVG).decode()
    data = f'<iframe src="data:image/svg+xml;base64,{inner}"></iframe>'.encode()
    assert (LURE, "a_href") in _urls(data)


def test_svg_data_urls_stay_under_the_nesting_depth() -> None:
    page = SVG
    for _ in range(6):
        page = b'<svg><a href="data:image/svg+xml;base64,' + base64.b64encode(page)
        page += b'">x</a></svg>'
    result = extract_content(page)
    assert result.truncated
    assert any(error.startswith("html_nested_limit") for error in result.errors)
    assert (LURE, "a_href") not in [(u.url, u.where) for u in result.urls]


def test_svg_is_held_to_the_tag_limit_and_work_budget() -> None:
    many = b"<svg>" + b"<g>" * 600_000 + b"</svg>"
    # time enough to reach the tag limit on a slow machine (3 s seen)
    result = extract_content(many, time_budget=120)
    assert result.kind == "html"
    assert result.truncated
    assert any(error.startswith("html_limit") for error in result.errors)
    started = time.monotonic()
    slow = extract_content(many, max_steps=1, time_budget=0.01)
    assert time.monotonic() - started < 5
    assert slow.truncated


# ------------------------------------------------------------------- cost


def test_sniffing_hostile_padding_stays_cheap() -> None:
    cases = [
        (b"<!---->" * 2_800_000 + PAGE, "html"),  # 20 MB of tiny comments
        (b"\n" * 19_000_000 + PAGE, "html"),
        (b"<!--" + b"-" * 20_000_000, "unknown"),  # a comment that never closes
        (b"x <a " * 4_000_000, "unknown"),
        (b"<!DOCTYPE [" + b"x" * 20_000_000, "unknown"),
        (b"<?" + b"x" * 20_000_000, "unknown"),
    ]
    for data, kind in cases:
        started = time.monotonic()
        assert sniff_kind(data) == kind
        assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("name", ["bracket.html", "bracket.txt", None])
def test_a_doctype_ends_at_its_first_gt_as_in_a_browser(name: str | None) -> None:
    # no internal subset in HTML: what follows the first ">" renders
    data = (
        b'<!-- hi --><!DOCTYPE x [ ><form action="https://evil-login.example.net/p"'
        b" method=post><input type=password name=p></form> ]>"
    )
    label = {"name": name} if name else {}
    assert sniff_kind(data, **label) == "html"
    result = extract_content(data, **label)
    assert [form.has_password for form in result.forms] == [True]
