"""Extract the URLs and forms of an uploaded file, whatever its format.

The format is sniffed from the bytes first and from the name or MIME type
only when the bytes say nothing. Nothing here fetches or resolves a URL, and
no input makes :func:`extract_content` raise: a corrupt or hostile file gives
``errors`` and whatever was read safely before the problem.

Each file is read under one work budget (a deadline and step and
inflated-byte allowances, see :mod:`trustwatch.content.budget`) that every
format charges; a file it cuts short comes back ``truncated`` with a
``work_limit`` error. A zip that is not an Office document is read member by
member, archives inside it too down to :data:`MAX_ARCHIVE_DEPTH`, under the
caps of the Office parts and the same budget.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile

from trustwatch.content.budget import (
    MAX_STEPS,
    TIME_BUDGET,
    WorkBudget,
    WorkLimitReached,
)
from trustwatch.content.html import decode_html, extract_html
from trustwatch.content.model import Collector, Extraction
from trustwatch.content.office import (
    MAX_ENTRIES,
    extract_office,
    office_kind,
    read_member,
)
from trustwatch.content.pdf import extract_pdf
from trustwatch.content.rtf import extract_rtf
from trustwatch.content.text import extract_text
from trustwatch.errors import ConfigError

__all__ = [
    "MAX_ARCHIVE_DEPTH",
    "MAX_BYTES",
    "MAX_STEPS",
    "MAX_URLS",
    "TIME_BUDGET",
    "extract_content",
    "sniff_kind",
]

logger = logging.getLogger(__name__)

MAX_BYTES = 20 * 1024 * 1024
MAX_URLS = 1000
MAX_ARCHIVE_DEPTH = 3  # archives read one inside another, the upload included
_HEAD_BYTES = 1024  # binary magic (PDF, zip, RTF) is looked for here
# Browsers render a page served as HTML or SVG whatever comes before its
# markup. Sniffing first skips what renders as nothing (byte order marks,
# whitespace, comments, ``<?...?>`` and ``<!...>`` declarations but an HTML
# doctype) through the whole prefix the readers would read, MAX_BYTES, so no
# amount of such padding hides a page: the skip is one linear regex pass that
# backtracks into nothing, microseconds on an ordinary file and under a fifth
# of a second on 20 MB of the costliest padding (tiny comments, one comment
# that never closes). It then looks for markup in this many bytes after
# that: room for the kilobytes of visible text a lure may put before its
# form, for a pass of a few regexes that takes well under a millisecond.
_SNIFF_BYTES = 64 * 1024
_PROLOG = re.compile(
    rb"(?:\s*+(?:<!---?>|<!--.*?--!?>|<\?[^>]*+>"
    rb"|<!(?!--|(?i:doctype\s+html))[^>]*+>"
    rb"|\xef\xbb\xbf))*+\s*+",
    re.DOTALL,
)
# Marks of a page in the markup: elements that make a document a page
# wherever they are, and elements that act in a browser (navigate, load or
# run) written as a browser would act on them. The element name must end
# where a tag name ends, and an acting element needs what makes it act, so
# prose that names a tag (``the <a > tag``, ``<script> tags``, ``<formula>``)
# is not taken for a page.
_HTML_MARKS = re.compile(
    rb"<(?:!doctype\s+html|html|head|body|svg|form|iframe|frameset)[\s/>]"
    rb"|<(?:a|area|frame|script|embed|iframe)\s[^<>]*?\b(?:href|src)\s*="
    rb"|<meta\s[^<>]*?http-equiv\s*=\s*[\"']?\s*refresh"
)
_SCRIPT_OPEN = re.compile(rb"<script[\s>]")
_SCRIPT_CLOSE = re.compile(rb"</script[\s>]")
# a document that starts with a tag is markup whatever follows it
_TAG_START = re.compile(rb"<[a-z][a-z0-9:-]*[\s/>]")
_BY_SUFFIX = {
    "html": "html",
    "htm": "html",
    "xhtml": "html",
    "shtml": "html",
    "svg": "html",  # browsers render SVG, links and scripts included
    "pdf": "pdf",
    "rtf": "rtf",
    "txt": "text",
    "text": "text",
    **{ext: "zip" for ext in ("docx", "docm", "xlsx", "xlsm", "pptx", "pptm")},
}
_BY_MIME = {
    "text/html": "html",
    "application/xhtml+xml": "html",
    "image/svg+xml": "html",
    "application/pdf": "pdf",
    "application/rtf": "rtf",
    "text/rtf": "rtf",
    "text/plain": "text",
}


def sniff_kind(
    data: bytes, name: str | None = None, mime_type: str | None = None
) -> str:
    """Guess a file's format from its bytes, then its name or MIME type.

    The answer is ``"html"``, ``"pdf"``, ``"zip"``, ``"rtf"``, ``"text"`` or
    ``"unknown"``. SVG images are ``"html"``: browsers render them as pages.

    Magic bytes in the first kilobyte win. Then markup: byte order marks,
    whitespace, comments, XML prologs and doctypes are skipped, as a browser
    renders none of them, and the next 64 KiB are searched for page markup
    (:data:`_HTML_MARKS`). The file name's suffix and then the MIME type count
    only when the bytes match nothing; last, a document whose first content
    is a tag is read as HTML.

    Examples
    --------
    >>> sniff_kind(b"%PDF-1.7 ...")
    'pdf'
    >>> sniff_kind(b"hello", name="invoice.HTM")
    'html'
    >>> sniff_kind(b"<!-- padding -->\\n<script>location='x'</script>")
    'html'
    """
    head = data[:_HEAD_BYTES]
    if b"%PDF-" in head:
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.lstrip().startswith(b"{\\rtf"):
        return "rtf"
    markup = _markup(data)
    if _has_page_marks(markup):
        return "html"
    kind = _kind_from_label(name, mime_type)
    if kind == "unknown" and _TAG_START.match(markup):
        return "html"
    return kind


def _markup(data: bytes) -> bytes:
    """The lowercased first :data:`_SNIFF_BYTES` after what renders as nothing.

    UTF-16 text (by its byte order mark) is read as UTF-8 for the search; a
    comment that never closes leaves nothing.
    """
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        data = _utf16_as_utf8(data[:MAX_BYTES])
    # matched in place: a slice would copy up to MAX_BYTES
    prolog = _PROLOG.match(data, 0, MAX_BYTES)
    end = prolog.end()  # type: ignore[union-attr]  # the pattern matches ""
    if data.startswith(b"<!--", end, MAX_BYTES):
        return b""  # a comment that never closes: nothing after it renders
    return data[end : min(end + _SNIFF_BYTES, MAX_BYTES)].lower()


def _utf16_as_utf8(prefix: bytes) -> bytes:
    """UTF-16 ``prefix`` as UTF-8, without its byte order mark."""
    text = prefix.decode("utf-16", errors="ignore")
    return text.lstrip("\ufeff").encode("utf-8", "ignore")


def _has_page_marks(markup: bytes) -> bool:
    """Whether ``markup`` holds an element that makes it a page."""
    if _HTML_MARKS.search(markup):
        return True
    # an inline script acts only as a whole, start tag to end tag
    opened = _SCRIPT_OPEN.search(markup)
    return opened is not None and bool(_SCRIPT_CLOSE.search(markup, opened.end()))


def extract_content(
    data: bytes,
    *,
    name: str | None = None,
    mime_type: str | None = None,
    base_host: str | None = None,
    max_bytes: int = MAX_BYTES,
    max_urls: int = MAX_URLS,
    time_budget: float = TIME_BUDGET,
    max_steps: int = MAX_STEPS,
) -> Extraction:
    """Extract the URLs and forms of an HTML, PDF, Office, RTF, text or zip file.

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
    time_budget
        Seconds of reading allowed for the whole file, archive members
        included. When they run out, reading stops: ``truncated`` is set and a
        ``"work_limit"`` error says why.
    max_steps
        Units of parsing work allowed for the whole file (PDF operators, XML
        elements by the 64, archive members), stopping reading as
        ``time_budget`` does.

    Returns
    -------
    Extraction
        The kind, URLs, forms, limits hit, errors and risky traits.

    Raises
    ------
    trustwatch.errors.ConfigError
        When ``max_bytes``, ``max_urls`` or ``max_steps`` is negative, or
        ``time_budget`` is not positive (never for bad data).

    Examples
    --------
    >>> page = b'<html><a href="https://login.example/x">Sign in</a></html>'
    >>> extract_content(page).urls[0]
    FoundUrl(url='https://login.example/x', where='a_href', text='Sign in')
    """
    _check_limits(max_bytes, max_urls)
    collector = Collector(max_urls, WorkBudget(time_budget, max_steps))
    kind = sniff_kind(data, name, mime_type)
    if len(data) > max_bytes:
        collector.truncated = True
        collector.error("too_large", f"{len(data)} bytes; the limit is {max_bytes}")
        data = data[:max_bytes]
        if kind in ("pdf", "zip"):
            return collector.result("pdf" if kind == "pdf" else "unknown")
    kind = _dispatch(kind, data, collector, base_host, max_bytes=max_bytes)
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
    kind: str,
    data: bytes,
    collector: Collector,
    base_host: str | None,
    *,
    depth: int = 1,
    max_bytes: int = MAX_BYTES,
) -> str:
    """Run the extractor for ``kind`` and return the final kind name.

    ``depth`` counts the archives the data was found in, the upload included,
    and ``max_bytes`` bounds each archive member read. The upload's own call
    records a spent work budget; inside an archive,
    :class:`~trustwatch.content.budget.WorkLimitReached` passes through.
    """
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
            return _extract_zip(data, collector, depth, max_bytes)
    except WorkLimitReached as stop:
        if depth > 1:
            raise
        _note_stop(collector, stop)
    except RecursionError:
        collector.error("too_deep", f"{kind} nesting is too deep; stopped reading")
    except Exception as error:  # a parser bug must not turn bad data into a crash
        logger.warning(
            "content extractor failed kind=%s error=%s", kind, type(error).__name__
        )
        collector.error("extractor_failed", f"{kind}: {type(error).__name__}")
    return kind


def _extract_zip(data: bytes, collector: Collector, depth: int, max_bytes: int) -> str:
    """Read an OOXML zip as a document, any other zip member by member."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except Exception as error:  # zipfile raises many types on a damaged archive
        collector.error("zip_unreadable", f"{type(error).__name__}: {str(error)[:120]}")
        return "unknown"
    with zf:
        kind = office_kind(zf) or "zip"
        try:
            if kind == "zip":
                _extract_archive(zf, collector, depth, max_bytes)
            else:
                extract_office(zf, collector)
        except WorkLimitReached as stop:
            if depth > 1:
                raise
            _note_stop(collector, stop)  # here, where the kind is known
        return kind


def _note_stop(collector: Collector, stop: WorkLimitReached) -> None:
    """Record that the work budget cut the file short."""
    collector.truncated = True
    collector.error("work_limit", f"{stop}; the rest of the file was not read")


def _extract_archive(
    zf: zipfile.ZipFile, collector: Collector, depth: int, max_bytes: int
) -> None:
    """Read the members of a plain zip whose format is known, archives included.

    Members of unknown format are skipped, as an upload of unknown format
    is; larger members than ``max_bytes`` are refused; errors from a member
    name it.
    """
    infos = [info for info in zf.infolist() if not info.is_dir()]
    if len(infos) > MAX_ENTRIES:
        collector.truncated = True
        collector.error("zip_entries", f"{len(infos)} entries; read {MAX_ENTRIES}")
        infos = infos[:MAX_ENTRIES]
    for info in infos:
        if collector.full:
            collector.truncated = True
            return
        collector.budget.step()
        _extract_member(zf, info, collector, depth, max_bytes)


def _extract_member(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    collector: Collector,
    depth: int,
    max_bytes: int,
) -> None:
    """Sniff one archive member and read it if its format is known."""
    if info.flag_bits & 0x1:
        collector.flag("encrypted")
    head = _head(zf, info, collector.budget)
    kind = sniff_kind(head, info.filename)
    if kind == "unknown":
        # not read, so read_member charges nothing: the head's bytes past the
        # first kilobyte count against the inflated-bytes allowance here
        collector.budget.inflate(max(0, len(head) - _HEAD_BYTES))
        return
    member = info.filename[:100]
    if kind == "zip" and depth >= MAX_ARCHIVE_DEPTH:
        collector.truncated = True
        collector.error(
            "zip_too_deep",
            f"{member}: archives nested over {MAX_ARCHIVE_DEPTH} deep; not read",
        )
        return
    data = read_member(zf, info, collector, max_bytes)
    if data is None:
        return
    errors_before = len(collector.errors)
    _dispatch(kind, data, collector, None, depth=depth + 1, max_bytes=max_bytes)
    collector.errors[errors_before:] = [
        _in_member(error, member) for error in collector.errors[errors_before:]
    ]


def _head(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: WorkBudget) -> bytes:
    """Return the bytes a member is sniffed from, or ``b""`` when unreadable.

    That is its first :data:`_SNIFF_BYTES`, or less where the file's
    inflated-bytes allowance has less left, but never under a kilobyte.
    """
    if info.flag_bits & 0x1:
        return b""
    size = max(_HEAD_BYTES, min(_SNIFF_BYTES, budget.inflated_left))
    try:
        with zf.open(info) as handle:
            return handle.read(size)
    except Exception:  # read_member reports the same fault if the member is read
        return b""


def _in_member(error: str, member: str) -> str:
    """Name the archive member an error came from: ``code: member: detail``."""
    code, _, detail = error.partition(": ")
    return f"{code}: {member}: {detail}"


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
