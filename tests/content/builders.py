"""Build small HTML, PDF, Office and zip files for the content tests."""

from __future__ import annotations

import io
import zipfile

from pypdf import PdfWriter
from pypdf.annotations import Link
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    TextStringObject,
)

__all__ = [
    "action",
    "docx",
    "pdf_with_actions",
    "pdf_with_link",
    "pdf_with_text",
    "xlsx",
    "zip_of",
]

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_TYPES = (
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="xml" '
    'ContentType="application/xml"/></Types>'
)


def zip_of(parts: dict[str, bytes | str]) -> bytes:
    """Return a deflated zip holding ``parts``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in parts.items():
            zf.writestr(name, content)
    return buffer.getvalue()


def _rels(rels: list[tuple[str, str, str, bool]]) -> str:
    """Render a relationships part: (id, type suffix, target, external)."""
    items = "".join(
        f'<Relationship Id="{rid}" Type="{_R}/{kind}" Target="{target}"'
        + (' TargetMode="External"' if external else "")
        + "/>"
        for rid, kind, target, external in rels
    )
    return f'<?xml version="1.0"?><Relationships xmlns="{_PKG}">{items}</Relationships>'


def docx(
    body: str,
    rels: list[tuple[str, str, str, bool]] | None = None,
    extra: dict[str, bytes | str] | None = None,
) -> bytes:
    """Return a minimal docx whose body XML is ``body`` (w: and r: declared)."""
    document = (
        f'<?xml version="1.0"?><w:document xmlns:w="{_W}" xmlns:r="{_R}">'
        f"<w:body>{body}</w:body></w:document>"
    )
    parts: dict[str, bytes | str] = {
        "[Content_Types].xml": _TYPES,
        "word/document.xml": document,
        "word/_rels/document.xml.rels": _rels(rels or []),
    }
    parts.update(extra or {})
    return zip_of(parts)


def xlsx(strings: list[str], rels: list[tuple[str, str, str, bool]]) -> bytes:
    """Return a minimal xlsx with shared strings and sheet relationships."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    shared = "".join(f"<si><t>{text}</t></si>" for text in strings)
    return zip_of(
        {
            "[Content_Types].xml": _TYPES,
            "xl/sharedStrings.xml": f'<sst xmlns="{main}">{shared}</sst>',
            "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{main}"/>',
            "xl/worksheets/_rels/sheet1.xml.rels": _rels(rels),
        }
    )


def pdf_with_link(url: str, pages: int = 1) -> bytes:
    """Return a PDF whose first page has a link annotation with a URI action."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=200, height=200)
    writer.add_annotation(
        page_number=0, annotation=Link(rect=(10, 10, 90, 30), url=url)
    )
    return _written(writer)


def pdf_with_actions(
    actions: list[DictionaryObject], encrypt: str | None = None
) -> bytes:
    """Return a one-page PDF with one link annotation per action."""
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    for action in actions:
        annotation = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Annot"),
                NameObject("/Subtype"): NameObject("/Link"),
                NameObject("/Rect"): ArrayObject(
                    [NumberObject(0), NumberObject(0), NumberObject(9), NumberObject(9)]
                ),
                NameObject("/A"): action,
            }
        )
        writer.add_annotation(page_number=0, annotation=annotation)
    if encrypt is not None:
        writer.encrypt(encrypt, owner_password="owner-secret", algorithm="AES-128")
    return _written(writer)


def pdf_with_text(line: str) -> bytes:
    """Return a one-page PDF that shows ``line`` in Helvetica."""
    writer = PdfWriter()
    page = writer.add_blank_page(width=600, height=200)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {
            NameObject("/Font"): DictionaryObject(
                {NameObject("/F1"): writer._add_object(font)}
            )
        }
    )
    stream = DecodedStreamObject()
    stream.set_data(f"BT /F1 10 Tf 10 100 Td ({line}) Tj ET".encode("latin-1"))
    page[NameObject("/Contents")] = writer._add_object(stream)
    return _written(writer)


def action(kind: str, key: str, target: str) -> DictionaryObject:
    """Return a PDF action dictionary ``/S kind`` with ``key`` set to ``target``."""
    return DictionaryObject(
        {
            NameObject("/S"): NameObject(kind),
            NameObject(key): TextStringObject(target),
        }
    )


def _written(writer: PdfWriter) -> bytes:
    """Serialise a PDF writer to bytes."""
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()
