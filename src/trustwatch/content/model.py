"""Records of what a file carries: its URLs, its forms, and what went wrong.

The records are plain frozen dataclasses. :class:`Collector` is the one place
that enforces the count and length limits while a format module walks a file,
so every format truncates the same way; it also carries the file's
:class:`~trustwatch.content.budget.WorkBudget`, which every format charges.
"""

from __future__ import annotations

from dataclasses import dataclass

from trustwatch.content.budget import WorkBudget

__all__ = ["Collector", "Extraction", "FoundForm", "FoundUrl", "limit_fields"]

_TEXT_CHARS = 200  # link text kept per URL
_URL_CHARS = 4096  # longer URLs are cut and the extraction marked truncated
_DATA_URL_CHARS = 256  # a data: URL keeps its media type and a prefix only
_FIELDS_PER_FORM = 100


@dataclass(frozen=True, slots=True)
class FoundUrl:
    """A URL found in a file, with where it was found.

    Attributes
    ----------
    url
        The URL as written in the file (relative links resolved against the
        page when a base is known). ``data:`` URLs keep only a prefix.
    where
        A stable code for the place it came from, e.g. ``"a_href"``,
        ``"form_action"``, ``"pdf_uri_action"`` or ``"office_hyperlink"``.
    text
        The link text when the format has one, at most 200 characters.
    """

    url: str
    where: str
    text: str | None


@dataclass(frozen=True, slots=True)
class FoundForm:
    """An HTML form, reduced to what matters for credential phishing.

    A form that can submit to several places (its own action and its submit
    buttons' ``formaction``) gives one record per place.

    Attributes
    ----------
    action
        Where the form posts, resolved against the page when possible;
        ``None`` when the form has no action (it posts to the page itself).
    method
        Lowercase HTTP method, ``"get"`` by default.
    has_password
        Whether the form holds an ``<input type=password>``.
    fields
        Names of the form's inputs (their type when unnamed), at most 100.
    posts_to_other_domain
        Whether the action's registrable domain differs from the page's;
        ``None`` when either is unknown.
    """

    action: str | None
    method: str
    has_password: bool
    fields: tuple[str, ...]
    posts_to_other_domain: bool | None


@dataclass(frozen=True, slots=True)
class Extraction:
    """Everything extracted from one file.

    Attributes
    ----------
    kind
        ``"html"``, ``"pdf"``, ``"docx"``, ``"xlsx"``, ``"pptx"``,
        ``"ooxml"``, ``"rtf"``, ``"text"``, ``"zip"`` (an archive whose
        members were read) or ``"unknown"``.
    urls
        The URLs found, in document order, without duplicates per place.
    forms
        The forms found (HTML only).
    truncated
        Whether a size, count or work limit cut the extraction short; a
        file whose work budget ran out also has a ``"work_limit"`` error.
    errors
        ``"code: detail"`` strings for what could not be read; what was read
        before the problem is still in ``urls`` and ``forms``.
    flags
        Risky traits of the file: ``"macros"``, ``"external_template"``,
        ``"external_object"``, ``"activex"``, ``"embedded_objects"``,
        ``"encrypted"``, ``"password_form_other_domain"``,
        ``"password_form_in_data_url"``, ``"pdf_launch_action"``,
        ``"pdf_javascript"``.
    """

    kind: str
    urls: tuple[FoundUrl, ...]
    forms: tuple[FoundForm, ...]
    truncated: bool
    errors: tuple[str, ...]
    flags: tuple[str, ...]


class Collector:
    """Accumulate findings for one file while enforcing the limits.

    Parameters
    ----------
    max_urls
        How many URLs (and, separately, forms) to keep before marking the
        extraction truncated.
    budget
        The time and work allowed for the whole file, nested archive members
        included; a default :class:`~trustwatch.content.budget.WorkBudget`
        starting now when not given.
    """

    __slots__ = (
        "_flags",
        "_seen",
        "budget",
        "errors",
        "forms",
        "max_urls",
        "truncated",
        "urls",
    )

    def __init__(self, max_urls: int, budget: WorkBudget | None = None) -> None:
        self.max_urls = max_urls
        self.budget = budget if budget is not None else WorkBudget()
        self.urls: list[FoundUrl] = []
        self.forms: list[FoundForm] = []
        self.errors: list[str] = []
        self.truncated = False
        self._seen: set[tuple[str, str]] = set()
        self._flags: dict[str, None] = {}

    @property
    def full(self) -> bool:
        """Whether the URL limit has been reached."""
        return len(self.urls) >= self.max_urls

    def add_url(self, url: str, where: str, text: str | None = None) -> None:
        """Keep ``url`` found at ``where`` unless it is empty or already kept."""
        url = url.strip()
        if not url:
            return
        url = self._shorten(url)
        if (url, where) in self._seen:
            return
        if self.full:
            self.truncated = True
            return
        self._seen.add((url, where))
        self.urls.append(FoundUrl(url, where, _clean_text(text)))

    def add_form(self, form: FoundForm) -> None:
        """Keep ``form`` unless the form limit has been reached."""
        if len(self.forms) >= self.max_urls:
            self.truncated = True
            return
        self.forms.append(form)

    def error(self, code: str, detail: str) -> None:
        """Record that part of the file could not be read."""
        self.errors.append(f"{code}: {detail}")

    def flag(self, name: str) -> None:
        """Record a risky trait of the file."""
        self._flags.setdefault(name, None)

    def result(self, kind: str) -> Extraction:
        """Freeze the findings into an :class:`Extraction`."""
        return Extraction(
            kind=kind,
            urls=tuple(self.urls),
            forms=tuple(self.forms),
            truncated=self.truncated,
            errors=tuple(self.errors),
            flags=tuple(self._flags),
        )

    def _shorten(self, url: str) -> str:
        """Cut ``data:`` URLs to a prefix and any URL to the length limit."""
        if url[:5].lower() == "data:":
            return url[:_DATA_URL_CHARS]
        if len(url) > _URL_CHARS:
            self.truncated = True
            return url[:_URL_CHARS]
        return url


def limit_fields(fields: list[str]) -> tuple[str, ...]:
    """Return at most the first 100 field names of a form."""
    return tuple(fields[:_FIELDS_PER_FORM])


def _clean_text(text: str | None) -> str | None:
    """Collapse whitespace in link text and cut it to 200 characters."""
    if text is None:
        return None
    cleaned = " ".join(text.split())[:_TEXT_CHARS]
    return cleaned or None
