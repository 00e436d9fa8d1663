"""URLs in a PDF: link and form actions, and URLs written in the page text.

Read with pypdf in non-strict mode. pypdf may fail in many ways on a hostile
file, so each page is read on its own and a failure costs only that page.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Iterator
from typing import Any

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject

from trustwatch.content.model import Collector
from trustwatch.enrichment.urls import extract_urls

__all__ = ["extract_pdf"]

logger = logging.getLogger(__name__)

MAX_PAGES = 50
_MAX_TEXT_CHARS = 2 * 1024 * 1024  # page text scanned for URLs, all pages
_MAX_ANNOTS = 1000  # annotations read per page
_MAX_NEXT = 20  # chained /Next actions followed

# Action type -> the ``where`` code of the URL it carries.
_ACTIONS = {
    "/URI": "pdf_uri_action",
    "/Launch": "pdf_launch_action",
    "/SubmitForm": "pdf_submit_form",
    "/GoToR": "pdf_remote_goto",
    "/GoToE": "pdf_remote_goto",
    "/ImportData": "pdf_import_data",
}


def extract_pdf(data: bytes, collector: Collector) -> None:
    """Collect the URLs of the first 50 pages of a PDF.

    Parameters
    ----------
    data
        The file's bytes.
    collector
        Receives the findings, errors and flags.
    """
    with warnings.catch_warnings():
        # pypdf warns on every repaired defect; those are not our caller's.
        warnings.simplefilter("ignore")
        reader = _open(data, collector)
        if reader is None:
            return
        _read_document_actions(reader, collector)
        _read_pages(reader, collector)


def _open(data: bytes, collector: Collector) -> PdfReader | None:
    """Open the PDF, decrypting it with the empty password when it is locked."""
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            collector.flag("encrypted")
            if not reader.decrypt(""):
                collector.error("pdf_encrypted", "needs a password; not read")
                return None
        return reader
    except Exception as error:  # any parser failure is bad input
        collector.error("pdf_unreadable", _describe(error))
        return None


def _read_document_actions(reader: PdfReader, collector: Collector) -> None:
    """Collect the action run when the document opens."""
    try:
        root = _resolve(reader.trailer["/Root"])
        _read_action(root.get("/OpenAction"), collector)
        _read_action(root.get("/AA"), collector)
    except Exception as error:
        collector.error("pdf_catalog", _describe(error))


def _read_pages(reader: PdfReader, collector: Collector) -> None:
    """Collect annotation actions and text URLs page by page."""
    try:
        count = len(reader.pages)
    except Exception as error:
        collector.error("pdf_pages", _describe(error))
        return
    if count > MAX_PAGES:
        collector.truncated = True
    text_chars = 0
    for index in range(min(count, MAX_PAGES)):
        if collector.full:
            collector.truncated = True
            return
        try:
            page = reader.pages[index]
            _read_annotations(page.get("/Annots"), collector)
            if text_chars < _MAX_TEXT_CHARS:
                text = page.extract_text()[: _MAX_TEXT_CHARS - text_chars]
                text_chars += len(text)
                for url in extract_urls(text):
                    collector.add_url(url, "pdf_text")
        except Exception as error:
            collector.error("pdf_page", f"page {index + 1}: {_describe(error)}")


def _read_annotations(annots: Any, collector: Collector) -> None:
    """Collect the actions of a page's annotations (links and form widgets)."""
    annots = _resolve(annots)
    if not isinstance(annots, ArrayObject):
        return
    for annot in list(annots)[:_MAX_ANNOTS]:
        annot = _resolve(annot)
        if isinstance(annot, DictionaryObject):
            _read_action(annot.get("/A"), collector)
            _read_action(annot.get("/AA"), collector)


def _read_action(action: Any, collector: Collector) -> None:
    """Collect the target of an action, its ``/Next`` chain and trigger map."""
    for item in _actions(action):
        kind = str(item.get("/S", ""))
        if kind == "/JavaScript":
            collector.flag("pdf_javascript")
            for url in extract_urls(_text(item.get("/JS"))[:_MAX_TEXT_CHARS]):
                collector.add_url(url, "pdf_javascript")
        elif kind in _ACTIONS:
            if kind == "/Launch":
                collector.flag("pdf_launch_action")
            target = _target(item)
            if target:
                collector.add_url(target, _ACTIONS[kind])


def _actions(action: Any) -> Iterator[DictionaryObject]:
    """Yield an action, the actions chained after it, or those of a trigger map."""
    pending = [_resolve(action)]
    seen = 0
    while pending and seen < _MAX_NEXT:
        item = _resolve(pending.pop(0))
        seen += 1
        if not isinstance(item, DictionaryObject):
            if isinstance(item, ArrayObject):
                pending.extend(list(item)[:_MAX_NEXT])
            continue
        if "/S" not in item:
            # an additional-actions map: trigger name -> action
            pending.extend(list(item.values())[:_MAX_NEXT])
            continue
        yield item
        if "/Next" in item:
            pending.append(item["/Next"])


def _target(action: DictionaryObject) -> str:
    """Return the URI or file an action points at, or ``""``."""
    if "/URI" in action:
        return _text(action["/URI"])
    spec = _resolve(action.get("/F"))
    if spec is None and "/Win" in action:
        spec = _resolve(_resolve(action["/Win"]).get("/F"))
    if isinstance(spec, DictionaryObject):
        spec = _resolve(spec.get("/UF") or spec.get("/F"))
    return _text(spec)


def _resolve(value: Any) -> Any:
    """Follow an indirect reference, if ``value`` is one."""
    return value.get_object() if hasattr(value, "get_object") else value


def _text(value: Any) -> str:
    """Return a PDF string or stream as text (``""`` for anything else)."""
    value = _resolve(value)
    if value is None:
        return ""
    if hasattr(value, "get_data"):
        return bytes(value.get_data()).decode("latin-1")
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)


def _describe(error: BaseException) -> str:
    """Name an exception without echoing file content at length."""
    return f"{type(error).__name__}: {str(error)[:120]}"
