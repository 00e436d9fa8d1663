"""URLs and forms in an HTML page, read with the standard library's parser.

SVG images are read the same way: their ``<a>`` links (``href`` or
``xlink:href``, and targets set by ``<animate>``/``<set>``), scripts and the
HTML of a ``<foreignObject>`` are what a browser acts on.

``html.parser`` builds no tree, so deep nesting costs nothing; the page is fed
in chunks so that a page with too many tags or URLs stops early. Comments and
declarations before the markup, and comments and scripts of any length
within it, are read past as a browser reads past them.

A page can carry whole pages of its own, shown without fetching anything: the
``srcdoc`` of an ``<iframe>`` and a ``data:text/html`` URL. Both are read as
nested pages whose links and forms count as the page's. The page and all that
is nested in it share the file's work budget
(:class:`~trustwatch.content.budget.WorkBudget`, checked between chunks) and
one tag count, and nesting is bounded in depth, in number and in characters.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from html.parser import HTMLParser
from typing import NamedTuple
from urllib.parse import unquote_to_bytes, urljoin

from trustwatch.content.budget import WorkLimitReached
from trustwatch.content.model import Collector, FoundForm, limit_fields
from trustwatch.enrichment.urls import parse_url
from trustwatch.errors import InvalidUrlError

__all__ = ["decode_html", "extract_html", "resolve_link"]

_CHUNK = 64 * 1024
_MAX_TAGS = 500_000  # start tags read before giving up on a page
# html.parser re-reads markup it cannot finish on every feed: cap the backlog
# (a page of "</</</..." is otherwise quadratic)
_MAX_PENDING = 256 * 1024
_MAX_SCRIPT_CHARS = 2 * 1024 * 1024  # inline script text scanned per page
_WEB_SCHEMES = ("http://", "https://")
# pages nested in the page (srcdoc, data: URLs), all of them together
_MAX_DEPTH = 3  # levels below the page
_MAX_NESTED = 64  # nested pages read
_MAX_NESTED_CHARS = 1024 * 1024  # their decoded characters
_NESTED_MEDIA = frozenset({"text/html", "application/xhtml+xml", "image/svg+xml"})
# text encodings a data: URL may name; others (punycode, idna...) read as UTF-8
_CHARSETS = ("utf-8", "utf-16", "ascii", "cp125", "cp874", "iso8859-", "koi8-")
_CHARSETS_CJK = (
    "shift_jis",
    "euc_jp",
    "euc_kr",
    "gb2312",
    "gbk",
    "gb18030",
    "big5",
    "iso2022_jp",
)
_BASE64_SPACE = b" \t\n\f\r"
# controls tied to a form by its id (form="..."), per page
_MAX_DETACHED = 10_000
_MAX_TARGETS = 32  # distinct places one form submits to
_SUBMIT_INPUTS = frozenset({"submit", "image"})
_NOT_SUBMIT_BUTTONS = frozenset({"button", "reset"})

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
# what a page may start with that renders as nothing: whitespace, byte order
# marks, comments, ``<?...>`` and ``<!...>``; skipped before the page is fed,
# as html.parser would give up on one longer than _MAX_PENDING
_PROLOG = re.compile(
    r"(?:[ \t\n\f\r\ufeff]*+(?:<!---?>|<!--.*?--!?>|<\?[^>]*+>"
    r"|<!(?!--)[^>]*+>))*+",
    re.DOTALL,
)
_COMMENT_END = re.compile(r"--!?>")
_END_TAG_ROOM = 64  # characters kept back where a script's end tag may start
# SVG animations that set a link's target: <animate attributeName="href" ...>
_ANIMATED_LINK = frozenset({"href", "xlink:href"})
_MAX_ANIMATED = 16  # values of one animation read as links


def decode_html(data: bytes, collector: Collector) -> str:
    """Decode page bytes: a UTF-16 BOM, else UTF-8, else UTF-8 with U+FFFD.

    Seven-bit text with ISO-2022-JP escapes is decoded as ISO-2022-JP, as a
    browser told that charset does: its escapes vanish from the page, so
    ``<in\x1b(Bput type=pass\x1b(Bword>`` is a password field.
    """
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16", errors="replace")
    escaped = _iso2022(data)
    if escaped is not None:
        return escaped
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
    base = f"https://{base_host}/" if base_host else None
    _read(_PageParser(collector, base_host, base, _Budget()), text)
    if collector.budget.spent:
        # the file's work budget stopped the page (and what it nests): what
        # was read is kept, and the stop is reported as the other readers' is
        raise WorkLimitReached(collector.budget.reason)


def _read(parser: _PageParser, text: str) -> None:
    """Feed ``text`` to ``parser`` in chunks until it ends or a limit stops it.

    What renders as nothing before the markup is skipped first, and a comment
    or script left pending past :data:`_MAX_PENDING` is read past
    (:func:`_unblock`), as a browser reads it, so no amount of comment or
    script padding hides the rest of the page.
    """
    budget = parser.budget
    position = _PROLOG.match(text).end()  # type: ignore[union-attr]  # matches ""
    while position < len(text):
        if parser.stopped or budget.timed_out:
            parser.stopped = True
            break
        parser.feed(text[position : position + _CHUNK])
        position += _CHUNK
        if _work_spent(parser.out):
            # the file's budget: the page and every page it nests stop here
            parser.stopped = budget.timed_out = True
            break
        if len(parser.rawdata) > _MAX_PENDING:
            position = _unblock(parser, text, position)
        if len(parser.rawdata) > _MAX_PENDING:
            parser.out.error(
                "html_unparsable", f"markup never closes after {position} chars"
            )
            parser.out.truncated = True
            parser.stopped = True
    if not parser.stopped:
        parser.close()
    parser.finish()


def _unblock(parser: _PageParser, text: str, position: int) -> int:
    """Hand on what ``parser`` holds back that a browser would read past.

    html.parser holds an open comment, and the text of a ``<script>`` or
    ``<style>``, until their end, re-reading them on every feed. A comment is
    skipped to its end (one that never closes ends the page, as in a
    browser); script or style text is handed over as data, all but a last
    ``<...`` that may start the end tag. Returns the position to feed from;
    anything else pending is left as it is.
    """
    pending = parser.rawdata
    if parser.cdata_elem is not None:
        cut = pending.rfind("<")
        if cut < 0 or len(pending) - cut > _END_TAG_ROOM:
            cut = len(pending)
        parser.rawdata = pending[cut:]
        parser.handle_data(pending[:cut])
    elif pending.startswith("<!--"):
        start = min(position, len(text)) - len(pending)
        end = _COMMENT_END.search(text, start + 4)
        parser.rawdata = ""
        return end.end() if end else len(text)
    return position


def _work_spent(collector: Collector) -> bool:
    """Whether the file's work budget is spent (checked between chunks)."""
    try:
        collector.budget.check()
    except WorkLimitReached:
        return True
    return False


class _Budget:
    """What a page and the pages nested in it may spend, all together."""

    __slots__ = ("chars", "noted", "pages", "seen", "tags", "timed_out")

    def __init__(self) -> None:
        self.timed_out = False  # the file's work budget stopped a page
        self.tags = 0
        self.pages = 0  # nested pages read
        self.chars = 0  # and their characters
        self.seen: set[str] = set()  # nested pages already read
        self.noted: set[str] = set()  # nesting limits already reported


class _Submitter(NamedTuple):
    """A submit button's own target; ``None`` keeps the form's."""

    action: str | None  # resolved; "" submits to the page itself
    method: str | None


class _Control(NamedTuple):
    """What a form control adds to the form it belongs to."""

    field: str | None  # its name, for the form's fields; None for a button
    password: bool
    submitter: _Submitter | None


class _PageParser(HTMLParser):
    """Event handler that turns tags into :class:`FoundUrl` and forms.

    Forms are kept until the page ends, because a control anywhere in the page
    can join a form by naming its id (``form="..."``); then each form gives
    one :class:`FoundForm` per place it can submit to.
    """

    def __init__(
        self,
        collector: Collector,
        base_host: str | None,
        base: str | None,
        budget: _Budget,
        depth: int = 0,
        in_data_url: bool = False,
    ) -> None:
        super().__init__(convert_charrefs=True)
        self.out = collector
        self.base_host = base_host
        self.base = base
        self.budget = budget
        self.depth = depth
        self.in_data_url = in_data_url
        self.stopped = False
        self._link: tuple[str, list[str]] | None = None
        self._form: _OpenForm | None = None
        self._forms: list[_OpenForm] = []
        self._form_ids: dict[str, _OpenForm] = {}
        self._detached: list[tuple[str, _Control]] = []
        self._in_script = False
        self._script_chars = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Dispatch a start tag to the handler for its element."""
        if self.stopped:
            return
        if self.budget.timed_out:  # in a nested page, which said so
            self.stopped = True
            return
        self.budget.tags += 1
        if self.budget.tags > _MAX_TAGS or self.out.full:
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
            self._form = None
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
        """Flush what is still open when the page ends, and record the forms."""
        self._end_link()
        self._form = None
        for form_id, control in self._detached:
            form = self._form_ids.get(form_id)
            if form is not None:
                form.add(control, self.out)
        for form in self._forms:
            self._record_form(form)

    # ----------------------------------------------------------- elements

    def _on_a(self, attrs: dict[str, str]) -> None:
        self._end_link()
        href = _href(attrs)
        if href is not None:
            self._link = (href, [])

    def _on_animate(self, attrs: dict[str, str]) -> None:
        """An SVG ``<animate>`` or ``<set>`` that gives a link its target."""
        if attrs.get("attributename", "").strip().lower() not in _ANIMATED_LINK:
            return
        values = [attrs.get("to", ""), attrs.get("from", "")]
        values += attrs.get("values", "").split(";", _MAX_ANIMATED)[:_MAX_ANIMATED]
        for value in values:
            if value.strip():
                self._add(value, "a_href")

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

    def _on_iframe(self, attrs: dict[str, str]) -> None:
        self._on_frame(attrs)
        srcdoc = attrs.get("srcdoc", "")
        if srcdoc.strip():
            # a srcdoc page resolves its links against the page's base
            room = self._nested_room()
            if room:
                self._read_nested(srcdoc, room, self.base, in_data_url=False)

    def _on_object(self, attrs: dict[str, str]) -> None:
        if "data" in attrs:
            self._add(attrs["data"], "object_data")

    def _on_embed(self, attrs: dict[str, str]) -> None:
        if "src" in attrs:
            self._add(attrs["src"], "object_data")

    def _on_meta(self, attrs: dict[str, str]) -> None:
        if attrs.get("http-equiv", "").strip().lower() != "refresh":
            return
        match = _REFRESH_URL.search(attrs.get("content", ""))
        if match:
            self._add(match.group(1), "meta_refresh")

    def _on_script(self, attrs: dict[str, str]) -> None:
        self._in_script = True
        src = attrs["src"] if "src" in attrs else _href(attrs)  # SVG: an href
        if src is not None:
            self._add(src, "script_src")

    def _on_form(self, attrs: dict[str, str]) -> None:
        if self._form is not None:
            return  # browsers ignore a form nested in another
        if len(self._forms) >= self.out.max_urls:
            self.out.truncated = True
            return
        action = attrs.get("action", "").strip() or None
        resolved = self._resolve(action) if action else None
        method = attrs.get("method", "get").strip().lower() or "get"
        self._form = _OpenForm(resolved, method)
        self._forms.append(self._form)
        if attrs.get("id"):
            self._form_ids.setdefault(attrs["id"], self._form)
        if resolved is not None:
            self._add(resolved, "form_action")

    def _on_input(self, attrs: dict[str, str], submits: bool = True) -> None:
        kind = attrs.get("type", "text").strip().lower()
        name = attrs.get("name") or attrs.get("id") or kind
        submits &= kind in _SUBMIT_INPUTS
        submitter = self._submitter(attrs) if submits else None
        self._control(attrs, _Control(name, kind == "password", submitter))

    def _on_field(self, attrs: dict[str, str]) -> None:
        self._on_input(attrs, submits=False)

    def _on_button(self, attrs: dict[str, str]) -> None:
        kind = attrs.get("type", "submit").strip().lower()
        if kind not in _NOT_SUBMIT_BUTTONS:  # a missing or unknown type submits
            self._control(attrs, _Control(None, False, self._submitter(attrs)))

    # ------------------------------------------------------------ helpers

    def _control(self, attrs: dict[str, str], control: _Control) -> None:
        """Give a control to its form: the one its ``form`` attribute names,
        wherever that is in the page, else the form it is inside."""
        if "form" in attrs:
            if len(self._detached) < _MAX_DETACHED:
                self._detached.append((attrs["form"], control))
            else:
                self.out.truncated = True
        elif self._form is not None:
            self._form.add(control, self.out)

    def _submitter(self, attrs: dict[str, str]) -> _Submitter:
        """Where a submit button sends its form, listing a ``formaction``."""
        action = None
        if "formaction" in attrs:
            # an empty formaction submits to the page itself, whatever the form says
            action = attrs["formaction"].strip()
            if action:
                action = self._resolve(action)
                self._add(action, "form_action")
        method = attrs.get("formmethod", "").strip().lower() or None
        return _Submitter(action, method)

    def _end_link(self) -> None:
        if self._link is not None:
            href, text = self._link
            self._link = None
            self._add(href, "a_href", "".join(text))

    def _record_form(self, form: _OpenForm) -> None:
        """Add one :class:`FoundForm` per place ``form`` submits to."""
        for action, method in form.targets():
            other = _other_domain(action, self.base_host)
            if form.has_password and other:
                self.out.flag("password_form_other_domain")
            if form.has_password and self.in_data_url:
                self.out.flag("password_form_in_data_url")
            self.out.add_form(
                FoundForm(
                    action=action,
                    method=method,
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
            if scheme == "data":
                self._read_data_url(url)
        elif url and not url.startswith("#"):
            self.out.add_url(self._resolve(url), where, text)

    def _read_data_url(self, url: str) -> None:
        """Read the page a ``data:text/html`` URL holds as a nested page."""
        if self.stopped:
            return
        room = self._nested_room()
        if not room:
            return
        page = _data_page(url, room)
        if page is not None:
            text, cut = page
            if cut:
                self._note_limit(f"a data: URL over {room} characters was cut")
            # relative links of a data: page resolve against nothing
            self._read_nested(text, room, None, in_data_url=True)

    def _nested_room(self) -> int:
        """Characters one more nested page may have; 0, noted, when none."""
        budget = self.budget
        if self.depth >= _MAX_DEPTH:
            self._note_limit(f"pages nested more than {_MAX_DEPTH} deep were not read")
        elif budget.pages >= _MAX_NESTED:
            self._note_limit(f"only {_MAX_NESTED} nested pages were read")
        elif budget.chars >= _MAX_NESTED_CHARS:
            self._note_limit(f"only {_MAX_NESTED_CHARS} chars of nested pages read")
        else:
            return _MAX_NESTED_CHARS - budget.chars
        return 0

    def _read_nested(
        self, text: str, room: int, base: str | None, *, in_data_url: bool
    ) -> None:
        """Read ``text`` as a page nested in this one, sharing its budget."""
        budget = self.budget
        if len(text) > room:
            text = text[:room]
            self._note_limit(f"only {_MAX_NESTED_CHARS} chars of nested pages read")
        if text in budget.seen:
            return  # the same page again adds nothing
        budget.seen.add(text)
        budget.pages += 1
        budget.chars += len(text)
        nested = _PageParser(
            self.out,
            self.base_host,
            base,
            budget,
            self.depth + 1,
            self.in_data_url or in_data_url,
        )
        _read(nested, text)

    def _note_limit(self, why: str) -> None:
        """Record, once per page, that a nesting limit left something unread."""
        self.out.truncated = True
        if why not in self.budget.noted:
            self.budget.noted.add(why)
            self.out.error("html_nested_limit", why)

    def _resolve(self, url: str) -> str:
        return resolve_link(url, self.base)

    def _stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.out.truncated = True
            self.out.error("html_limit", "too many tags or URLs; stopped reading")


class _OpenForm:
    """A form of the page, with the controls that belong to it so far."""

    __slots__ = ("action", "fields", "has_password", "method", "submitters")

    def __init__(self, action: str | None, method: str) -> None:
        self.action = action
        self.method = method
        self.has_password = False
        self.fields: list[str] = []
        self.submitters: dict[_Submitter, None] = {}

    def add(self, control: _Control, collector: Collector) -> None:
        """Count ``control`` as one of the form's."""
        self.has_password |= control.password
        if control.field is not None:
            self.fields.append(control.field)
        submitter = control.submitter
        if submitter is None or submitter in self.submitters:
            return
        if len(self.submitters) < _MAX_TARGETS:
            self.submitters[submitter] = None
        else:
            collector.truncated = True

    def targets(self) -> tuple[tuple[str | None, str], ...]:
        """The ``(action, method)`` pairs the form can submit with.

        Each submit button sends the form to its ``formaction`` and with its
        ``formmethod`` when it has them. The form's own action is a target
        when a button keeps it, when there is no button (pressing Enter, or a
        script), and whenever it names a URL, since a script can submit the
        form without any button.
        """
        found: dict[tuple[str | None, str], None] = {}
        if not self.submitters or self.action is not None:
            found[(self.action, self.method)] = None
        for submitter in self.submitters:
            action = self.action if submitter.action is None else submitter.action
            found[(action or None, submitter.method or self.method)] = None
        return tuple(found)


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


def _data_page(url: str, limit: int) -> tuple[str, bool] | None:
    """The page a ``data:`` URL holds, and whether it was cut to ``limit``
    characters; ``None`` when the URL holds no HTML or is not valid.

    >>> _data_page("data:text/html;base64,PGZvcm0+", 100)
    ('<form>', False)
    >>> _data_page("data:text/html,%3Ca%20href=x%3E", 100)
    ('<a href=x>', False)
    >>> _data_page("data:image/png;base64,iVBORw0K", 100) is None
    True
    """
    header, comma, body = url[5:].partition(",")
    if not comma:
        return None
    params = [part.strip() for part in header.split(";")]
    is_base64 = len(params) > 1 and params[-1].lower() == "base64"
    if is_base64:
        params.pop()
    if params[0].lower() not in _NESTED_MEDIA:
        return None
    charset = "utf-8"
    for param in params[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("\"'")
    keep = 3 * limit + 4  # enough encoded characters for ``limit`` decoded ones
    cut = len(body) > keep
    data = unquote_to_bytes(body[:keep])
    if is_base64:
        decoded = _forgiving_base64(data, cut)
        if decoded is None:
            return None
        data = decoded
    text = _decode_charset(data, charset)
    if len(text) > limit:
        return text[:limit], True
    return text, cut


def _forgiving_base64(data: bytes, cut: bool) -> bytes | None:
    """Decode base64 as a browser does: spaces ignored, padding optional."""
    compact = data.translate(None, _BASE64_SPACE)
    if cut:
        compact = compact[: len(compact) - len(compact) % 4]
    if len(compact) % 4 == 0:
        compact = compact.removesuffix(b"=").removesuffix(b"=")
    if len(compact) % 4 == 1:
        return None
    try:
        return base64.b64decode(compact + b"=" * (-len(compact) % 4), validate=True)
    except binascii.Error:
        return None


def _decode_charset(data: bytes, charset: str) -> str:
    """Decode a nested page in the charset it names, when that is a text
    encoding of the web; in UTF-8 otherwise."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16", errors="replace")
    try:
        codec = codecs.lookup(charset).name
    except LookupError:
        codec = "utf-8"
    if not codec.startswith(_CHARSETS) and codec not in _CHARSETS_CJK:
        codec = "utf-8"
    if codec == "utf-8":
        escaped = _iso2022(data)
        if escaped is not None:
            return escaped
    return data.decode(codec, errors="replace")


def _iso2022(data: bytes) -> str | None:
    """Decode seven-bit text holding ISO-2022-JP escapes; None for other text."""
    if b"\x1b" not in data:
        return None
    try:
        return data.decode("iso2022_jp")
    except UnicodeDecodeError:
        return None


def _href(attrs: dict[str, str]) -> str | None:
    """The target of an HTML or SVG link: ``href``, else ``xlink:href``.

    SVG 2 lets ``href`` win over ``xlink:href``; an HTML element has only
    ``href``, so reading both as links over-reports nothing a page holds.
    """
    if "href" in attrs:
        return attrs["href"]
    return attrs.get("xlink:href")


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
    "iframe": _PageParser._on_iframe,
    "frame": _PageParser._on_frame,
    "object": _PageParser._on_object,
    "embed": _PageParser._on_embed,
    "meta": _PageParser._on_meta,
    "script": _PageParser._on_script,
    "form": _PageParser._on_form,
    "input": _PageParser._on_input,
    "select": _PageParser._on_field,
    "textarea": _PageParser._on_field,
    "button": _PageParser._on_button,
    "animate": _PageParser._on_animate,
    "set": _PageParser._on_animate,
}
