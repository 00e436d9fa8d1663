"""The console's pages without a browser: escaping, defanging, times, paging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi import HTTPException

from trustwatch.api import console
from trustwatch.api.console import (
    ActionRow,
    CaseView,
    QueueFilters,
    Viewer,
    age_text,
    defang,
    utc_time,
)
from trustwatch.decisions.model import Action, Verdict
from trustwatch.detectors.base import IndicatorRef, Signal
from trustwatch.review.model import LABEL_KINDS, Case, CaseQuery

NOW = datetime(2026, 11, 5, 12, tzinfo=UTC)
HOSTILE = '<img src=x onerror=alert(1)>"'
URL = "https://phish.example.net/login?u=1"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (URL, "hxxps[://]phish[.]example[.]net/login?u=1"),
        ("HTTP://A.example", "hxxP[://]A[.]example"),
        ("ftp://files.example.org/x", "ftp[://]files[.]example[.]org/x"),
        ("host evil.example.com looks bad", "host evil[.]example[.]com looks bad"),
        ("score 0.93 from 10.1.2.3", "score 0.93 from 10.1.2.3"),
        ("no domain here", "no domain here"),
    ],
)
def test_defang_makes_urls_and_domains_inert(raw: str, shown: str) -> None:
    assert defang(raw) == shown


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (NOW - timedelta(seconds=5), "5s ago"),
        (NOW - timedelta(minutes=3, seconds=59), "3m ago"),
        (NOW - timedelta(hours=5, minutes=50), "5h ago"),
        (NOW - timedelta(days=33, hours=23), "33d ago"),
        (NOW + timedelta(hours=2), "in 2h"),
        (None, ""),
    ],
)
def test_age_text_gives_the_largest_whole_unit(
    moment: datetime | None, text: str
) -> None:
    assert age_text(moment, NOW) == text


def test_utc_time_converts_zones_and_epoch_seconds() -> None:
    east = datetime(2026, 11, 5, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    assert utc_time(east) == "2026-11-05 12:30:00 UTC"
    assert utc_time(NOW.timestamp()) == "2026-11-05 12:00:00 UTC"
    assert utc_time(None) == ""


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("/console", True),
        ("/console?status=open&page=2", True),
        ("//evil.example/console", False),
        ("https://evil.example/console", False),
        ("/console\\@evil.example", False),
        ("/consolex", False),
        ("/console?x=1\r\nSet-Cookie: a=b", False),
    ],
)
def test_only_queue_pages_are_followed_after_a_post(url: str, safe: bool) -> None:
    assert console._is_console_path(url) is safe


def test_only_the_console_s_own_static_files_are_served() -> None:
    assert b"keydown" in console.static_file("console.js").body
    for name in ("../console.py", "templates", "console.css.map"):
        with pytest.raises(HTTPException) as raised:
            console.static_file(name)
        assert raised.value.status_code == 404


def _case(i: int, *, kinds: tuple[str, ...] = ("brute_force",), **more: Any) -> Case:
    values: dict[str, Any] = {
        "case_id": f"case-{i:05d}",
        "subject_type": "account",
        "subject": f"acct{i}",
        "status": "open",
        "priority": 10_000 - i,
        "score": 0.9,
        "decision": "challenge",
        "title": f"challenge acct{i}",
        "created_at": NOW,
        "updated_at": NOW,
        "first_seen": NOW,
        "last_seen": NOW,
        "kinds": kinds,
    }
    values.update(more)
    return Case(**values)


class CountingReviewStore:
    """Answers :meth:`cases` from a list, and counts what it was asked."""

    def __init__(self, cases: list[Case]) -> None:
        self.all = cases
        self.queries: list[CaseQuery] = []

    def cases(self, query: CaseQuery | None = None) -> list[Case]:
        query = query or CaseQuery()
        self.queries.append(query)
        kept = [c for c in self.all if query.kind is None or query.kind in c.kinds]
        return kept[query.offset : query.offset + query.limit]


def _filters(**changes: Any) -> QueueFilters:
    values: dict[str, Any] = {
        "status": "open",
        "assignee": None,
        "kind": None,
        "subject_type": None,
        "page": 1,
        "size": 50,
    }
    values.update(changes)
    return QueueFilters(**values)


def test_a_queue_page_reads_one_page_of_thousands_of_cases() -> None:
    store = CountingReviewStore([_case(i) for i in range(5000)])

    found = console._page_of_cases(store, _filters(page=3))

    assert [c.case_id for c in found.cases] == [
        f"case-{i:05d}" for i in range(100, 150)
    ]
    assert found.more
    assert [(q.limit, q.offset) for q in store.queries] == [(51, 100)]
    last = console._page_of_cases(store, _filters(page=100))
    assert len(last.cases) == 50 and not last.more


def test_a_kind_filter_is_one_read_of_one_page_in_the_store() -> None:
    cases = [
        _case(i, kinds=("intel_url",) if i % 100 == 0 else ("brute_force",))
        for i in range(20_000)
    ]
    store = CountingReviewStore(cases)

    found = console._page_of_cases(store, _filters(kind="intel_url", page=2))

    assert [c.case_id for c in found.cases] == [
        f"case-{i:05d}" for i in range(5000, 10_000, 100)
    ]
    assert found.more
    assert [(q.kind, q.limit, q.offset) for q in store.queries] == [
        ("intel_url", 51, 50)
    ]
    last = console._page_of_cases(store, _filters(kind="intel_url", page=4))
    assert len(last.cases) == 50 and not last.more


def test_queue_filters_round_trip_through_the_url() -> None:
    filters = _filters(assignee="ana", kind="intel_url", subject_type="ring", page=2)
    assert filters.query() == "status=open&assignee=ana&kind=intel_url&type=ring&page=2"
    assert filters.query(page=3, status=None).endswith("type=ring&page=3")


def _hostile_alert() -> Verdict:
    signal = Signal(
        detector="intel_match",
        detector_version="1",
        kind="intel_url",
        score=0.97,
        entity_type="url",
        entity=URL,
        event_id="e1",
        reasons=(f"posted {URL} {HOSTILE}",),
        indicators=(IndicatorRef(type="url", value=URL, feeds=("f",), confidence=9),),
    )
    return Verdict(
        verdict_id="v1",
        event_id="e1",
        event_type="share",
        ts=NOW,
        account=HOSTILE,
        ip="198.51.100.7",
        decision="lock_account",
        score=0.97,
        signals=(signal,),
        rules=(),
        policy="p@1",
    )


def _render_case(role: str) -> str:
    alert = _hostile_alert()
    action = Action(
        action_id="a1",
        verdict_id="v1",
        event_id="e1",
        type="disable_link",
        target_type="link",
        target=URL,
        mode="enforce",
        actor="policy:p@1#r",
        reason=f"intel match on {URL}",
        created_at=NOW,
    )
    case = _case(1, subject=HOSTILE, title=f"lock {HOSTILE}", accounts=(HOSTILE,))
    view = CaseView(
        alerts=[alert],
        missing=0,
        more=0,
        intel=[
            {
                "indicator": {
                    "type": "url",
                    "value": URL,
                    "feeds": ["f"],
                    "confidence": 9,
                },
                "signal_kind": "intel_url",
                "detector": "intel_match",
                "entity_type": "url",
                "entity": URL,
            }
        ],
        actions=[ActionRow(action, "dispatched", "")],
        rings=[],
    )
    return console._ENV.get_template("case.html").render(
        who=Viewer(name="ana", role=role, csrf="tok"),
        now=NOW,
        age=lambda moment: age_text(moment, NOW),
        path="/console/cases/case-00001",
        case=case,
        evidence=view,
        label_kinds=LABEL_KINDS,
        resolution_actions=("lock_account",),
        ring_picture=console.ring_picture,
        error=None,
    )


def test_a_case_page_escapes_names_and_defangs_every_url() -> None:
    page = _render_case("analyst")

    assert "<img" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;&#34;" in page
    assert "phish.example.net" not in page
    assert "hxxps[://]phish[.]example[.]net/login?u=1" in page
    assert "/console/accounts/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E%22" in page
    assert 'name="csrf_token" value="tok"' in page
    assert 'id="resolve-form"' in page


def test_a_viewer_s_case_page_has_no_forms_that_change_anything() -> None:
    page = _render_case("viewer")

    assert 'method="post" action="/console/cases' not in page
    assert 'id="resolve-form"' not in page
