"""URLs and forms in an HTML page, read with the standard library's parser.

``html.parser`` builds no tree, so deep nesting costs nothing; the page is fed
in chunks so that a page with too many tags or URLs stops early.
"""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser
from urllib.parse import urljoin

from trustwatch.content.model import Collector, FoundForm, limit_fields
from trustwatch.enrichment.urls import parse_url
from trustwatch.errors import InvalidUrlError

__all__ = ["decode_html", "extract_html", "resolve_link"]

_CHUNK = 64 * 1024
_MAX_TAGS = 500_000  # start tags read before giving up on a page
# html.parser re-reads markup it cannot finish on every feed: cap the backlog
# (a page of "</</</..." is otherwise quadratic) and the time spent per page
_MAX_PENDING = 256 * 1024
_TIME_BUDGET = 3.0  # seconds
_MAX_SCRIPT_CHARS = 2 * 1024 * 1024  # inline script text scanned per page
_WEB_SCHEMES = ("http://", "https://")

_SCRIPT_LOCATION = re.compile(
    r"""(?:\blocation(?:\.href)?\s*=\s*|\blocation\.(?:replace|assign)\(\s*)"""
    r"""(["'`])([^"'`\r\n]{1,4096})\1"""
)
_REFRESH_URL = re.compile(r"""url\s*=\s*['"]?([^'"\s;]+)""", re.IGNORECASE)
# an http(s) scheme and whatever slashes follow it, as browsers read them
_WEB_PREFIX = re.compile(r"(https?):[/\\]*", re.IGNORECASE)
_TWO_SLASHES = frozenset({"//", "\\\\", "/\\", "\\/"})
_URL_ENDS = "".join(map(chr, range(0x21)))  # C0 controls and the space
_DROPPED = str.maketrans("", "", "\t\n\r")


def decode_html(data: bytes, collector: Collector) -> str:
    """Decode page bytes: a UTF-16 BOM, else UTF-8, else UTF-8 with U+FFFD."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        collector.error("invalid_utf8", f"byte {error.start} is not UTF-8; replaced")
        return data.decode("utf-8", errors="replace")


def extract_html(text: str, collector: Collector, base_host: str | None) -> None:
    """Collect the links, forms, refreshes, frames and script redirects of a page.

    Parameters
    ----------
    text
        The decoded page.
    collector
        Receives the findings and enforces the limits.
    base_host
        The host the page was served from, used to resolve relative links and
        to tell whether a form posts to another registrable domain.
    """
    parser = _PageParser(collector, base_host)
    deadline = time.monotonic() + _TIME_BUDGET
    for start in range(0, len(text), _CHUNK):
        if parser.stopped:
            break
        parser.feed(text[start : start + _CHUNK])
        if len(parser.rawdata) > _MAX_PENDING or time.monotonic() > deadline:
            why = (
                "markup never closes"
                if len(parser.rawdata) > _MAX_PENDING
                else ("time budget spent")
            )
            collector.error("html_unparsable", f"{why} after {start + _CHUNK} chars")
            collector.truncated = True
            parser.stopped = True
    if not parser.stopped:
        parser.close()
    parser.finish()


class _PageParser(HTMLParser):
    """Event handler that turns tags into :class:`FoundUrl` and forms."""

    def __init__(self, collector: Collector, base_host: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.out = collector
        self.base_host = base_host
        self.base = f"https://{base_host}/" if base_host else None
        self.stopped = False
        self._tags = 0
        self._link: tuple[str, list[str]] | None = None
        self._form: _OpenForm | None = None
        self._in_script = False
        self._script_chars = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Dispatch a start tag to the handler for its element."""
        self._tags += 1
        if self._tags > _MAX_TAGS or self.out.full:
            self._stop()
            return
        values = {name: value or "" for name, value in attrs}
        handler = _HANDLERS.get(tag)
        if handler is not None:
            handler(self, values)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Treat ``<tag/>`` like ``<tag>``; ``<a/>`` opens no link text."""
        self.handle_starttag(tag, attrs)
        if tag == "a":
            self._end_link()

    def handle_endtag(self, tag: str) -> None:
        """Close the link, form or script the tag ends."""
        if tag == "a":
            self._end_link()
        elif tag == "form":
            self._end_form()
        elif tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        """Gather link text, and scan inline scripts for redirects."""
        if self._link is not None and sum(map(len, self._link[1])) < 400:
            self._link[1].append(data)
        if self._in_script and self._script_chars < _MAX_SCRIPT_CHARS:
            self._script_chars += len(data)
            for match in _SCRIPT_LOCATION.finditer(data):
                self._add(match.group(2), "script_location")

    def finish(self) -> None:
        """Flush what is still open when the page ends."""
        self._end_link()
        self._end_form()

    # ----------------------------------------------------------- elements

    def _on_a(self, attrs: dict[str, str]) -> None:
        self._end_link()
        if "href" in attrs:
            self._link = (attrs["href"], [])

    def _on_area(self, attrs: dict[str, str]) -> None:
        if "href" in attrs:
            self._add(attrs["href"], "a_href", attrs.get("alt"))

    def _on_base(self, attrs: dict[str, str]) -> None:
        href = resolve_link(attrs.get("href", ""), self.base)
        if href.lower().startswith(_WEB_SCHEMES):
            self.base = href
            self._add(href, "base_href")

    def _on_frame(self, attrs: dict[str, str]) -> None:
        if "src" in attrs:
            self._add(attrs["src"], "iframe_src")

    def _on_meta(self, attrs: dict[str, str]) -> None:
        if attrs.get("http-equiv", "").strip().lower() != "refresh":
            return
        match = _REFRESH_URL.search(attrs.get("content", ""))
        if match:
            self._add(match.group(1), "meta_refresh")

    def _on_script(self, attrs: dict[str, str]) -> None:
        self._in_script = True
        if "src" in attrs:
            self._add(attrs["src"], "script_src")

    def _on_form(self, attrs: dict[str, str]) -> None:
        if self._form is not None:
            return  # browsers ignore a form nested in another
        action = attrs.get("action", "").strip() or None
        resolved = self._resolve(action) if action else None
        method = attrs.get("method", "get").strip().lower() or "get"
        self._form = _OpenForm(resolved, method)
        if resolved is not None:
            self._add(resolved, "form_action")

    def _on_input(self, attrs: dict[str, str]) -> None:
        if self._form is None:
            return
        kind = attrs.get("type", "text").strip().lower()
        self._form.has_password |= kind == "password"
        name = attrs.get("name") or attrs.get("id") or kind
        self._form.fields.append(name)

    # ------------------------------------------------------------ helpers

    def _end_link(self) -> None:
        if self._link is not None:
            href, text = self._link
            self._link = None
            self._add(href, "a_href", "".join(text))

    def _end_form(self) -> None:
        form, self._form = self._form, None
        if form is None:
            return
        other = _other_domain(form.action, self.base_host)
        if form.has_password and other:
            self.out.flag("password_form_other_domain")
        self.out.add_form(
            FoundForm(
                action=form.action,
                method=form.method,
                has_password=form.has_password,
                fields=limit_fields(form.fields),
                posts_to_other_domain=other,
            )
        )

    def _add(self, raw: str, where: str, text: str | None = None) -> None:
        url = _as_browser_reads(raw)
        scheme = url.split(":", 1)[0].strip().lower() if ":" in url else ""
        if scheme in ("javascript", "data", "vbscript"):
            self.out.add_url(url, f"{scheme}_url", text)
        elif url and not url.startswith("#"):
            self.out.add_url(self._resolve(url), where, text)

    def _resolve(self, url: str) -> str:
        return resolve_link(url, self.base)

    def _stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.out.truncated = True
            self.out.error("html_limit", "too many tags or URLs; stopped reading")


class _OpenForm:
    """A form whose end tag has not been seen yet."""

    __slots__ = ("action", "fields", "has_password", "method")

    def __init__(self, action: str | None, method: str) -> None:
        self.action = action
        self.method = method
        self.has_password = False
        self.fields: list[str] = []


def resolve_link(raw: str, base: str | None) -> str:
    r"""Resolve a link of a page as a browser would, where that is knowable.

    Browsers drop tabs and line breaks anywhere in a URL, and spaces and
    control characters at its ends; in an http(s) URL they read a backslash
    as a slash and any number of slashes after the scheme as two; a link
    that starts with two of them (``//host/p``) takes the page's scheme. A
    page without a ``base`` is an upload served by the platform, over https,
    so such a link is resolved even then; a relative path without a base
    stays as it was found (its host is not known). As in a browser, a link
    in the page's own scheme with fewer than two slashes (``https:login.php``
    on an https page) is relative.

    >>> resolve_link("//collect.example.net/p.php", None)
    'https://collect.example.net/p.php'
    >>> resolve_link(r"HTTPS:\\collect.example.net\p.php?a=\b", None)
    'https://collect.example.net/p.php?a=\\b'
    >>> resolve_link("../kit/p.php", "http://files.example/a/b/c.html")
    'http://files.example/a/kit/p.php'
    """
    url = _as_browser_reads(raw)
    page_scheme = base.split(":", 1)[0].lower() if base else "https"
    absolute = _WEB_PREFIX.match(url)
    if absolute:
        scheme = absolute.group(1).lower()
        rest = url[absolute.end() :]
        slashes = absolute.end() - len(scheme) - 1
        if scheme != page_scheme or slashes >= 2:
            return _slashed(f"{scheme}://", rest)
        # the page's own scheme and at most one slash: a relative link
        url = url[len(scheme) + 1 :]
    elif url[:2] in _TWO_SLASHES:
        return _slashed(f"{page_scheme}://", url.lstrip("/\\"))
    if base is None:
        return _slashed("", url)
    try:
        return urljoin(base, _slashed("", url))
    except ValueError:
        return url


def _as_browser_reads(raw: str) -> str:
    """``raw`` without the characters a browser drops from a URL."""
    return raw.strip(_URL_ENDS).translate(_DROPPED)


def _slashed(prefix: str, rest: str) -> str:
    """``prefix + rest``, with backslashes before the query or fragment as
    slashes, as in an http(s) URL a browser reads them."""
    cut = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=-1)
    head, tail = (rest, "") if cut < 0 else (rest[:cut], rest[cut:])
    return prefix + head.replace("\\", "/") + tail


def _other_domain(action: str | None, base_host: str | None) -> bool | None:
    """Say whether ``action`` posts off the page's registrable domain."""
    if action is None:
        return False  # a form without an action posts to its own page
    lowered = action.lower()
    if not lowered.startswith(_WEB_SCHEMES):
        return None if ":" in action.split("/", 1)[0] else False
    if base_host is None:
        return None
    try:
        target = parse_url(action).registrable_domain
        home = parse_url(f"http://{base_host}/").registrable_domain
    except InvalidUrlError:
        return None
    return target != home


_HANDLERS = {
    "a": _PageParser._on_a,
    "area": _PageParser._on_area,
    "base": _PageParser._on_base,
    "iframe": _PageParser._on_frame,
    "frame": _PageParser._on_frame,
    "meta": _PageParser._on_meta,
    "script": _PageParser._on_script,
    "form": _PageParser._on_form,
    "input": _PageParser._on_input,
    "select": _PageParser._on_input,
    "textarea": _PageParser._on_input,
}
