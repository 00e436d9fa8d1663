"""Extract the URLs and forms of an uploaded file, whatever its format.

The format is sniffed from the bytes first and from the name or MIME type
only when the bytes say nothing. Nothing here fetches or resolves a URL, and
no input makes :func:`extract_content` raise: a corrupt or hostile file gives
``errors`` and whatever was read safely before the problem.
"""

from __future__ import annotations

import io
import logging
import zipfile

from trustwatch.content.html import decode_html, extract_html
from trustwatch.content.model import Collector, Extraction
from trustwatch.content.office import extract_office, office_kind
from trustwatch.content.pdf import extract_pdf
from trustwatch.content.rtf import extract_rtf
from trustwatch.content.text import extract_text
from trustwatch.errors import ConfigError

__all__ = ["MAX_BYTES", "MAX_URLS", "extract_content", "sniff_kind"]

logger = logging.getLogger(__name__)

MAX_BYTES = 20 * 1024 * 1024
MAX_URLS = 1000

_HTML_MARKS = (b"<html", b"<!doctype html", b"<form", b"<head", b"<body", b"<iframe")
_BY_SUFFIX = {
    "html": "html",
    "htm": "html",
    "xhtml": "html",
    "shtml": "html",
    "pdf": "pdf",
    "rtf": "rtf",
    "txt": "text",
    "text": "text",
    **{ext: "zip" for ext in ("docx", "docm", "xlsx", "xlsm", "pptx", "pptm")},
}
_BY_MIME = {
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    "application/rtf": "rtf",
    "text/rtf": "rtf",
    "text/plain": "text",
}


def sniff_kind(
    data: bytes, name: str | None = None, mime_type: str | None = None
) -> str:
    """Guess a file's format from its first kilobyte, then its name or MIME type.

    The answer is ``"html"``, ``"pdf"``, ``"zip"``, ``"rtf"``, ``"text"`` or
    ``"unknown"``.

    Magic bytes win; the file name's suffix and then the MIME type count
    only when the first kilobyte matches nothing.

    Examples
    --------
    >>> sniff_kind(b"%PDF-1.7 ...")
    'pdf'
    >>> sniff_kind(b"hello", name="invoice.HTM")
    'html'
    """
    head = data[:1024]
    if b"%PDF-" in head:
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.lstrip().startswith(b"{\\rtf"):
        return "rtf"
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        head = head.decode("utf-16", errors="ignore").encode("utf-8", "ignore")
    lowered = head.lower()
    if any(mark in lowered for mark in _HTML_MARKS):
        return "html"
    return _kind_from_label(name, mime_type)


def extract_content(
    data: bytes,
    *,
    name: str | None = None,
    mime_type: str | None = None,
    base_host: str | None = None,
    max_bytes: int = MAX_BYTES,
    max_urls: int = MAX_URLS,
) -> Extraction:
    """Extract the URLs and forms of an HTML, PDF, Office, RTF or text file.

    Parameters
    ----------
    data
        The file's bytes. They are only read: no URL is ever fetched.
    name
        The uploaded file name, used only when the bytes give no format.
    mime_type
        The declared MIME type, used only when the bytes and name give none.
    base_host
        The host an HTML page was served from: relative links resolve against
        it and forms are checked for posting to another registrable domain.
    max_bytes
        Larger HTML, RTF and text files are read up to this size; larger PDF and
        Office files are not read. Either way ``truncated`` is set.
    max_urls
        URLs (and, separately, forms) kept before ``truncated`` is set.

    Returns
    -------
    Extraction
        The kind, URLs, forms, limits hit, errors and risky traits.

    Raises
    ------
    trustwatch.errors.ConfigError
        When ``max_bytes`` or ``max_urls`` is negative (never for bad data).

    Examples
    --------
    >>> page = b'<html><a href="https://login.example/x">Sign in</a></html>'
    >>> extract_content(page).urls[0]
    FoundUrl(url='https://login.example/x', where='a_href', text='Sign in')
    """
    _check_limits(max_bytes, max_urls)
    collector = Collector(max_urls)
    kind = sniff_kind(data, name, mime_type)
    if len(data) > max_bytes:
        collector.truncated = True
        collector.error("too_large", f"{len(data)} bytes; the limit is {max_bytes}")
        data = data[:max_bytes]
        if kind in ("pdf", "zip"):
            return collector.result("pdf" if kind == "pdf" else "unknown")
    kind = _dispatch(kind, data, collector, base_host)
    result = collector.result(kind)
    logger.debug(
        "extracted kind=%s urls=%d forms=%d errors=%d truncated=%s",
        kind,
        len(result.urls),
        len(result.forms),
        len(result.errors),
        result.truncated,
    )
    return result


def _dispatch(
    kind: str, data: bytes, collector: Collector, base_host: str | None
) -> str:
    """Run the extractor for ``kind`` and return the final kind name."""
    try:
        if kind == "html":
            extract_html(decode_html(data, collector), collector, base_host)
        elif kind == "pdf":
            extract_pdf(data, collector)
        elif kind == "rtf":
            extract_rtf(data, collector)
        elif kind == "text":
            extract_text(data, collector)
        elif kind == "zip":
            return _extract_zip(data, collector)
    except RecursionError:
        collector.error("too_deep", f"{kind} nesting is too deep; stopped reading")
    except Exception as error:  # a parser bug must not turn bad data into a crash
        logger.warning(
            "content extractor failed kind=%s error=%s", kind, type(error).__name__
        )
        collector.error("extractor_failed", f"{kind}: {type(error).__name__}")
    return kind


def _extract_zip(data: bytes, collector: Collector) -> str:
    """Read an OOXML zip; any other zip is of unknown kind."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except Exception as error:  # zipfile raises many types on a damaged archive
        collector.error("zip_unreadable", f"{type(error).__name__}: {str(error)[:120]}")
        return "unknown"
    with zf:
        kind = office_kind(zf)
        if kind is None:
            return "unknown"
        extract_office(zf, collector)
        return kind


def _kind_from_label(name: str | None, mime_type: str | None) -> str:
    """Guess the kind from a file name suffix, then from a MIME type."""
    if name and "." in name:
        kind = _BY_SUFFIX.get(name.rsplit(".", 1)[1].strip().lower())
        if kind:
            return kind
    if mime_type:
        essence = mime_type.split(";", 1)[0].strip().lower()
        if essence.startswith("application/vnd.openxmlformats-officedocument"):
            return "zip"
        if "macroenabled" in essence:
            return "zip"
        return _BY_MIME.get(essence, "unknown")
    return "unknown"


def _check_limits(max_bytes: int, max_urls: int) -> None:
    """Refuse negative limits: they are a caller's mistake, not bad data."""
    if max_bytes < 0:
        raise ConfigError(f"max_bytes={max_bytes} is negative; pass a byte count >= 0")
    if max_urls < 0:
        raise ConfigError(f"max_urls={max_urls} is negative; pass a count >= 0")
