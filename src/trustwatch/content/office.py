"""URLs in Office Open XML files (docx, xlsx, pptx), read from the zip parts.

External relationship targets (hyperlinks, remote templates, linked objects)
come from the ``_rels/*.rels`` parts, and URLs written in the text from the
content parts. Sizes are checked before and while reading, so a zip bomb costs
at most the part cap and the file's inflated-bytes allowance; XML goes through
defusedxml with DTDs forbidden, so entity expansion attacks are refused. Parts
are parsed a chunk at a time and their elements walked under the file's work
budget, so a small zip of many empty elements cannot keep the reader busy.

:func:`read_member` applies the same caps to the members of a plain archive.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from typing import IO
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as safe_xml
from defusedxml import DefusedXmlException

from trustwatch.content.budget import WorkBudget, WorkLimitReached
from trustwatch.content.model import Collector
from trustwatch.enrichment.urls import extract_urls

__all__ = [
    "MAX_ENTRIES",
    "MAX_PART_BYTES",
    "MAX_RATIO",
    "extract_office",
    "office_kind",
    "read_member",
]

MAX_ENTRIES = 5_000
MAX_PART_BYTES = 16 * 1024 * 1024
MAX_RATIO = 200  # uncompressed / compressed size above which a part is a bomb
_RATIO_FLOOR = 64 * 1024  # smaller parts are not judged by their ratio
_MAX_TEXT_CHARS = 4 * 1024 * 1024
_CHUNK = 64 * 1024  # bytes inflated and parsed between budget checks
_ELEMENTS_PER_STEP = 64  # XML elements walked per work-budget step

_CONTENT_PART = re.compile(
    r"^(?:word/(?:document|header\d*|footer\d*|footnotes|endnotes|comments)"
    r"|xl/(?:sharedStrings|worksheets/sheet\d+)"
    r"|ppt/(?:slides/slide\d+|notesSlides/notesSlide\d+))\.xml$"
)
_RELS_PART = re.compile(r"(?:^|/)_rels/[^/]*\.rels$")
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_BLOCKS = frozenset({"p", "si", "c", "br", "tab", "tr", "instrText", "f"})

# Relationship type suffix -> (where code, flag or "").
_REL_TYPES = {
    "hyperlink": ("office_hyperlink", ""),
    "attachedTemplate": ("office_template", "external_template"),
    "oleObject": ("office_ole_object", "external_object"),
    "frame": ("office_frame", "external_object"),
    "subDocument": ("office_subdocument", "external_object"),
    "externalLinkPath": ("office_external_link", "external_object"),
    "image": ("office_image", ""),
}


def office_kind(zf: zipfile.ZipFile) -> str | None:
    """Name the OOXML flavour of a zip (``"docx"``...), or ``None`` if not OOXML."""
    names = zf.namelist()
    if "[Content_Types].xml" not in names:
        return None
    for prefix, kind in (("word/", "docx"), ("xl/", "xlsx"), ("ppt/", "pptx")):
        if any(name.startswith(prefix) for name in names):
            return kind
    return "ooxml"


def extract_office(zf: zipfile.ZipFile, collector: Collector) -> None:
    """Collect external targets, text URLs and risky traits of an OOXML file.

    Parameters
    ----------
    zf
        The open zip archive.
    collector
        Receives the findings, errors and flags.
    """
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        collector.truncated = True
        collector.error("zip_entries", f"{len(infos)} entries; read {MAX_ENTRIES}")
        infos = infos[:MAX_ENTRIES]
    _flag_traits(infos, collector)
    text = _TextBudget()
    main = next((i for i in infos if i.filename == "word/document.xml"), None)
    # the Word body is parsed once: for hyperlink text, then for text URLs
    body = _read_part(zf, main, collector) if main else None
    link_text = _hyperlink_text(body, collector.budget) if body is not None else {}
    for info in infos:
        if _RELS_PART.search(info.filename):
            _read_rels(zf, info, collector, link_text)
    for info in infos:
        if info is main:
            _scan_text(body, collector, text)
        elif _CONTENT_PART.match(info.filename):
            _scan_text(_read_part(zf, info, collector), collector, text)


def read_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, collector: Collector, max_size: int
) -> bytes | None:
    """Read one archive member within the caps, or record why it was skipped.

    The member's declared sizes are checked first (encryption, over
    ``max_size`` or :data:`MAX_PART_BYTES`, compression ratio, what is left of
    the file's inflated-bytes allowance), then its bytes are inflated a chunk
    at a time under the file's work budget.
    """
    reason = _refusal(info, collector.budget, min(max_size, MAX_PART_BYTES))
    if reason:
        _refuse(collector, info, reason)
        return None
    chunks: list[bytes] = []
    try:
        with zf.open(info) as handle:
            for chunk in _chunks(handle, collector.budget):
                chunks.append(chunk)
    except _Refused as refused:
        _refuse(collector, info, str(refused))
        return None
    except WorkLimitReached:
        raise
    except Exception as error:  # zlib, CRC, truncation: bad input
        _unreadable(collector, info, error)
        return None
    return b"".join(chunks)


class _TextBudget:
    """What is left of the text scanned for URLs in one document."""

    __slots__ = ("left",)

    def __init__(self) -> None:
        self.left = _MAX_TEXT_CHARS


class _Refused(Exception):
    """A part's bytes broke a cap while it was read."""


def _flag_traits(infos: list[zipfile.ZipInfo], collector: Collector) -> None:
    """Flag macros, ActiveX, embedded objects and encryption from the names."""
    for info in infos:
        name = info.filename.lower()
        if name.endswith("vbaproject.bin"):
            collector.flag("macros")
        elif "/activex/" in name:
            collector.flag("activex")
        elif "/embeddings/" in name:
            collector.flag("embedded_objects")
        if info.flag_bits & 0x1:
            collector.flag("encrypted")


def _read_part(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, collector: Collector
) -> Element | None:
    """Parse one XML part within the caps, or record why it was skipped."""
    reason = _refusal(info, collector.budget, MAX_PART_BYTES)
    if reason:
        _refuse(collector, info, reason)
        return None
    parser = safe_xml.DefusedXMLParser(forbid_dtd=True)
    try:
        with zf.open(info) as handle:
            for chunk in _chunks(handle, collector.budget):
                parser.feed(chunk)
        root: Element = parser.close()
        return root
    except _Refused as refused:
        _refuse(collector, info, str(refused))
    except (DefusedXmlException, safe_xml.ParseError) as error:
        collector.error("xml_refused", f"{info.filename[:100]}: {type(error).__name__}")
    except WorkLimitReached:
        raise
    except Exception as error:  # zlib, CRC, truncation: bad input
        _unreadable(collector, info, error)
    return None


def _chunks(handle: IO[bytes], budget: WorkBudget) -> Iterator[bytes]:
    """Inflate a member a chunk at a time, charging each to ``budget``."""
    read = 0
    while chunk := handle.read(_CHUNK):
        read += len(chunk)
        if read > MAX_PART_BYTES:
            raise ValueError("part is larger than its directory entry says")
        if not budget.inflate(len(chunk)):
            raise _Refused("total uncompressed size cap reached")
        budget.check()
        yield chunk


def _refusal(info: zipfile.ZipInfo, budget: WorkBudget, max_size: int) -> str:
    """Say why a part's declared sizes forbid reading it (``""`` when allowed)."""
    if info.flag_bits & 0x1:
        return "encrypted"
    # the ratio first: a bomb is named a bomb however large it declares itself
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > _RATIO_FLOOR and ratio > MAX_RATIO:
        return f"compression ratio {ratio:.0f} looks like a zip bomb"
    if info.file_size > max_size:
        return f"declares {info.file_size} bytes"
    if info.file_size > budget.inflated_left:
        return "total uncompressed size cap reached"
    return ""


def _refuse(collector: Collector, info: zipfile.ZipInfo, reason: str) -> None:
    """Record that a part was not read because of a cap."""
    collector.truncated = True
    collector.error("zip_part_refused", f"{info.filename[:100]}: {reason}")


def _unreadable(collector: Collector, info: zipfile.ZipInfo, error: Exception) -> None:
    """Record that a part's bytes could not be read."""
    detail = f"{type(error).__name__}: {str(error)[:120]}"
    collector.error("zip_part_unreadable", f"{info.filename[:100]}: {detail}")


def _elements(root: Element, budget: WorkBudget) -> Iterator[Element]:
    """Walk a parsed part's elements, charging them to ``budget``."""
    for count, element in enumerate(root.iter(), 1):
        if count % _ELEMENTS_PER_STEP == 0:
            budget.step()
        yield element


def _hyperlink_text(root: Element, budget: WorkBudget) -> dict[str, str]:
    """Map relationship ids to the text of the Word hyperlinks that use them."""
    texts: dict[str, str] = {}
    for element in _elements(root, budget):
        rel_id = element.get(f"{_REL_NS}id")
        if rel_id and _local(element.tag) == "hyperlink":
            texts.setdefault(rel_id, "".join(element.itertext())[:400])
    return texts


def _read_rels(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    collector: Collector,
    link_text: dict[str, str],
) -> None:
    """Collect the external targets of one relationships part."""
    root = _read_part(zf, info, collector)
    if root is None:
        return
    own_text = link_text if info.filename == "word/_rels/document.xml.rels" else {}
    for rel in _elements(root, collector.budget):
        if rel.get("TargetMode", "").lower() != "external":
            continue
        kind = rel.get("Type", "").rsplit("/", 1)[-1]
        where, flag = _REL_TYPES.get(kind, ("office_external", "external_object"))
        if flag:
            collector.flag(flag)
        text = own_text.get(rel.get("Id", ""))
        collector.add_url(rel.get("Target", ""), where, text)


def _scan_text(root: Element | None, collector: Collector, budget: _TextBudget) -> None:
    """Collect the URLs written in the text of one parsed content part."""
    if root is None:
        return
    if budget.left <= 0:
        collector.truncated = True
        return
    pieces: list[str] = []
    for element in _elements(root, collector.budget):
        if _local(element.tag) in _BLOCKS:
            pieces.append("\n")
        if element.text:
            pieces.append(element.text)
    text = "".join(pieces)[: budget.left]
    budget.left -= len(text)
    for url in extract_urls(text):
        collector.add_url(url, "office_text")


def _local(tag: str) -> str:
    """Return an element tag without its namespace."""
    return tag.rsplit("}", 1)[-1]
