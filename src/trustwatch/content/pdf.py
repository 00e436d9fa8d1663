"""URLs in a PDF: link and form actions, and URLs written in the page text.

Read with pypdf in non-strict mode. pypdf may fail in many ways on a hostile
file, so each page is read on its own and a failure costs only that page.
Text extraction is the costly part: a page's content (and the forms it can
draw) is parsed for text only when small enough, and every operator is charged
to the file's work budget, so a few kilobytes of operators that all pages
share cannot keep the reader busy.
"""

from __future__ import annotations

import io
import logging
import re
import warnings
from collections.abc import Iterator
from typing import Any

from pypdf import PageObject, PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, StreamObject

from trustwatch.content.budget import WorkBudget, WorkLimitReached
from trustwatch.content.model import Collector
from trustwatch.enrichment.urls import extract_urls

__all__ = ["MAX_PAGES", "MAX_PAGE_CONTENT_BYTES", "extract_pdf"]

logger = logging.getLogger(__name__)

MAX_PAGES = 50
#: Decoded content bytes, the page's and its forms', parsed for a page's text:
#: pypdf parses a content stream whole before the first operator can be charged.
MAX_PAGE_CONTENT_BYTES = 256 * 1024
_MAX_TEXT_CHARS = 2 * 1024 * 1024  # page text scanned for URLs, all pages
_MAX_FORMS = 500  # form XObjects a page's text may draw
_MAX_TJ_ITEMS = 4096  # strings and offsets in one TJ array
# operators that can draw text, directly or from a form
_TEXT_OPERATOR = re.compile(rb"T[jJ]|Do|['\"]")
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
        collector.budget.check()
        try:
            page = reader.pages[index]
            _read_annotations(page.get("/Annots"), collector)
            if text_chars < _MAX_TEXT_CHARS:
                text = _page_text(page, index + 1, collector)
                text = text[: _MAX_TEXT_CHARS - text_chars]
                text_chars += len(text)
                for url in extract_urls(text):
                    collector.add_url(url, "pdf_text")
        except WorkLimitReached:
            raise
        except Exception as error:
            collector.error("pdf_page", f"page {index + 1}: {_describe(error)}")


def _page_text(page: PageObject, number: int, collector: Collector) -> str:
    """Extract a page's text, charging each operator to the work budget.

    A page whose content and forms exceed :data:`MAX_PAGE_CONTENT_BYTES` is
    not parsed: its text is skipped and the extraction marked truncated.
    """
    contents = page.get_contents()
    data = contents.get_data() if contents is not None else b""
    if not _TEXT_OPERATOR.search(data):
        return ""  # no text to show, directly or from a form
    size = len(data) + _form_bytes(page, MAX_PAGE_CONTENT_BYTES - len(data))
    if size > MAX_PAGE_CONTENT_BYTES:
        collector.truncated = True
        collector.error(
            "pdf_limit",
            f"page {number}: over {MAX_PAGE_CONTENT_BYTES} bytes of content; "
            "its text was not read",
        )
        return ""
    budget = collector.budget

    def charge(operator: bytes, operands: Any, _cm: Any, _tm: Any) -> None:
        _charge_operator(budget, operator, operands)

    return page.extract_text(visitor_operand_before=charge)


def _charge_operator(budget: WorkBudget, operator: bytes, operands: Any) -> None:
    """Charge one content operator, and stop on a TJ array too long to show."""
    items = operands[0] if operator == b"TJ" and operands else None
    if isinstance(items, ArrayObject) and len(items) > _MAX_TJ_ITEMS:
        budget.stop(f"a TJ operator holds over {_MAX_TJ_ITEMS} items")
    budget.step()


def _form_bytes(page: PageObject, allowance: int) -> int:
    """Return the decoded bytes of the forms a page can draw.

    Forms drawn by forms count too. Counting stops once past ``allowance``;
    more than 500 forms count as past it.
    """
    total = 0
    seen: set[int] = set()
    pending = [page.get("/Resources")]
    while pending and total <= allowance:
        resources = _resolve(pending.pop())
        if not isinstance(resources, DictionaryObject):
            continue
        xobjects = _resolve(resources.get("/XObject"))
        if not isinstance(xobjects, DictionaryObject):
            continue
        for value in xobjects.values():
            form = _resolve(value)
            if id(form) in seen or not isinstance(form, StreamObject):
                continue
            if form.get("/Subtype") != "/Form":
                continue
            seen.add(id(form))
            if len(seen) > _MAX_FORMS:
                return allowance + 1
            total += len(form.get_data())
            pending.append(form.get("/Resources"))
    return total


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
