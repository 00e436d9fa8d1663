"""Office Open XML files: external relationships, text URLs, hostile zips."""

from __future__ import annotations

import struct

from trustwatch.content import FoundUrl, extract_content
from trustwatch.content.office import MAX_PART_BYTES

from .builders import docx, xlsx, zip_of

_LINK = (
    '<w:p><w:hyperlink r:id="rId1"><w:r><w:t>View document</w:t></w:r></w:hyperlink>'
)
_LINK += "</w:p>"


def test_docx_hyperlink_keeps_its_text() -> None:
    data = docx(_LINK, [("rId1", "hyperlink", "https://docs.example/view", True)])
    result = extract_content(data)
    assert result.kind == "docx"
    assert result.urls == (
        FoundUrl("https://docs.example/view", "office_hyperlink", "View document"),
    )


def test_internal_relationships_are_ignored() -> None:
    data = docx("<w:p/>", [("rId1", "styles", "styles.xml", False)])
    assert extract_content(data).urls == ()


def test_remote_template_and_macros_are_flagged() -> None:
    data = docx(
        "<w:p/>",
        [("rId9", "attachedTemplate", "http://203.0.113.9/t.dotm", True)],
        {"word/vbaProject.bin": b"\x00" * 10},
    )
    result = extract_content(data, name="x.docm")
    assert ("http://203.0.113.9/t.dotm", "office_template") in [
        (u.url, u.where) for u in result.urls
    ]
    assert set(result.flags) == {"macros", "external_template"}


def test_text_and_field_urls_are_found() -> None:
    body = (
        "<w:p><w:r><w:t>Open https://text.example/a today</w:t></w:r></w:p>"
        '<w:p><w:r><w:instrText> HYPERLINK "https://field.example/b" </w:instrText>'
        "</w:r></w:p>"
    )
    found = [(u.url, u.where) for u in extract_content(docx(body)).urls]
    assert ("https://text.example/a", "office_text") in found
    assert ("https://field.example/b", "office_text") in found


def test_xlsx_links_and_strings_are_found() -> None:
    data = xlsx(
        ["Invoice at https://pay.example/inv"],
        [("rId1", "hyperlink", "https://sheet.example/x", True)],
    )
    result = extract_content(data)
    assert result.kind == "xlsx"
    assert [(u.url, u.where) for u in result.urls] == [
        ("https://sheet.example/x", "office_hyperlink"),
        ("https://pay.example/inv", "office_text"),
    ]


def test_billion_laughs_is_refused() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(
            f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">'
            for i in range(1, 10)
        ).replace("&lol0;", "&lol;")
        + ']><w:document xmlns:w="w"><w:t>&lol9;</w:t></w:document>'
    )
    data = zip_of({"[Content_Types].xml": "<Types/>", "word/document.xml": bomb})
    result = extract_content(data)
    assert result.kind == "docx"
    assert any(e.startswith("xml_refused: word/document.xml") for e in result.errors)


def test_declared_huge_part_is_not_read() -> None:
    data = bytearray(docx("<w:p/>"))
    _declare_size(data, "word/document.xml", MAX_PART_BYTES * 4)
    result = extract_content(bytes(data))
    assert result.truncated
    assert any(
        e.startswith("zip_part_refused: word/document.xml") for e in result.errors
    )


def test_high_compression_ratio_part_is_not_read() -> None:
    padding = "<w:p/>" * 400_000  # 2.4 MB that deflates to a few KB
    result = extract_content(docx(padding))
    assert result.truncated
    assert any("zip bomb" in error for error in result.errors)


def test_part_larger_than_declared_gives_an_error() -> None:
    data = bytearray(docx("<w:p><w:r><w:t>" + "x" * 5000 + "</w:t></w:r></w:p>"))
    _declare_size(data, "word/document.xml", 100)
    result = extract_content(bytes(data))
    assert result.kind == "docx"
    assert any("word/document.xml" in error for error in result.errors)


def test_corrupt_zip_gives_an_error() -> None:
    data = docx(_LINK, [("rId1", "hyperlink", "https://docs.example/view", True)])
    result = extract_content(data[: len(data) // 2], name="a.docx")
    assert result.kind == "unknown"
    assert result.errors[0].startswith("zip_unreadable:")


def _declare_size(data: bytearray, name: str, size: int) -> None:
    """Rewrite the uncompressed size of ``name`` in the central directory."""
    offset = data.find(b"PK\x01\x02")
    while offset >= 0:
        name_len = struct.unpack_from("<H", data, offset + 28)[0]
        if data[offset + 46 : offset + 46 + name_len] == name.encode():
            struct.pack_into("<I", data, offset + 24, size)
            return
        offset = data.find(b"PK\x01\x02", offset + 4)
    raise AssertionError(f"{name} not in the central directory")


def test_unsupported_zip_version_gives_an_error() -> None:
    data = bytearray(docx("<w:p/>"))
    central = data.find(b"PK\x01\x02")
    data[central + 6] = 130  # "version needed to extract": 13.0
    result = extract_content(bytes(data))
    assert result.kind == "unknown"
    assert result.errors[0].startswith("zip_unreadable: NotImplementedError")
