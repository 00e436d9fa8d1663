"""Plain zip archives: their members are read, archives inside them too."""

from __future__ import annotations

import struct

from trustwatch.content import extract_content
from trustwatch.content.extract import MAX_ARCHIVE_DEPTH

from .builders import docx, pdf_with_link, zip_of

_PAGE = '<html><a href="https://inside.example/login">Sign in</a></html>'


def _nested(depth: int) -> bytes:
    """Return ``depth`` zips one inside another, the innermost holding a page."""
    data = zip_of({"page.html": _PAGE})
    for level in range(depth - 1):
        data = zip_of({f"level{level}.zip": data})
    return data


def test_a_page_in_a_zip_is_read() -> None:
    result = extract_content(zip_of({"docs/page.html": _PAGE, "logo.png": b"\x89PNG"}))
    assert result.kind == "zip"
    assert [(u.url, u.where, u.text) for u in result.urls] == [
        ("https://inside.example/login", "a_href", "Sign in")
    ]
    assert not result.truncated
    assert result.errors == ()


def test_text_pdf_and_office_members_are_read() -> None:
    data = zip_of(
        {
            "a.txt": "see https://text.example/a",
            "b.pdf": pdf_with_link("https://pdf.example/b"),
            "c.docx": docx(
                "<w:p/>", [("rId1", "hyperlink", "https://doc.example/c", True)]
            ),
        }
    )
    result = extract_content(data)
    assert result.kind == "zip"
    assert [(u.url, u.where) for u in result.urls] == [
        ("https://text.example/a", "text_url"),
        ("https://pdf.example/b", "pdf_uri_action"),
        ("https://doc.example/c", "office_hyperlink"),
    ]
    assert result.errors == ()


def test_a_zip_in_a_zip_is_read() -> None:
    result = extract_content(_nested(MAX_ARCHIVE_DEPTH))
    assert [u.url for u in result.urls] == ["https://inside.example/login"]
    assert not result.truncated


def test_archives_nested_too_deep_are_not_read_and_say_so() -> None:
    result = extract_content(_nested(MAX_ARCHIVE_DEPTH + 1))
    assert result.kind == "zip"
    assert result.urls == ()
    assert result.truncated
    # the error names the members down to the archive left unread
    assert result.errors == (
        "zip_too_deep: level2.zip: level1.zip: level0.zip: archives nested over "
        f"{MAX_ARCHIVE_DEPTH} deep; not read",
    )


def test_members_of_unknown_format_are_skipped_quietly() -> None:
    result = extract_content(zip_of({"a.bin": b"\x00\x01" * 100, "b.png": b"\x89PNG"}))
    assert result.kind == "zip"
    assert result.urls == ()
    assert result.errors == ()
    assert not result.truncated


def test_member_errors_name_the_member() -> None:
    result = extract_content(zip_of({"bad.pdf": b"%PDF-1.7\ngarbage"}))
    assert result.kind == "zip"
    assert result.errors[0].startswith("pdf_unreadable: bad.pdf: ")


def test_a_member_that_inflates_too_far_is_refused() -> None:
    page = "<html>" + " " * 2_000_000 + "</html>"
    result = extract_content(zip_of({"big.html": page}))
    assert result.truncated
    assert result.errors[0].startswith("zip_part_refused: big.html: compression ratio")


def test_members_larger_than_the_byte_limit_are_refused() -> None:
    page = "<html>" + "<p>hello</p>" * 500 + "</html>"
    data = zip_of({"page.html": page})
    assert len(data) < 4_000  # the archive itself is under the limit
    result = extract_content(data, max_bytes=4_000)
    assert result.truncated
    assert result.errors == (
        f"zip_part_refused: page.html: declares {len(page)} bytes",
    )


def test_an_encrypted_member_is_flagged_and_not_read() -> None:
    data = bytearray(zip_of({"page.html": _PAGE}))
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<H", data, central + 8, 0x1)  # general purpose flag: encrypted
    result = extract_content(bytes(data))
    assert "encrypted" in result.flags
    assert result.truncated
    assert result.errors == ("zip_part_refused: page.html: encrypted",)


def test_members_count_against_the_files_work_budget() -> None:
    data = zip_of({f"p{n}.html": _PAGE.replace("login", str(n)) for n in range(10)})
    result = extract_content(data, max_steps=4)
    assert result.kind == "zip"
    assert len(result.urls) == 4
    assert result.errors == (
        "work_limit: step limit of 4 reached; the rest of the file was not read",
    )
