"""The analyst web console: server-rendered pages over the review and decision stores.

Pages are rendered with Jinja2 (autoescaping on) and use two static files,
``console.css`` and ``console.js``, served by the app itself, so the strict
content security policy holds: no inline script, style or event handler, and
nothing loaded from another host.

Everything the data holds (account names, URLs, reasons, evidence) is
untrusted. It is escaped, and every value a template prints passes
:func:`trustwatch.text.visible_text` (the command line's rules), so control
characters, NUL and bidi overrides show as visible escapes. URLs and
domains are shown defanged (``hxxp``, ``[.]``) and never become links or
image sources; ring pictures are SVG drawn here from the stored
:class:`~trustwatch.graph.rings.RingSnapshot`, with evidence labelled
by kind and digest as in :mod:`trustwatch.evaluation.ring_pictures`. The
console fetches nothing the data names.

Pages are role-aware: a viewer sees no control the API would refuse. Changes
(assign, resolve, reverse) are plain form posts carrying the CSRF token, and
each is written to the audit log.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, cast
from urllib.parse import quote, urlencode

import jinja2
import msgspec
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from trustwatch.api import auth
from trustwatch.api.auth import Principal
from trustwatch.api.decisions import DecisionReader, VerdictFilter, account_actions
from trustwatch.api.ring_svg import render_ring_svg
from trustwatch.api.schemas import MAX_NOTE, note_reads_as_written, reads_as_written
from trustwatch.decisions.model import ACTION_SEVERITY, Action, Verdict
from trustwatch.errors import ConfigError, StorageError, TrustwatchError
from trustwatch.evaluation.ring_pictures import MAX_DRAWN_MEMBERS, evidence_label
from trustwatch.graph.entity_graph import attribute_kind
from trustwatch.graph.rings import RingSnapshot
from trustwatch.review.actions import (
    ANALYST_ACTIONS,
    ActionNotApplicable,
    applicable_actions,
    resolve_with_action,
)
from trustwatch.review.audit import taken_from
from trustwatch.review.cases import case_evidence
from trustwatch.review.model import (
    LABEL_KINDS,
    Case,
    CaseHeldError,
    CaseQuery,
    LabelKind,
    ReviewStore,
)
from trustwatch.review.store import SqlReviewStore
from trustwatch.text import note_lines, visible_text

__all__ = [
    "ERROR_MESSAGES",
    "age_text",
    "defang",
    "error_message",
    "ring_picture",
    "router",
    "shown",
    "utc_time",
]

log = logging.getLogger(__name__)

router = APIRouter()

#: Where the console's pages live.
PREFIX = "/console"
#: Cases per queue page, and the most a page may ask for.
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
#: The last queue page that may be asked for (a million cases in at most).
MAX_PAGE = 1_000_000 // PAGE_SIZE
#: Alerts shown on a case page, and events on an account timeline.
MAX_CASE_ALERTS = 100
MAX_TIMELINE = 300

_HERE = Path(__file__).parent
_STATIC_TYPES = {
    "console.css": "text/css; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
}
_ROLE_RANK = {"viewer": 0, "analyst": 1, "admin": 2}
_STATUSES = ("open", "assigned", "resolved")
_SUBJECT_TYPES = ("account", "ring", "link", "file", "ip")
#: What an analyst may do on resolving a case: the CLI's and the API's list.
_RESOLUTION_ACTIONS = tuple(ANALYST_ACTIONS)
#: Every type of action a policy or an analyst records, for the actions page.
_ACTION_TYPES = tuple(a for a in ACTION_SEVERITY if a != "allow")

# -- untrusted text -----------------------------------------------------------

_SCHEME = re.compile(r"\b(h)(tt)(ps?)(:)//", re.IGNORECASE)
_OTHER_SCHEME = re.compile(r"\b(ftp|wss?|file)://", re.IGNORECASE)
_HOST_DOT = re.compile(r"(?<=[A-Za-z0-9-])\.(?=[A-Za-z0-9-]*[A-Za-z][A-Za-z0-9-]*)")


def defang(text: object) -> str:
    """Return ``text`` with URLs and domain names made inert for display.

    ``https://evil.example/x`` becomes ``hxxps[://]evil[.]example/x``: no
    browser, chat client or mail reader turns the result into a link, and an
    analyst can still read and copy it (the intel loaders accept the form).
    Dots between letters become ``[.]``, so domain names inside reasons are
    defanged too; numbers such as ``0.93`` are left as they are.
    """
    value = str(text)
    value = _SCHEME.sub(lambda m: f"hxx{m.group(3)}[://]", value)
    value = _OTHER_SCHEME.sub(lambda m: f"{m.group(1)}[://]", value)
    return _HOST_DOT.sub("[.]", value)


def note_text(note: object) -> Markup:
    """Return an analyst's note as written: its line breaks kept as breaks,
    each line defanged and its other control characters escaped."""
    return Markup("<br>").join(
        visible_text(defang(line)) for line in note_lines(str(note))
    )


def utc_time(moment: datetime | float | None) -> str:
    """Return a moment as ``YYYY-MM-DD HH:MM:SS UTC`` (epoch seconds accepted)."""
    if moment is None:
        return ""
    if isinstance(moment, int | float):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def age_text(moment: datetime | float | None, now: datetime) -> str:
    """Return how long ago ``moment`` was, in the largest whole unit ("3h ago")."""
    if moment is None:
        return ""
    if isinstance(moment, int | float):
        moment = datetime.fromtimestamp(moment, UTC)
    seconds = (now - moment).total_seconds()
    ahead = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            amount = f"{int(seconds // size)}{unit}"
            break
    else:
        amount = f"{int(seconds)}s"
    return f"in {amount}" if ahead else f"{amount} ago"


def _path_part(value: object) -> str:
    """Quote one untrusted value for use as a path segment of a console link."""
    return quote(str(value), safe="")


def shown(value: object) -> object:
    """Make a value a template prints visible: escape its control characters.

    Markup the console drew itself (ring pictures, macros) is left as it is;
    any other text passes :func:`~trustwatch.text.visible_text`.
    """
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return visible_text(value)


def _environment() -> jinja2.Environment:
    """The template environment: autoescape everywhere, undefined names fail.

    Every printed value passes :func:`shown` (Jinja's ``finalize``), so no
    template can forget it; ``visible`` is the same rule as a filter.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=shown,
    )
    env.filters["visible"] = visible_text
    env.filters["defang"] = defang
    env.filters["note_text"] = note_text
    env.filters["utc"] = utc_time
    env.filters["utc_short"] = lambda moment: utc_time(moment)[:16]
    env.filters["part"] = _path_part
    env.globals["prefix"] = PREFIX
    return env


_ENV = _environment()

# -- who is asking ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in person as the pages need them: name, role and CSRF token."""

    name: str
    role: str
    csrf: str

    def can(self, role: str) -> bool:
        """Return whether this person holds ``role`` or a higher one."""
        return _ROLE_RANK.get(self.role, -1) >= _ROLE_RANK[role]


def _viewer(request: Request, principal: Principal) -> Viewer:
    return Viewer(
        name=principal.name, role=principal.role, csrf=auth.csrf_token(request)
    )


async def _page_viewer(request: Request) -> Principal:
    """Let a viewer through; send a browser that is not signed in to sign in."""
    try:
        principal: Principal = await auth.require_viewer(request)
    except HTTPException as exc:
        if exc.status_code != 401:
            raise
        raise HTTPException(
            status_code=303, headers={"Location": PREFIX + "/login"}
        ) from exc
    return principal


PageViewer = Annotated[Principal, Depends(_page_viewer)]
Analyst = Annotated[Principal, Depends(auth.require_analyst)]


def _reader(request: Request) -> DecisionReader:
    reader: DecisionReader = request.app.state.reader
    return reader


def _now(request: Request) -> datetime:
    """The time pages measure ages from (a test may set ``app.state.clock``)."""
    clock: Callable[[], datetime] | None = getattr(request.app.state, "clock", None)
    return clock() if clock is not None else datetime.now(UTC)


def _render(
    request: Request,
    template: str,
    who: Viewer | None,
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    now = _now(request)
    page = _ENV.get_template(template).render(
        who=who,
        now=now,
        age=lambda moment: age_text(moment, now),
        path=request.url.path,
        **values,
    )
    return HTMLResponse(page, status_code=status)


def _not_found(request: Request, who: Viewer, message: str) -> HTMLResponse:
    """A 404 page inside the console's layout."""
    return _render(request, "error.html", who, status=404, code=404, message=message)


def invalid_address_page(
    request: Request, problems: list[dict[str, Any]]
) -> HTMLResponse:
    """A 422 page for a console address whose query the page cannot use
    (``?page=abc``); it names the parameter and why, never the value."""
    named = "; ".join(
        f"{p['loc'][-1] if p['loc'] else 'address'}: {p['msg']}" for p in problems[:3]
    )
    message = f"This page's address holds a value it cannot use ({named})."
    return _render(request, "error.html", None, status=422, code=422, message=message)


def _is_console_path(url: str) -> bool:
    """Return whether ``url`` is a console page on this host (safe to go back to)."""
    return (url == PREFIX or url.startswith(PREFIX + "?")) and not any(
        c in url for c in "\\\r\n"
    )


def _back_to(url: str) -> RedirectResponse:
    """Answer a form post with a redirect (303), so reloading repeats nothing."""
    return RedirectResponse(url, status_code=303)


# -- static files and sign-in -------------------------------------------------


@router.get(PREFIX + "/static/{name}", include_in_schema=False)
def static_file(name: str) -> Response:
    """Serve one of the console's own static files (nothing else is reachable)."""
    media_type = _STATIC_TYPES.get(name)
    if media_type is None:
        raise HTTPException(status_code=404, detail="no such file")
    body = (_HERE / "static" / name).read_bytes()
    return Response(
        body, media_type=media_type, headers={"Cache-Control": "max-age=300"}
    )


@router.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    """The service's front page is the console's queue."""
    return RedirectResponse(PREFIX, status_code=303)


@router.get(PREFIX + "/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request, failed: int = 0) -> HTMLResponse:
    """The sign-in form: an API token, posted to ``/login``."""
    return _render(
        request, "login.html", None, failed=bool(failed), csrf=auth.csrf_token(request)
    )


# -- the queue ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueFilters:
    """The queue's filters and page, as kept in the URL."""

    status: str | None
    assignee: str | None
    kind: str | None
    subject_type: str | None
    page: int
    size: int

    def query(self, **changes: Any) -> str:
        """Return the URL query for these filters with ``changes`` applied."""
        values = {
            "status": self.status,
            "assignee": self.assignee,
            "kind": self.kind,
            "type": self.subject_type,
            "page": self.page if self.page > 1 else None,
            "size": self.size if self.size != PAGE_SIZE else None,
        }
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v not in (None, "")})


def _queue_filters(
    status: str | None,
    assignee: str | None,
    kind: str | None,
    subject_type: str | None,
    page: int,
    size: int,
) -> QueueFilters:
    if status == "any":
        status = None
    elif status is not None and status not in _STATUSES:
        raise HTTPException(status_code=422, detail=f"unknown status {status!r}")
    if subject_type is not None and subject_type not in _SUBJECT_TYPES:
        raise HTTPException(
            status_code=422, detail=f"unknown case type {subject_type!r}"
        )
    return QueueFilters(
        status=status,
        assignee=assignee or None,
        kind=kind or None,
        subject_type=subject_type or None,
        page=min(max(page, 1), MAX_PAGE),
        size=min(max(size, 1), MAX_PAGE_SIZE),
    )


@dataclass(frozen=True, slots=True)
class QueuePage:
    """One page of the queue; ``more`` says another page follows."""

    cases: list[Case]
    more: bool


def _page_of_cases(review: ReviewStore, filters: QueueFilters) -> QueuePage:
    """Read one page of the queue, never the whole queue.

    The store filters by status, assignee, subject type and signal kind, and
    pages: one read of the page and one case more, to tell whether another
    page follows.
    """
    query = CaseQuery(
        status=cast(Any, filters.status),
        assignee=filters.assignee,
        subject_type=cast(Any, filters.subject_type),
        kind=filters.kind,
        limit=filters.size + 1,
        offset=(filters.page - 1) * filters.size,
    )
    found = review.cases(query)
    return QueuePage(found[: filters.size], len(found) > filters.size)


@router.get(PREFIX, response_class=HTMLResponse, include_in_schema=False)
def queue_page(
    request: Request,
    principal: PageViewer,
    status: str | None = "open",
    assignee: str | None = None,
    kind: str | None = None,
    type: str | None = None,
    page: int = 1,
    size: int = PAGE_SIZE,
) -> HTMLResponse:
    """The queue: cases by priority, filtered and paged through the URL."""
    who = _viewer(request, principal)
    filters = _queue_filters(status, assignee, kind, type, page, size)
    found = _page_of_cases(request.app.state.review, filters)
    return _render(
        request,
        "queue.html",
        who,
        cases=found.cases,
        filters=filters,
        more=found.more,
        statuses=_STATUSES,
        subject_types=_SUBJECT_TYPES,
        first_rank=(filters.page - 1) * filters.size,
    )


# -- a case ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActionRow:
    """An action with its dispatch state, when a ledger is kept."""

    action: Action
    state: str
    detail: str


@dataclass(frozen=True, slots=True)
class CaseView:
    """What a case page shows of :func:`~trustwatch.review.cases.case_evidence`."""

    alerts: list[Verdict]
    missing: int
    more: int
    intel: list[dict[str, Any]]
    actions: list[ActionRow]
    rings: list[RingSnapshot]


def _action_rows(
    actions: Iterable[Action], dispatch: dict[str, dict[str, Any]], ledger: bool
) -> list[ActionRow]:
    """Pair actions with the dispatch state the ledger holds for them."""
    rows = []
    for action in actions:
        record = dispatch.get(action.action_id)
        if action.mode != "enforce":
            rows.append(ActionRow(action, action.mode, "recorded, never sent"))
        elif record is not None:
            rows.append(
                ActionRow(action, record["state"], record.get("last_error") or "")
            )
        elif ledger:
            rows.append(ActionRow(action, "pending", "no dispatcher has taken it in"))
        else:
            rows.append(ActionRow(action, "unknown", "no dispatch ledger is kept"))
    return rows


def _dispatch_rows(request: Request, actions: Iterable[Action]) -> list[ActionRow]:
    """Read the dispatch state of enforced actions and pair them up."""
    ledger = getattr(request.app.state, "ledger", None)
    listed = list(actions)
    dispatch: dict[str, dict[str, Any]] = {}
    if ledger is not None:
        for action in listed:
            record = (
                ledger.record(action.action_id) if action.mode == "enforce" else None
            )
            if record is not None:
                dispatch[action.action_id] = dataclasses.asdict(record)
    return _action_rows(listed, dispatch, ledger is not None)


def _gather_evidence(request: Request, case: Case) -> CaseView:
    """Gather a case's newest alerts, intel, actions and rings in one read.

    :func:`~trustwatch.review.cases.case_evidence` does the gathering; the
    case is cut to its newest ``MAX_CASE_ALERTS`` alerts first, so a case of
    thousands of alerts costs a bounded number of reads.
    """
    shown = msgspec.structs.replace(
        case, verdict_ids=case.verdict_ids[-MAX_CASE_ALERTS:]
    )
    ledger = getattr(request.app.state, "ledger", None)
    evidence = case_evidence(shown, request.app.state.decisions, ledger=ledger)
    return CaseView(
        alerts=list(evidence.verdicts),
        missing=len(evidence.missing_verdicts),
        more=len(case.verdict_ids) - len(shown.verdict_ids),
        intel=list(evidence.intel_matches),
        actions=_action_rows(evidence.actions, evidence.dispatch, ledger is not None),
        rings=[RingSnapshot.from_json(ring) for ring in evidence.rings],
    )


def _case_or_404(review: ReviewStore, case_id: str) -> Case:
    case = review.case(case_id)
    if case is None:
        raise HTTPException(status_code=404, detail="no such case")
    return case


#: The messages a console page may show for ``?error=CODE``; a page never
#: shows text taken from its URL.
ERROR_MESSAGES = {
    "assign": "The case could not be assigned.",
    "assignee": "Cases go to analysts: that name is no analyst's token, or "
    "holds the viewer role.",
    "held": "Another analyst holds this case: they can hand it back, or an "
    "admin can take it over.",
    "resolve": "The case could not be resolved.",
    "label": "Choose one of the listed labels.",
    "action": "Choose one of the listed actions.",
    "note": "The note holds control or format characters: write it as it should read.",
    "action_subject": "That action cannot act on this case's subject: choose "
    "one for its subject, or resolve without an action.",
    "benign_action": "A case labelled benign takes no action: resolve it "
    "without one, or choose the abuse label the action answers.",
    "unavailable": "A store is unavailable: the case was left unresolved. Try again.",
    "reverse": "The action could not be reversed.",
}
_UNKNOWN_ERROR = "The change could not be made."


def error_message(code: str | None) -> str | None:
    """Return the message for an ``error`` code of a page's URL, or ``None``.

    Unknown codes get one generic message: a crafted link cannot make the
    console say anything it did not write itself.
    """
    if not code:
        return None
    return ERROR_MESSAGES.get(code, _UNKNOWN_ERROR)


def _case_url(case_id: str, error: str | None = None) -> str:
    url = f"{PREFIX}/cases/{_path_part(case_id)}"
    return url + "?" + urlencode({"error": error}) if error else url


@router.get(
    PREFIX + "/cases/{case_id}", response_class=HTMLResponse, include_in_schema=False
)
def case_page(request: Request, case_id: str, principal: PageViewer) -> HTMLResponse:
    """One case: header, the assign and resolve forms, and all its evidence."""
    who = _viewer(request, principal)
    case = request.app.state.review.case(case_id)
    if case is None:
        return _not_found(request, who, "No case has this id.")
    return _render(
        request,
        "case.html",
        who,
        case=case,
        evidence=_gather_evidence(request, case),
        label_kinds=LABEL_KINDS,
        resolution_actions=applicable_actions(case.subject_type),
        ring_picture=ring_picture,
        error=error_message(request.query_params.get("error")),
    )


@router.post(PREFIX + "/cases/{case_id}/assign", include_in_schema=False)
def assign_case_form(
    request: Request,
    case_id: str,
    principal: Analyst,
    assignee: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> RedirectResponse:
    """Assign a case: to the person asking when empty, back to the queue on ``-``.

    Answers with a redirect to ``next`` when it is a queue page (so the
    queue's filters survive), else to the case.
    """
    review: ReviewStore = request.app.state.review
    before = _case_or_404(review, case_id)
    target = None if assignee == "-" else (assignee.strip() or principal.name)
    if target is not None and not reads_as_written(target):
        return _back_to(_case_url(case_id, "assign"))
    if target is not None:
        try:
            target = request.app.state.auth.assignee(target)
        except ConfigError:
            return _back_to(_case_url(case_id, "assignee"))
    try:
        review.assign(
            case_id, target, by=principal.name, take_over=principal.allows("admin")
        )
    except CaseHeldError:
        return _back_to(_case_url(case_id, "held"))
    except TrustwatchError:
        return _back_to(_case_url(case_id, "assign"))
    detail: dict[str, object] = {
        "assignee": target,
        **(taken_from(before, principal.name) if before.assignee != target else {}),
    }
    auth.audit(request, principal, "assign", "case", case_id, detail)
    return _back_to(next if _is_console_path(next) else _case_url(case_id))


@router.post(PREFIX + "/cases/{case_id}/resolve", include_in_schema=False)
def resolve_case_form(
    request: Request,
    case_id: str,
    principal: Analyst,
    label: Annotated[str, Form()],
    action: Annotated[str, Form()] = "",
    note: Annotated[str, Form(max_length=MAX_NOTE)] = "",
) -> RedirectResponse:
    """Resolve a case with a label and, optionally, the action taken; audited.

    The label is stored with the features the case's alerts carried, for
    training; an action is checked against the case's subject before the
    case changes, then recorded in the decision store in ``enforce`` mode
    (:func:`~trustwatch.review.actions.resolve_with_action`); the case's page
    lists them.
    """
    review: SqlReviewStore = request.app.state.review
    before = _case_or_404(review, case_id)
    if label not in LABEL_KINDS:
        return _back_to(_case_url(case_id, "label"))
    if action == "none":
        action = ""
    if action and action not in _RESOLUTION_ACTIONS:
        return _back_to(_case_url(case_id, "action"))
    if not note_reads_as_written(note):
        return _back_to(_case_url(case_id, "note"))
    try:
        _, given, taken = resolve_with_action(
            review,
            case_id,
            label=cast(LabelKind, label),
            analyst=principal.name,
            action=action or None,
            write_actions=lambda actions: _write_actions(request, actions),
            decisions=request.app.state.decisions,
            note=note.strip(),
            take_over=principal.allows("admin"),
        )
    except ActionNotApplicable:
        benign = label == "benign" and bool(action)
        return _back_to(
            _case_url(case_id, "benign_action" if benign else "action_subject")
        )
    except CaseHeldError:
        return _back_to(_case_url(case_id, "held"))
    except StorageError:
        return _back_to(_case_url(case_id, "unavailable"))
    except TrustwatchError:
        return _back_to(_case_url(case_id, "resolve"))
    auth.audit(
        request,
        principal,
        "resolve",
        "case",
        case_id,
        {
            "label": label,
            "action": action or None,
            "label_id": given.label_id,
            "actions": [a.action_id for a in taken],
            **taken_from(before, principal.name),
        },
    )
    return _back_to(PREFIX)


def _write_actions(request: Request, actions: Iterable[Action]) -> None:
    """Record analysts' actions through a short-lived writable store handle."""
    store = request.app.state.open_writable_decisions()
    try:
        store.write_actions(actions)
    finally:
        store.close()


# -- an account's timeline ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One line of an account's timeline: a decided event, an action, a case."""

    at: datetime
    what: str
    verdict: Verdict | None = None
    action: ActionRow | None = None
    case: Case | None = None


def _timeline(
    verdicts: Sequence[Verdict], actions: Sequence[ActionRow], cases: Sequence[Case]
) -> list[TimelineEntry]:
    """Merge an account's records into one list, newest first."""
    entries = [TimelineEntry(v.ts, "event", verdict=v) for v in verdicts]
    entries += [TimelineEntry(r.action.created_at, "action", action=r) for r in actions]
    entries += [TimelineEntry(c.created_at, "case", case=c) for c in cases]
    entries += [
        TimelineEntry(c.resolved_at, "label", case=c)
        for c in cases
        if c.resolved_at is not None and c.label is not None
    ]
    entries.sort(key=lambda e: (e.at, e.what), reverse=True)
    return entries


@router.get(
    PREFIX + "/accounts/{account:path}",
    response_class=HTMLResponse,
    include_in_schema=False,
)
def account_page(request: Request, account: str, principal: PageViewer) -> HTMLResponse:
    """An account's timeline: decided events, actions, cases and labels."""
    who = _viewer(request, principal)
    reader = _reader(request)
    verdicts = reader.verdicts(
        VerdictFilter(account=account, alerts_only=False, limit=MAX_TIMELINE)
    )
    cases = request.app.state.review.cases(CaseQuery(account=account, limit=50))
    actions = _dispatch_rows(request, account_actions(reader, account, verdicts, cases))
    return _render(
        request,
        "account.html",
        who,
        account=account,
        entries=_timeline(verdicts, actions, cases),
        capped=len(verdicts) >= MAX_TIMELINE,
        cases=cases,
        rings=reader.rings(min_risk=0.0, account=account, limit=10),
    )


# -- a ring -------------------------------------------------------------------


def ring_picture(ring: RingSnapshot) -> Markup:
    """Return the ring's SVG picture, ready to place inline in a page.

    :func:`trustwatch.api.ring_svg.render_ring_svg` escapes every text it
    draws and writes no script, link or external reference, so its output is
    marked safe as it is.
    """
    return Markup(render_ring_svg(ring))


@router.get(
    PREFIX + "/rings/{ring_id}", response_class=HTMLResponse, include_in_schema=False
)
def ring_page(request: Request, ring_id: str, principal: PageViewer) -> HTMLResponse:
    """A ring: its picture, reasons, members and shared evidence."""
    who = _viewer(request, principal)
    ring = _reader(request).ring(ring_id)
    if ring is None:
        return _not_found(request, who, "No stored ring has this id.")
    evidence = [(evidence_label(a), attribute_kind(a), n) for a, n in ring.evidence]
    return _render(
        request,
        "ring.html",
        who,
        ring=ring,
        picture=ring_picture(ring),
        evidence=evidence,
        drawn=min(len(ring.members), MAX_DRAWN_MEMBERS),
    )


# -- actions and the audit log ------------------------------------------------


@router.get(PREFIX + "/actions", response_class=HTMLResponse, include_in_schema=False)
def actions_page(
    request: Request,
    principal: PageViewer,
    state: str | None = None,
    type: str | None = None,
    limit: int = 100,
) -> HTMLResponse:
    """Enforced actions with their dispatch state; analysts may reverse them."""
    who = _viewer(request, principal)
    ledger = getattr(request.app.state, "ledger", None)
    rows: Sequence[tuple[Any, Action]] = []
    if ledger is not None:
        rows = ledger.listing(
            state=state or None, action_type=type or None, limit=min(max(limit, 1), 500)
        )
    return _render(
        request,
        "actions.html",
        who,
        rows=rows,
        ledger=ledger is not None,
        state=state or "",
        action_type=type or "",
        states=("pending", "held", "dispatched", "failed", "reversed", "expired"),
        types=_ACTION_TYPES,
        error=error_message(request.query_params.get("error")),
    )


@router.post(PREFIX + "/actions/{action_id}/reverse", include_in_schema=False)
def reverse_action_form(
    request: Request,
    action_id: str,
    principal: Analyst,
    reason: Annotated[str, Form(max_length=500)],
) -> RedirectResponse:
    """Reverse an enforced action by hand, with a reason; audited."""
    from trustwatch.response.dispatch import reverse_action

    ledger = getattr(request.app.state, "ledger", None)
    if ledger is None:
        raise HTTPException(status_code=409, detail="no dispatch ledger is kept")
    if not reads_as_written(reason):
        return _back_to(f"{PREFIX}/actions?" + urlencode({"error": "reverse"}))
    try:
        outcome = reverse_action(
            ledger, action_id, principal.name, reason, _now(request)
        )
    except TrustwatchError:
        return _back_to(f"{PREFIX}/actions?" + urlencode({"error": "reverse"}))
    auth.audit(
        request,
        principal,
        "reverse",
        "action",
        action_id,
        {"reason": reason, "outcome": outcome},
    )
    return _back_to(f"{PREFIX}/actions")


@router.get(PREFIX + "/audit", response_class=HTMLResponse, include_in_schema=False)
def audit_page(
    request: Request, principal: PageViewer, actor: str | None = None, limit: int = 200
) -> HTMLResponse:
    """The audit log, newest first (admins only; others get a 403 page)."""
    who = _viewer(request, principal)
    if not principal.allows("admin"):
        return _render(
            request,
            "error.html",
            who,
            status=403,
            code=403,
            message="The audit log is for admins.",
        )
    entries = request.app.state.review.audit_log(
        actor=actor or None, limit=min(max(limit, 1), 1000)
    )
    return _render(request, "audit.html", who, entries=entries, actor=actor or "")
