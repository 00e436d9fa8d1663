"""PDF files: link actions, form and launch targets, text URLs, damage."""

from __future__ import annotations

from trustwatch.content import FoundUrl, extract_content

from .builders import action, pdf_with_actions, pdf_with_link, pdf_with_text


def test_link_annotation_uri_is_found() -> None:
    result = extract_content(pdf_with_link("https://view-doc.example/open?id=7"))
    assert result.kind == "pdf"
    assert result.urls == (
        FoundUrl("https://view-doc.example/open?id=7", "pdf_uri_action", None),
    )
    assert result.errors == ()


def test_launch_and_submit_targets_are_found() -> None:
    data = pdf_with_actions(
        [
            action("/Launch", "/F", "payload.exe"),
            action("/SubmitForm", "/F", "https://collect.example/post"),
        ]
    )
    result = extract_content(data)
    assert [(u.url, u.where) for u in result.urls] == [
        ("payload.exe", "pdf_launch_action"),
        ("https://collect.example/post", "pdf_submit_form"),
    ]
    assert "pdf_launch_action" in result.flags


def test_javascript_action_urls_are_found_and_flagged() -> None:
    js = action("/JavaScript", "/JS", "app.launchURL('https://js.example/p');")
    result = extract_content(pdf_with_actions([js]))
    assert "pdf_javascript" in result.flags
    assert result.urls[0].where == "pdf_javascript"
    assert result.urls[0].url.startswith("https://js.example/p")


def test_urls_in_page_text_are_found() -> None:
    result = extract_content(pdf_with_text("View it at https://view-doc.example/file"))
    assert FoundUrl("https://view-doc.example/file", "pdf_text", None) in result.urls


def test_pdf_with_empty_user_password_is_read_and_flagged() -> None:
    data = pdf_with_actions([action("/URI", "/URI", "http://203.0.113.7/a")], "")
    result = extract_content(data)
    assert "encrypted" in result.flags
    assert [u.url for u in result.urls] == ["http://203.0.113.7/a"]


def test_password_protected_pdf_reports_encrypted() -> None:
    data = pdf_with_actions([action("/URI", "/URI", "http://203.0.113.7/a")], "pw")
    result = extract_content(data)
    assert result.flags == ("encrypted",)
    assert result.urls == ()
    assert result.errors[0].startswith("pdf_encrypted:")


def test_only_the_first_50_pages_are_read() -> None:
    result = extract_content(pdf_with_link("https://a.example/", pages=60))
    assert result.truncated
    assert result.urls[0].url == "https://a.example/"


def test_truncated_pdf_gives_an_error_not_an_exception() -> None:
    data = pdf_with_link("https://view-doc.example/open")
    result = extract_content(data[: len(data) // 3])
    assert result.kind == "pdf"
    assert result.errors
    assert all(": " in error for error in result.errors)


def test_garbage_after_header_gives_an_error() -> None:
    result = extract_content(b"%PDF-1.7\n" + b"\x00\xff" * 500)
    assert result.kind == "pdf"
    assert result.urls == ()
    assert result.errors[0].startswith("pdf_")


def test_oversized_pdf_is_not_read() -> None:
    data = pdf_with_link("https://view-doc.example/open")
    result = extract_content(data, max_bytes=100)
    assert result.truncated
    assert result.urls == ()
    assert result.errors[0].startswith("too_large:")
