"""Format sniffing, limits, RTF, and hostile input of any kind."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trustwatch.content
from trustwatch.content import Extraction, extract_content, sniff_kind
from trustwatch.errors import ConfigError

from .builders import docx, pdf_with_link


def test_public_api_is_pinned() -> None:
    assert trustwatch.content.__all__ == [
        "Extraction",
        "FoundForm",
        "FoundUrl",
        "extract_content",
        "sniff_kind",
    ]


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"junk\n%PDF-1.4\n", "pdf"),
        (b"PK\x03\x04rest", "zip"),
        (b"  {\\rtf1\\ansi hello}", "rtf"),
        (b"\n<!DOCTYPE HTML><p>", "html"),
        (b"<FORM action=x>", "html"),
        (b"plain text", "unknown"),
    ],
)
def test_kind_is_sniffed_from_bytes(data: bytes, kind: str) -> None:
    assert sniff_kind(data) == kind


def test_bytes_win_over_name_and_mime() -> None:
    assert sniff_kind(b"%PDF-1.7", name="a.html", mime_type="text/html") == "pdf"


def test_name_then_mime_decide_when_bytes_say_nothing() -> None:
    assert sniff_kind(b"<p>hi</p>", name="Invoice.HTM") == "html"
    assert sniff_kind(b"<p>hi</p>", mime_type="text/html; charset=utf-8") == "html"
    assert sniff_kind(b"x", name="noext", mime_type="application/pdf") == "pdf"
    assert sniff_kind(b"x", name="a.bin", mime_type="image/png") == "unknown"


def test_html_named_file_without_markers_is_read_as_html() -> None:
    result = extract_content(b'<a href="https://a.example/">a</a>', name="x.html")
    assert result.kind == "html"
    assert result.urls[0].url == "https://a.example/"


def test_unknown_kind_gives_no_urls() -> None:
    result = extract_content(b"see https://a.example/ now")
    assert result == Extraction("unknown", (), (), False, (), ())


def test_rtf_hyperlink_field_and_objects() -> None:
    data = (
        b'{\\rtf1{\\field{\\*\\fldinst HYPERLINK "https://rtf.example/doc"}'
        b"{\\fldrslt View}}{\\object\\objautlink{\\*\\objdata 0105}}}"
    )
    result = extract_content(data)
    assert result.kind == "rtf"
    assert ("https://rtf.example/doc", "rtf_hyperlink") in [
        (u.url, u.where) for u in result.urls
    ]
    assert result.flags == ("embedded_objects",)


def test_large_html_is_read_up_to_the_limit() -> None:
    page = b'<html><a href="https://first.example/">1</a>' + b" " * 1000
    page += b'<a href="https://late.example/">2</a>'
    result = extract_content(page, max_bytes=500)
    assert result.truncated
    assert [u.url for u in result.urls] == ["https://first.example/"]
    assert result.errors[0].startswith("too_large:")


def test_negative_limits_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="max_urls=-1"):
        extract_content(b"<html>", max_urls=-1)
    with pytest.raises(ConfigError, match="max_bytes=-5"):
        extract_content(b"<html>", max_bytes=-5)


def test_zero_url_limit_keeps_nothing() -> None:
    result = extract_content(pdf_with_link("https://a.example/"), max_urls=0)
    assert result.urls == ()
    assert result.truncated


def test_ten_megabytes_of_nested_tags_stop_at_the_tag_limit() -> None:
    page = b"<html>" + b"<div><b>" * (10 * 1024 * 1024 // 8)
    # a budget that leaves room: the tag limit is what this checks
    result = extract_content(page, time_budget=600)
    assert result.truncated
    assert result.errors[-1].startswith("html_limit:")


def test_office_bytes_under_a_wrong_name_are_sniffed() -> None:
    data = docx("<w:p><w:r><w:t>https://x.example/d</w:t></w:r></w:p>")
    assert extract_content(data, name="photo.jpg").kind == "docx"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4096))
def test_random_bytes_never_raise(data: bytes) -> None:
    result = extract_content(data)
    assert isinstance(result, Extraction)


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from([b"%PDF-1.7\n", b"PK\x03\x04", b"{\\rtf1", b"<html>"]),
    st.binary(max_size=2048),
)
def test_random_bytes_behind_a_magic_never_raise(magic: bytes, rest: bytes) -> None:
    result = extract_content(magic + rest, base_host="site.example")
    assert result.kind in {"pdf", "unknown", "rtf", "html"}
