"""Phishing carried by uploaded files: risky links, credential forms and lures.

An HTML page with a password form, or a PDF or Office document whose only
content is a "view document" link, is a common way to bring phishing onto a
file-sharing platform. On each upload whose SHA-256 is in the content store,
the file is read with :func:`~trustwatch.content.extract_content` (never the
network) and judged:

- **risky link**: every web URL in the file is scored by an injectable URL
  scorer; the riskiest one raises ``file_risky_link`` with the scorer's
  probability.
- **credential form**: a password form that posts to another registrable
  domain (an uploaded page is served from the platform, so "another" means
  off the platform) raises ``file_credential_form`` at ``cross_domain_score``
  or more; one posting to the platform's own domain raises it only when the
  scorer rates the target risky. A password form with no action, a relative
  one or a ``javascript:`` one posts nowhere a server listens: an uploaded
  page cannot receive a password itself, so only a script can carry it off,
  which is how HTML-attachment phishing kits work. Saved pages and developers'
  login templates look the same, so that case scores ``self_post_score``, a
  review and not a quarantine. A password form inside a ``data:`` URL of the
  file (a page carried in a link, shown without any web host serving it) is
  a lure however it posts, and scores ``cross_domain_score`` or more.
- **lure document**: a file whose URLs are all web links to one external
  registrable domain, the shape of "your document is ready, view it here".
  One link, and that link repeated or varied on one site (``/login`` and
  ``/login2``, two subdomains, any number of them) are the same shape: more
  links to the same site never lower the decision. A file read whole, or cut short
  only by nesting limits or by the URL limit (every URL read went to that
  one site), qualifies; a file linking to two sites or more (a CV, a
  reference list), or holding a mail or platform URL too, does not, so the
  URL model's high scores on real pages with paths do not send it to review.
  The shape alone is weak evidence (a CV links to a profile), so the riskiest
  link's score and this shape combine as independent evidence:
  ``1 - (1 - prior) * (1 - p)``.
- **evasive shape**: a file cut short by a limit that benign files rarely
  reach and evasion uses raises ``file_evasive_shape`` at ``evasive_score``,
  whatever was read before the cut: a decompression bomb (an archive member
  or PDF stream inflating past its ratio or size cap), archives or pages
  nested past the depth limit, an HTML page over the size limit, markup that
  never closes or holds more tags than any page, a PDF whose page references
  loop. Limits ordinary files reach (the work budget, the PDF page limit, a
  large PDF, zip or text file, a zip of many entries, a heavy PDF page) do
  not raise it, nor does damage that interrupted uploads and saves also
  cause (a zip or PDF that does not open is ``file_unreadable``).
- **unreadable**: a file of a known format from which nothing could be read
  (corrupt, or locked with a password) raises a low-confidence
  ``file_unreadable`` that records the errors; no shipped rule acts on it.

Results are a function of the content alone, so they are cached by SHA-256
(least recently used evicted) and the detector keeps no state to checkpoint.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from trustwatch.content import Extraction, sniff_kind
from trustwatch.content.extract import MAX_URLS
from trustwatch.content.store import ContentSource, extract_blob, valid_sha256
from trustwatch.detectors.base import Detector, Signal
from trustwatch.detectors.registry import register
from trustwatch.detectors.url_heuristics import url_risk
from trustwatch.enrichment.urls import ParsedUrl, parse_url
from trustwatch.errors import ConfigError, InvalidUrlError
from trustwatch.events.model import EventBase, FileUploaded
from trustwatch.features.context import EventContext

__all__ = [
    "FileAssessment",
    "FileFinding",
    "FilePhishingDetector",
    "FindingRules",
    "FormFinding",
    "LinkFinding",
    "UrlScorer",
    "assess_file",
    "file_findings",
    "heuristic_url_scorer",
    "place_of",
    "upload_signals",
]

logger = logging.getLogger(__name__)

#: Scores a parsed URL: a probability in ``[0, 1]`` that it is malicious and
#: the reasons, in words, most important first. Nothing may be fetched.
UrlScorer: TypeAlias = Callable[[ParsedUrl], tuple[float, Sequence[str]]]

_WEB_SCHEMES = ("http://", "https://")
_REASONS_KEPT = 3
_LURE_TEXT_BONUS = 0.15  # added to the lure prior when the link text is a lure
# errors that say only that pages nested in a page were left unread (and what
# may come with them without cutting the file short)
_NESTING_ONLY = frozenset({"html_nested_limit", "invalid_utf8"})
_LURE_TEXT = re.compile(
    r"\b(view|open|download|access|review|retrieve|read|click|sign|verify)\b",
    re.IGNORECASE,
)
_HARMLESS_ERRORS = frozenset({"invalid_utf8"})  # the page was still read whole
_DATA_URL_FORM = "password_form_in_data_url"  # the extractor's flag
# error codes that always mean a limit evasion uses cut the file short; see
# _evasive_cut for the codes that do only with a detail or a kind
_EVASIVE_ERRORS = {
    "zip_too_deep": "archives nested past the depth limit",
    "too_deep": "nesting too deep to parse",
    "html_nested_limit": "pages nested in the page past the reading limits",
    "html_unparsable": "markup that never closes",
}
_PLACES = {
    "a_href": "HTML link",
    "base_href": "HTML base address",
    "iframe_src": "HTML frame",
    "meta_refresh": "HTML refresh redirect",
    "script_src": "HTML script source",
    "script_location": "script redirect",
    "form_action": "form action",
    "object_data": "HTML embedded object",
    "pdf_uri_action": "PDF link",
    "pdf_launch_action": "PDF launch action",
    "pdf_submit_form": "PDF form submission",
    "pdf_remote_goto": "PDF remote document",
    "pdf_import_data": "PDF data import",
    "pdf_javascript": "PDF script",
    "pdf_text": "URL in PDF text",
    "office_hyperlink": "Office hyperlink",
    "office_template": "Office remote template",
    "office_ole_object": "Office linked object",
    "office_frame": "Office frame",
    "office_subdocument": "Office subdocument",
    "office_external_link": "Office external link",
    "office_image": "Office linked image",
    "office_external": "Office external target",
    "office_text": "URL in Office text",
    "rtf_hyperlink": "RTF hyperlink",
    "rtf_text": "URL in RTF text",
    "text_url": "URL in text",
}
_KIND_WORDS = {
    "html": "HTML page",
    "pdf": "PDF",
    "docx": "Word document",
    "xlsx": "spreadsheet",
    "pptx": "presentation",
    "ooxml": "Office document",
    "rtf": "RTF document",
    "text": "text file",
    "unknown": "file",
}


def heuristic_url_scorer(parsed: ParsedUrl) -> tuple[float, tuple[str, ...]]:
    """Score a URL with :func:`~trustwatch.detectors.url_heuristics.url_risk`.

    The weights of the rules that fired are dropped; their reasons stay,
    heaviest first.

    Examples
    --------
    >>> score, reasons = heuristic_url_scorer(parse_url("http://198.51.100.7/a.exe"))
    >>> reasons[0]
    'executable or script payload in the path'
    """
    score, fired = url_risk(parsed)
    return score, tuple(reason for _, reason in fired)


def place_of(where: str) -> str:
    """Return the words for a ``where`` code, e.g. ``"PDF link"``."""
    return _PLACES.get(where, where.replace("_", " "))


@dataclass(frozen=True, slots=True)
class LinkFinding:
    """A web URL found in a file, scored.

    Attributes
    ----------
    url
        The canonical URL.
    domain
        Its registrable domain.
    where
        The extractor's code for the place it was first found.
    text
        The link text, when the format has one.
    score
        The scorer's probability in ``[0, 1]``.
    reasons
        The scorer's reasons, most important first.
    """

    url: str
    domain: str
    where: str
    text: str | None
    score: float
    reasons: tuple[str, ...]

    @property
    def place(self) -> str:
        """Where the URL was found, in words."""
        return place_of(self.where)


@dataclass(frozen=True, slots=True)
class FormFinding:
    """An HTML form and where it sends what is typed into it.

    Attributes
    ----------
    action
        The form's action as written, or ``None``.
    method
        Lowercase HTTP method.
    has_password
        Whether the form holds a password field.
    destination
        ``"other_domain"`` (another registrable domain than the platform's,
        or a non-web scheme such as ``mailto:``), ``"platform"`` (the
        platform's own domain), ``"itself"`` (no action, a fragment or a
        relative path: back to where the file is opened) or ``"script"``
        (a ``javascript:`` action).
    domain
        The action's registrable domain, for web actions.
    score
        The scorer's probability for a web action, else ``None``.
    reasons
        The scorer's reasons for a web action.
    """

    action: str | None
    method: str
    has_password: bool
    destination: str
    domain: str | None
    score: float | None
    reasons: tuple[str, ...]

    @property
    def posts_to_other_domain(self) -> bool | None:
        """Whether the form posts off the platform; ``None`` for a script."""
        if self.destination == "script":
            return None
        return self.destination == "other_domain"


@dataclass(frozen=True, slots=True)
class FileAssessment:
    """What a file carries, scored: its web links and its forms.

    Attributes
    ----------
    extraction
        The extractor's record of the file.
    links
        Distinct web URLs off the platform, scored, in document order.
    forms
        The file's forms, each with its destination.
    targets
        How many distinct URLs the file holds, of any scheme and domain.
    """

    extraction: Extraction
    links: tuple[LinkFinding, ...]
    forms: tuple[FormFinding, ...]
    targets: int

    @property
    def riskiest(self) -> LinkFinding | None:
        """The link with the highest score (the first one on a tie)."""
        return max(self.links, key=lambda link: link.score, default=None)

    @property
    def cut_by_nesting(self) -> bool:
        """Whether only a nesting limit (pages in pages) left the file unread.

        Ordinary documents do not nest pages three deep or sixty-four wide;
        a lure that does so to look unfinished is judged on what was read.
        """
        codes = {error.split(":", 1)[0] for error in self.extraction.errors}
        return self.extraction.truncated and codes <= _NESTING_ONLY and bool(codes)

    @property
    def cut_by_url_limit(self) -> bool:
        """Whether the extractor stopped at its URL limit (:data:`MAX_URLS`).

        What was read then already holds that many URLs: a file repeating one
        site's links past the limit is judged on them, as a shorter one is.
        """
        return self.extraction.truncated and len(self.extraction.urls) >= MAX_URLS

    @property
    def lure_links(self) -> tuple[LinkFinding, ...]:
        """The file's links when they all go to one external registrable domain.

        Empty when the file holds a form, a URL other than such a web link
        (a mail or platform address), links to two domains or more, or when
        it was cut short by anything but a nesting limit
        (:attr:`cut_by_nesting`) or the URL limit (:attr:`cut_by_url_limit`).
        """
        extraction = self.extraction
        if (
            extraction.kind == "unknown"
            or not self.links
            or self.forms
            or self.targets != len(self.links)
            or len({link.domain for link in self.links}) != 1
            or (
                extraction.truncated
                and not (self.cut_by_nesting or self.cut_by_url_limit)
            )
        ):
            return ()
        return self.links

    @property
    def lure_link(self) -> LinkFinding | None:
        """The riskiest of :attr:`lure_links` (the first one on a tie), if any."""
        return max(self.lure_links, key=lambda link: link.score, default=None)


def assess_file(
    extraction: Extraction,
    scorer: UrlScorer = heuristic_url_scorer,
    platform_domains: Sequence[str] = ("trustwatch.example",),
) -> FileAssessment:
    """Score the web links of an extraction and find where its forms post.

    Parameters
    ----------
    extraction
        What :func:`~trustwatch.content.extract_content` found in the file.
    scorer
        Scores each distinct web URL; see :data:`UrlScorer`.
    platform_domains
        Registrable domains of the platform, which serves the uploaded file:
        their links are not scored, and a form posting to them stays on the
        file's own domain.
    """
    own = frozenset(platform_domains)
    links: dict[str, LinkFinding] = {}
    targets: set[str] = set()
    for found in extraction.urls:
        parsed = _parse_web(found.url)
        targets.add(parsed.url if parsed is not None else found.url)
        if parsed is None or parsed.registrable_domain in own or parsed.url in links:
            continue
        score, reasons = _scored(scorer, parsed)
        links[parsed.url] = LinkFinding(
            parsed.url,
            parsed.registrable_domain,
            found.where,
            found.text,
            score,
            reasons,
        )
    forms = tuple(
        _form_finding(form.action, form.method, form.has_password, scorer, own)
        for form in extraction.forms
    )
    return FileAssessment(extraction, tuple(links.values()), forms, len(targets))


@dataclass(frozen=True, slots=True)
class FileFinding:
    """One suspicion about a file, before it is tied to an event.

    Attributes
    ----------
    kind
        The signal kind.
    score
        Suspicion in ``[0, 1]``.
    reasons
        Why, in words.
    evidence
        The figures behind the reasons.
    """

    kind: str
    score: float
    reasons: tuple[str, ...]
    evidence: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FindingRules:
    """The scores and thresholds :func:`file_findings` applies.

    See :class:`FilePhishingDetector` for what each one means.
    """

    min_score: float = 0.5
    cross_domain_score: float = 0.9
    self_post_score: float = 0.6
    lure_prior: float = 0.35
    unreadable_score: float = 0.3
    evasive_score: float = 0.6


def upload_signals(
    detector: Detector,
    event: EventBase,
    findings_of: Callable[[str, FileUploaded], tuple[FileFinding, ...]],
) -> tuple[Signal, ...]:
    """Return one signal per finding on an upload the content store may hold.

    ``findings_of(sha256, upload)`` judges the stored content; events other
    than uploads, and uploads without a valid SHA-256, give no signal.
    """
    if not isinstance(event, FileUploaded):
        return ()
    digest = valid_sha256((event.sha256 or "").strip())
    if digest is None:
        return ()
    return tuple(
        detector.signal(
            event,
            kind=f.kind,
            score=f.score,
            entity_type="file",
            entity=f"sha256:{digest}",
            reasons=f.reasons,
            evidence={**f.evidence, "file_id": event.file_id},
        )
        for f in findings_of(digest, event)
    )


def file_findings(
    assessment: FileAssessment, rules: FindingRules | None = None
) -> tuple[FileFinding, ...]:
    """Return what is suspicious about an assessed file, strongest rule first.

    Links, forms and lures under ``min_score`` are left out; a file cut short
    the way evasion cuts it is reported at ``evasive_score``, and otherwise an
    unreadable file at its own low score.
    """
    rules = rules or FindingRules()
    found = (
        _link_finding(assessment),
        _form_finding_of(assessment, rules),
        _lure_finding(assessment, rules),
    )
    kept = [f for f in found if f is not None and f.score >= rules.min_score]
    cut = _evasive_finding(assessment, rules) or _unreadable_finding(assessment, rules)
    if cut is not None:
        kept.append(cut)
    return tuple(kept)


@register
class FilePhishingDetector(Detector):
    """Flag uploaded files that carry phishing: risky links, password forms, lures.

    Parameters
    ----------
    store
        Where uploaded files are read by SHA-256 (see
        :class:`~trustwatch.content.store.ContentStore`).
    scorer
        Scores each web URL in a file; :func:`heuristic_url_scorer` when
        ``None``. A trained URL model plugs in here.
    min_score
        Link, form and lure findings below this raise no signal.
    cross_domain_score
        The least score of a password form posting to another domain.
    self_post_score
        The score of a password form with no action of its own.
    lure_prior
        How likely a file whose links all go to one external site is a lure
        before its riskiest link is scored.
    unreadable_score
        The score of a file of a known format from which nothing was read.
    evasive_score
        The score of a file cut short by a limit that evasion uses (a
        decompression bomb, nesting past the depth limit, an oversized page).
    platform_domains
        Registrable domains of the platform, which serves uploaded files.
    cache_size
        Files whose findings are kept, least recently used evicted.
    """

    name = "file_phishing"
    version = "1"
    event_types = frozenset({FileUploaded})
    signal_kinds = (
        "file_risky_link",
        "file_credential_form",
        "file_lure_document",
        "file_unreadable",
        "file_evasive_shape",
    )

    def __init__(
        self,
        store: ContentSource,
        scorer: UrlScorer | None = None,
        *,
        min_score: float = 0.5,
        cross_domain_score: float = 0.9,
        self_post_score: float = 0.6,
        lure_prior: float = 0.35,
        unreadable_score: float = 0.3,
        evasive_score: float = 0.6,
        platform_domains: tuple[str, ...] = ("trustwatch.example",),
        cache_size: int = 4096,
    ) -> None:
        if cache_size < 0:
            raise ConfigError(f"cache_size={cache_size} is negative; pass a count")
        self._params = {
            "min_score": min_score,
            "cross_domain_score": cross_domain_score,
            "self_post_score": self_post_score,
            "lure_prior": lure_prior,
            "unreadable_score": unreadable_score,
            "evasive_score": evasive_score,
            "platform_domains": platform_domains,
            "cache_size": cache_size,
        }
        self.store = store
        self.scorer: UrlScorer = scorer or heuristic_url_scorer
        self.rules = FindingRules(
            min_score,
            cross_domain_score,
            self_post_score,
            lure_prior,
            unreadable_score,
            evasive_score,
        )
        self.platform_domains = tuple(platform_domains)
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str], tuple[FileFinding, ...]] = (
            OrderedDict()
        )

    def process_one(self, event: EventBase, ctx: EventContext) -> Sequence[Signal]:
        """Judge an uploaded file whose content the store holds."""
        return upload_signals(self, event, self._findings)

    def _findings(self, digest: str, upload: FileUploaded) -> tuple[FileFinding, ...]:
        # the name and type matter only when the bytes name no format
        key = (digest, sniff_kind(b"", upload.name, upload.mime_type))
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        blob = self.store.read(digest)
        if blob is None:
            return ()  # not cached: the file may reach the store later
        extraction = extract_blob(blob, name=upload.name, mime_type=upload.mime_type)
        assessment = assess_file(extraction, self.scorer, self.platform_domains)
        findings = file_findings(assessment, self.rules)
        logger.debug(
            "file assessed kind=%s links=%d forms=%d findings=%d",
            extraction.kind,
            len(assessment.links),
            len(assessment.forms),
            len(findings),
        )
        self._remember(key, findings)
        return findings

    def _remember(
        self, key: tuple[str, str], findings: tuple[FileFinding, ...]
    ) -> None:
        if self.cache_size == 0:
            return
        self._cache[key] = findings
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def get_state(self) -> dict[str, Any]:
        """Return an empty state: findings depend on the content alone."""
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        """Accept the empty state."""


# ------------------------------------------------------------------ helpers


def _parse_web(url: str) -> ParsedUrl | None:
    """Parse an absolute http(s) URL; ``None`` for anything else."""
    if not url[:8].lower().startswith(_WEB_SCHEMES):
        return None
    try:
        return parse_url(url)
    except InvalidUrlError:
        return None


def _scored(scorer: UrlScorer, parsed: ParsedUrl) -> tuple[float, tuple[str, ...]]:
    """Call the scorer and hold its answer to a probability and a tuple."""
    score, reasons = scorer(parsed)
    return min(1.0, max(0.0, float(score))), tuple(str(r) for r in reasons)


def _form_finding(
    action: str | None,
    method: str,
    has_password: bool,
    scorer: UrlScorer,
    own: frozenset[str],
) -> FormFinding:
    """Say where a form posts, and score a web action."""
    target = (action or "").strip()
    parsed = _parse_web(target)
    if parsed is not None:
        score, reasons = _scored(scorer, parsed)
        domain = parsed.registrable_domain
        where = "platform" if domain in own else "other_domain"
        return FormFinding(action, method, has_password, where, domain, score, reasons)
    scheme = target.split(":", 1)[0].lower() if ":" in target.split("/", 1)[0] else ""
    if scheme == "javascript":
        where = "script"
    elif scheme and scheme not in ("http", "https"):
        where = "other_domain"  # mailto: and the like send the form away
    else:
        where = "itself"
    return FormFinding(action, method, has_password, where, None, None, ())


def _link_finding(assessment: FileAssessment) -> FileFinding | None:
    """The riskiest link, scored by the scorer."""
    link = assessment.riskiest
    if link is None:
        return None
    return FileFinding(
        "file_risky_link",
        link.score,
        (f"{link.place} to {link.domain}", *link.reasons[:_REASONS_KEPT]),
        {
            "url": link.url,
            "where": link.where,
            "links": len(assessment.links),
            "file_kind": assessment.extraction.kind,
        },
    )


def _form_finding_of(
    assessment: FileAssessment, rules: FindingRules
) -> FileFinding | None:
    """The most suspicious password form of the file, if any."""
    best: tuple[float, tuple[str, ...], FormFinding] | None = None
    for form in assessment.forms:
        if not form.has_password:
            continue
        score, reasons = _judge_form(form, rules)
        if best is None or score > best[0]:
            best = (score, reasons, form)
    if best is None:
        return None
    score, reasons, form = best
    in_data_url = _DATA_URL_FORM in assessment.extraction.flags
    if in_data_url:
        score = max(score, rules.cross_domain_score)
        reasons = (
            "a data: URL in the file holds a page with a password form, a login "
            "page that no web host serves (a phishing lure)",
            *reasons,
        )
    evidence = {
        "action": form.action,
        "destination": form.destination,
        "password_forms": sum(f.has_password for f in assessment.forms),
        "in_data_url": in_data_url,
        "file_kind": assessment.extraction.kind,
    }
    return FileFinding("file_credential_form", score, reasons, evidence)


def _judge_form(
    form: FormFinding, rules: FindingRules
) -> tuple[float, tuple[str, ...]]:
    """Score one password form by where it sends the password."""
    risky = form.score or 0.0
    if form.destination == "other_domain":
        if form.domain:
            first = f"password form posts to {form.domain}, another registrable domain"
        else:
            scheme = (form.action or "").split(":", 1)[0].lower()[:20]
            first = f"password form sends to a {scheme}: address, off the platform"
        reasons = (first, *form.reasons[:_REASONS_KEPT])
        return max(rules.cross_domain_score, risky), reasons
    if form.destination == "platform":
        if risky < rules.min_score:
            return 0.0, ()
        reasons = (
            f"password form posts to a risky URL on {form.domain}",
            *form.reasons[:_REASONS_KEPT],
        )
        return risky, reasons
    how = "submits to a script" if form.destination == "script" else "has no action"
    return rules.self_post_score, (
        f"password form {how}: an uploaded page cannot receive a password "
        "itself, so a script would send it elsewhere (a phishing-kit pattern)",
    )


def _lure_finding(
    assessment: FileAssessment, rules: FindingRules
) -> FileFinding | None:
    """A file whose links all go to one external site, weighed with the riskiest."""
    link = assessment.lure_link
    if link is None:
        return None
    links = assessment.lure_links
    prior = rules.lure_prior
    what = _KIND_WORDS.get(assessment.extraction.kind, "file")
    if len(links) == 1:
        first = (
            f"the {place_of(link.where)} to {link.domain} is the only URL in the {what}"
        )
    else:
        count = f"{len(links)}+" if assessment.cut_by_url_limit else str(len(links))
        first = f"all {count} URLs in the {what} go to one site, {link.domain}"
    reasons = [first]
    acting = next((f.text for f in links if f.text and _LURE_TEXT.search(f.text)), None)
    if acting:
        prior = min(1.0, prior + _LURE_TEXT_BONUS)
        reasons.append(f"the link text asks the reader to act: {acting[:60]!r}")
    if assessment.cut_by_nesting:
        reasons.append("pages nested in the file past the reading limits were not read")
    score = 1.0 - (1.0 - prior) * (1.0 - link.score)
    reasons.extend(link.reasons[:2])
    evidence = {
        "url": link.url,
        "where": link.where,
        "link_score": round(link.score, 4),
        "links": len(links),
        "file_kind": assessment.extraction.kind,
    }
    return FileFinding("file_lure_document", score, tuple(reasons), evidence)


def _evasive_cut(extraction: Extraction) -> tuple[str, str] | None:
    """The first error that says evasion's kind of limit cut the file short.

    Returns the error and the reason in words, or ``None``. Limits ordinary
    files reach (the work budget, the PDF page limit, large PDF, zip or text
    files, zips of many entries, heavy PDF pages) are not evasion's.
    """
    for error in extraction.errors:
        code, _, detail = error.partition(": ")
        why = _EVASIVE_ERRORS.get(code)
        if code == "too_large" and extraction.kind == "html":
            why = "an HTML page padded past the size limit"
        elif code == "html_limit" and len(extraction.urls) < MAX_URLS:
            why = "a page with more tags than any ordinary page"
        elif code == "zip_part_refused" and "zip bomb" in detail:
            why = "an archive member that inflates like a decompression bomb"
        elif code.startswith("pdf_") and "LimitReachedError" in detail:
            why = "a PDF stream that inflates like a decompression bomb"
        elif code.startswith("pdf_") and "cyclic" in detail.lower():
            why = "a PDF whose page references loop"
        if why:
            return error, why
    return None


def _evasive_finding(
    assessment: FileAssessment, rules: FindingRules
) -> FileFinding | None:
    """A file cut short by a limit that benign files rarely reach."""
    extraction = assessment.extraction
    cut = _evasive_cut(extraction)
    if cut is None:
        return None
    error, why = cut
    what = _KIND_WORDS.get(extraction.kind, "file")
    reason = (
        f"the {what} was cut short by {why}, a shape that hides content from "
        "scanners: not known clean"
    )
    evidence = {
        "error": error[:300],
        "errors": list(extraction.errors[:5]),
        "urls_read": len(extraction.urls),
        "file_kind": extraction.kind,
    }
    return FileFinding("file_evasive_shape", rules.evasive_score, (reason,), evidence)


def _unreadable_finding(
    assessment: FileAssessment, rules: FindingRules
) -> FileFinding | None:
    """A file of a known format that gave nothing but errors."""
    extraction = assessment.extraction
    errors = [
        e for e in extraction.errors if e.split(":", 1)[0] not in _HARMLESS_ERRORS
    ]
    if not errors or extraction.urls or extraction.forms:
        return None
    what = _KIND_WORDS.get(extraction.kind, "file")
    if "encrypted" in extraction.flags:
        reason = f"the {what} is locked with a password; its content was not checked"
    else:
        reason = f"the {what} could not be read ({errors[0].split(':', 1)[0]})"
    evidence = {"errors": errors[:5], "file_kind": extraction.kind}
    return FileFinding("file_unreadable", rules.unreadable_score, (reason,), evidence)
